//! Prometheus relabelling (`relabel_configs`, `metric_relabel_configs`).
//!
//! [`RelabelConfig`] deserializes Prometheus' snake_case keys (`source_labels`, `separator`,
//! `regex`, `target_label`, `replacement`, `modulus`, `action`) and their kebab-case aliases.
//! Regexes are anchored (`^(?:…)$`) and compiled once, while the config is loaded, and every
//! cross-field rule Prometheus enforces is checked there too, so a bad rule is reported at
//! load time with the rule's problem named. [`process`] then applies the rules in order,
//! remembering each regex's recent results by input (relabelling sees the same values on every
//! refresh and scrape) and reusing per-thread buffers, so a rule allocates only what it adds:
//!
//! ```
//! use weir_engine::Labels;
//! use weir_engine::relabel::{RelabelConfig, process};
//!
//! let configs: Vec<RelabelConfig> = serde_json::from_str(r#"[
//!     {"source_labels": ["__meta_env"], "regex": "prod|test", "action": "keep"},
//!     {"source_labels": ["__address__"], "regex": "([^:]+):\\d+", "target_label": "host"}
//! ]"#).unwrap();
//! let labels = Labels::from([
//!     ("__address__".to_owned(), "10.0.0.1:9100".to_owned()),
//!     ("__meta_env".to_owned(), "prod".to_owned()),
//! ]);
//! let relabelled = process(labels, &configs).unwrap();
//! assert_eq!(relabelled["host"], "10.0.0.1");
//! ```

use std::collections::HashMap;
use std::collections::btree_map::Entry;
use std::fmt;
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use md5::{Digest, Md5};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::discovery::Labels;

const DEFAULT_SEPARATOR: &str = ";";
const DEFAULT_REGEX: &str = "(.*)";
const DEFAULT_REPLACEMENT: &str = "$1";

/// What a relabelling rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// Set `target_label` to the expanded `replacement` when `regex` matches (the default).
    Replace,
    /// Drop the label set unless `regex` matches the joined source values.
    Keep,
    /// Drop the label set when `regex` matches the joined source values.
    Drop,
    /// Drop the label set unless the joined source values equal `target_label`'s value.
    KeepEqual,
    /// Drop the label set when the joined source values equal `target_label`'s value.
    DropEqual,
    /// Set `target_label` to the md5 of the joined source values modulo `modulus`.
    HashMod,
    /// Copy every label whose name matches `regex` to the name given by `replacement`.
    LabelMap,
    /// Remove every label whose name matches `regex`.
    LabelDrop,
    /// Remove every label whose name does not match `regex`.
    LabelKeep,
    /// Set `target_label` to the lowercased joined source values.
    Lowercase,
    /// Set `target_label` to the uppercased joined source values.
    Uppercase,
}

impl Action {
    const ALL: [Action; 11] = [
        Action::Replace,
        Action::Keep,
        Action::Drop,
        Action::KeepEqual,
        Action::DropEqual,
        Action::HashMod,
        Action::LabelMap,
        Action::LabelDrop,
        Action::LabelKeep,
        Action::Lowercase,
        Action::Uppercase,
    ];

    /// The name Prometheus uses in configs.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }

    /// Parse an action name, case-insensitively as Prometheus does.
    pub fn parse(name: &str) -> Result<Action, RelabelError> {
        let lower = name.to_ascii_lowercase();
        Action::ALL
            .into_iter()
            .find(|action| action.as_str() == lower)
            .ok_or_else(|| RelabelError::UnknownAction(name.to_owned()))
    }

    fn needs_target_label(self) -> bool {
        matches!(
            self,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a relabelling rule was rejected at load time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RelabelError {
    /// The `action` is not one Prometheus knows.
    #[error(
        "unknown relabel action {0:?} (expected replace, keep, drop, keepequal, dropequal, hashmod, labelmap, labeldrop, labelkeep, lowercase or uppercase)"
    )]
    UnknownAction(String),
    /// The `regex` does not compile.
    #[error("invalid relabel regex {regex:?}: {reason}")]
    Regex {
        /// The regex as written.
        regex: String,
        /// What the regex compiler said.
        reason: String,
    },
    /// A rule breaks one of Prometheus' cross-field rules.
    #[error("relabel action {action}: {reason}")]
    Invalid {
        /// The rule's action.
        action: Action,
        /// What is wrong.
        reason: String,
    },
}

/// An anchored, compiled relabelling regex that remembers how it was written.
#[derive(Clone)]
pub struct RelabelRegex {
    source: String,
    compiled: Regex,
    /// A literal every match starts with (checked before running the regex engine).
    prefix: String,
    /// The regex is exactly `<prefix>(.+)`: group 1 is whatever follows the prefix.
    prefix_then_group: bool,
    /// The regex has no metacharacters: it matches exactly its own text.
    literal: bool,
    /// Recent capture results by input, shared by clones of this regex.
    cache: Arc<MatchCache>,
}

/// The capture spans of a whole-input match, one per group (`None`: the group took no part).
type Spans = Vec<Option<(usize, usize)>>;

/// Recent capture results of one regex by input. Relabelling sees the same values again and
/// again (every target on every discovery refresh, every series on every scrape), so a hit
/// skips the regex engine; vmagent's relabelling caches regex results the same way. Bounded:
/// it starts over when full.
#[derive(Default)]
struct MatchCache(Mutex<HashMap<Box<str>, Option<CachedSpans>>>);

/// [`Spans`] as stored in the cache.
type CachedSpans = Box<[Option<(usize, usize)>]>;

/// Inputs remembered per regex before its cache starts over.
const MATCH_CACHE_CAPACITY: usize = 4096;

impl RelabelRegex {
    /// Compile `source` anchored at both ends, as Prometheus does.
    pub fn new(source: &str) -> Result<RelabelRegex, RelabelError> {
        let compiled =
            Regex::new(&format!("^(?s:{source})$")).map_err(|error| RelabelError::Regex {
                regex: source.to_owned(),
                reason: error.to_string(),
            })?;
        Ok(RelabelRegex {
            source: source.to_owned(),
            compiled,
            prefix: literal_prefix(source),
            prefix_then_group: false,
            literal: !source.contains([
                '\\', '.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$',
            ]),
            cache: Arc::default(),
        })
        .map(|mut regex| {
            regex.prefix_then_group =
                !regex.prefix.is_empty() && source == format!("{}(.+)", regex.prefix);
            regex
        })
    }

    /// The regex as written in the config (without the anchors).
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the whole of `text` matches.
    pub fn is_match(&self, text: &str) -> bool {
        if self.literal {
            return text == self.source;
        }
        text.starts_with(&self.prefix) && self.compiled.is_match(text)
    }

    /// Match the whole of `text`, putting the capture spans into `spans`; false when it does
    /// not match.
    fn captures_into(&self, text: &str, spans: &mut Spans) -> bool {
        spans.clear();
        if !text.starts_with(&self.prefix) {
            return false;
        }
        // Another thread holding the cache never makes this one wait: it runs the regex.
        if let Ok(cache) = self.cache.0.try_lock() {
            if let Some(hit) = cache.get(text) {
                return match hit {
                    Some(found) => {
                        spans.extend_from_slice(found);
                        true
                    }
                    None => false,
                };
            }
        }
        let mut locations = self.compiled.capture_locations();
        let matched = self.compiled.captures_read(&mut locations, text).is_some();
        if matched {
            spans.extend((0..locations.len()).map(|idx| locations.get(idx)));
        }
        if let Ok(mut cache) = self.cache.0.try_lock() {
            if cache.len() >= MATCH_CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(
                text.into(),
                matched.then(|| spans.clone().into_boxed_slice()),
            );
        }
        matched
    }

    /// Go's `Regexp.Expand` (what Prometheus uses): `$name`, `${name}` and `$$` in
    /// `template` are replaced from a match of `haystack` with `spans`; a reference to a group
    /// that does not exist or took no part is empty, a malformed one is kept as text.
    fn expand(
        &self,
        template: &str,
        haystack: &str,
        spans: &[Option<(usize, usize)>],
        out: &mut String,
    ) {
        let mut rest = template;
        while let Some(dollar) = rest.find('$') {
            out.push_str(&rest[..dollar]);
            rest = &rest[dollar + 1..];
            if let Some(after) = rest.strip_prefix('$') {
                out.push('$');
                rest = after;
                continue;
            }
            let Some((name, after)) = reference(rest) else {
                out.push('$');
                continue;
            };
            rest = after;
            let group = group_number(name).or_else(|| {
                self.compiled
                    .capture_names()
                    .position(|group_name| group_name == Some(name))
            });
            if let Some(Some((start, end))) = group.and_then(|idx| spans.get(idx)) {
                out.push_str(&haystack[*start..*end]);
            }
        }
        out.push_str(rest);
    }

    fn is_default(&self) -> bool {
        self.source == DEFAULT_REGEX
    }
}

/// The name of a `$name` or `${name}` reference at the start of `text` (after the `$`) and
/// what follows it; `None` when malformed. Names are letters, digits and `_`, as in Go.
fn reference(text: &str) -> Option<(&str, &str)> {
    let (braced, body) = match text.strip_prefix('{') {
        Some(body) => (true, body),
        None => (false, text),
    };
    let end = body
        .char_indices()
        .find(|(_, c)| !(c.is_alphabetic() || c.is_numeric() || *c == '_'))
        .map_or(body.len(), |(idx, _)| idx);
    if end == 0 {
        return None;
    }
    let name = &body[..end];
    let rest = &body[end..];
    if braced {
        rest.strip_prefix('}').map(|rest| (name, rest))
    } else {
        Some((name, rest))
    }
}

/// A reference's group number as Go reads it: decimal digits, no leading zero, below 1e8.
fn group_number(name: &str) -> Option<usize> {
    if name.len() > 8 || (name.len() > 1 && name.starts_with('0')) {
        return None;
    }
    if !name.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

/// The literal every match of `source` (anchored) must start with; conservative: only plain
/// word characters before any regex syntax, none when there is an alternation anywhere, and
/// without a last character that a quantifier could make optional.
fn literal_prefix(source: &str) -> String {
    if source.contains('|') {
        return String::new();
    }
    let run = source
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(source.len());
    let mut prefix = &source[..run];
    if source[run..].starts_with(['*', '?', '{', '+']) && !prefix.is_empty() {
        prefix = &prefix[..prefix.len() - 1];
    }
    prefix.to_owned()
}

impl Default for RelabelRegex {
    fn default() -> Self {
        // The default regex is a constant that always compiles.
        RelabelRegex::new(DEFAULT_REGEX).expect("the default relabel regex compiles")
    }
}

impl fmt::Debug for RelabelRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.source, f)
    }
}

impl PartialEq for RelabelRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for RelabelRegex {}

/// One relabelling rule, with Prometheus' defaults and semantics.
///
/// Build it by deserializing (which validates) or with [`RelabelConfig::new`] and the public
/// fields followed by [`RelabelConfig::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawRelabelConfig", into = "RawRelabelConfig")]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator` to form the matched value.
    pub source_labels: Vec<String>,
    /// Joins the source values (default `;`).
    pub separator: String,
    /// Anchored regex (default `(.*)`).
    pub regex: RelabelRegex,
    /// The label written by replace, hashmod, lowercase and uppercase, or compared by
    /// keepequal and dropequal.
    pub target_label: String,
    /// The replacement template with `$1`, `${1}` or `${name}` references (default `$1`).
    pub replacement: String,
    /// The modulus of hashmod.
    pub modulus: u64,
    /// What the rule does (default replace).
    pub action: Action,
}

impl Default for RelabelConfig {
    fn default() -> Self {
        RelabelConfig::new(Action::Replace)
    }
}

impl RelabelConfig {
    /// A rule with the given action and Prometheus' defaults for everything else.
    pub fn new(action: Action) -> RelabelConfig {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: DEFAULT_SEPARATOR.to_owned(),
            regex: RelabelRegex::default(),
            target_label: String::new(),
            replacement: DEFAULT_REPLACEMENT.to_owned(),
            modulus: 0,
            action,
        }
    }

    /// Check the cross-field rules Prometheus enforces when it loads a config.
    pub fn validate(&self) -> Result<(), RelabelError> {
        let invalid = |reason: &str| {
            Err(RelabelError::Invalid {
                action: self.action,
                reason: reason.to_owned(),
            })
        };
        if self.action == Action::HashMod && self.modulus == 0 {
            return invalid("requires a non-zero 'modulus'");
        }
        if self.action.needs_target_label() && self.target_label.is_empty() {
            return invalid("requires a 'target_label'");
        }
        match self.action {
            Action::Replace => {
                if !self.target_label.contains('$') && !is_valid_label_name(&self.target_label) {
                    return Err(RelabelError::Invalid {
                        action: self.action,
                        reason: format!("{:?} is not a valid 'target_label'", self.target_label),
                    });
                }
            }
            Action::HashMod | Action::Lowercase | Action::Uppercase => {
                if !is_valid_label_name(&self.target_label) {
                    return Err(RelabelError::Invalid {
                        action: self.action,
                        reason: format!("{:?} is not a valid 'target_label'", self.target_label),
                    });
                }
            }
            Action::LabelDrop | Action::LabelKeep => {
                if !self.source_labels.is_empty()
                    || !self.target_label.is_empty()
                    || self.modulus != 0
                    || self.separator != DEFAULT_SEPARATOR
                    || self.replacement != DEFAULT_REPLACEMENT
                {
                    return invalid("takes only 'regex', and no other fields");
                }
            }
            Action::KeepEqual | Action::DropEqual => {
                if !self.regex.is_default()
                    || self.modulus != 0
                    || self.separator != DEFAULT_SEPARATOR
                    || self.replacement != DEFAULT_REPLACEMENT
                {
                    return invalid("takes only 'source_labels' and 'target_label'");
                }
                if !is_valid_label_name(&self.target_label) {
                    return Err(RelabelError::Invalid {
                        action: self.action,
                        reason: format!("{:?} is not a valid 'target_label'", self.target_label),
                    });
                }
            }
            Action::Keep | Action::Drop | Action::LabelMap => {}
        }
        Ok(())
    }
}

/// Check every rule at once; the errors name the rule's position (0-based).
pub fn validate_all(configs: &[RelabelConfig]) -> Result<(), Vec<String>> {
    let errors: Vec<String> = configs
        .iter()
        .enumerate()
        .filter_map(|(idx, config)| config.validate().err().map(|e| format!("rule {idx}: {e}")))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The wire form of [`RelabelConfig`]: Prometheus' keys, kebab-case aliases, optional fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelabelConfig {
    #[serde(
        default,
        alias = "source-labels",
        skip_serializing_if = "Vec::is_empty"
    )]
    source_labels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    separator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    regex: Option<String>,
    #[serde(
        default,
        alias = "target-label",
        skip_serializing_if = "Option::is_none"
    )]
    target_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replacement: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    modulus: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    action: Option<String>,
}

impl TryFrom<RawRelabelConfig> for RelabelConfig {
    type Error = RelabelError;

    fn try_from(raw: RawRelabelConfig) -> Result<Self, Self::Error> {
        let action = match raw.action.as_deref() {
            None => Action::Replace,
            Some(name) => Action::parse(name)?,
        };
        let mut config = RelabelConfig::new(action);
        config.source_labels = raw.source_labels;
        if let Some(separator) = raw.separator {
            config.separator = separator;
        }
        if let Some(regex) = raw.regex {
            config.regex = RelabelRegex::new(&regex)?;
        }
        if let Some(target_label) = raw.target_label {
            config.target_label = target_label;
        }
        if let Some(replacement) = raw.replacement {
            config.replacement = replacement;
        }
        config.modulus = raw.modulus.unwrap_or(0);
        config.validate()?;
        Ok(config)
    }
}

impl From<RelabelConfig> for RawRelabelConfig {
    fn from(config: RelabelConfig) -> Self {
        RawRelabelConfig {
            source_labels: config.source_labels,
            separator: Some(config.separator),
            regex: Some(config.regex.source),
            target_label: (!config.target_label.is_empty()).then_some(config.target_label),
            replacement: Some(config.replacement),
            modulus: (config.modulus != 0).then_some(config.modulus),
            action: Some(config.action.as_str().to_owned()),
        }
    }
}

/// Whether `name` is a valid Prometheus label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(first) if first.is_ascii_alphabetic() || first == b'_' => {}
        _ => return false,
    }
    bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

/// Apply `configs` in order; `None` means a keep/drop rule dropped the label set.
pub fn process(mut labels: Labels, configs: &[RelabelConfig]) -> Option<Labels> {
    if configs.is_empty() {
        return Some(labels);
    }
    SCRATCH.with(|scratch| {
        // A rule never calls back into `process`, so the borrow is never held twice; fall back
        // to fresh buffers rather than panic if that ever changes.
        let mut fresh = Scratch::default();
        let mut borrowed = scratch.try_borrow_mut();
        let scratch = match borrowed.as_deref_mut() {
            Ok(scratch) => scratch,
            Err(_) => &mut fresh,
        };
        for config in configs {
            if !apply(&mut labels, config, scratch) {
                return None;
            }
        }
        Some(labels)
    })
}

/// Buffers reused across rules and calls, so the hot path allocates only what it keeps.
#[derive(Default)]
struct Scratch {
    /// The joined source values of a rule with several source labels.
    joined: String,
    /// A value being built (replacement, hash bucket, copied value).
    value: String,
    /// Label names being built (target_label templates).
    name: String,
    /// Labels a labelmap rule adds (collected first: the map is not changed while read).
    mapped: Vec<(String, String)>,
    /// Capture spans of the current match.
    spans: Spans,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// The source values joined with the separator, borrowed when there is only one label.
fn joined_value<'a>(labels: &'a Labels, config: &RelabelConfig, buffer: &'a mut String) -> &'a str {
    match config.source_labels.as_slice() {
        [] => "",
        [only] => labels.get(only).map_or("", String::as_str),
        many => {
            buffer.clear();
            for (idx, name) in many.iter().enumerate() {
                if idx > 0 {
                    buffer.push_str(&config.separator);
                }
                if let Some(value) = labels.get(name) {
                    buffer.push_str(value);
                }
            }
            buffer
        }
    }
}

/// Whether a replacement is just group 1.
fn is_group_one(replacement: &str) -> bool {
    replacement == DEFAULT_REPLACEMENT || replacement == "${1}"
}

/// Set a label to a copy of `value`; like Prometheus' label builder an empty value removes
/// it. An existing label's string is reused.
fn set_label(labels: &mut Labels, name: &str, value: &str) {
    if value.is_empty() {
        labels.remove(name);
        return;
    }
    // One tree walk for a new label (the usual case: rules mostly add labels), at the price of
    // a name copy that is dropped when the label exists.
    match labels.entry(name.to_owned()) {
        Entry::Occupied(mut entry) => {
            let existing = entry.get_mut();
            if existing != value {
                existing.clear();
                existing.push_str(value);
            }
        }
        Entry::Vacant(entry) => {
            entry.insert(value.to_owned());
        }
    }
}

/// [`set_label`] with owned strings (nothing to copy).
fn set_label_owned(labels: &mut Labels, name: String, value: String) {
    if value.is_empty() {
        labels.remove(&name);
    } else {
        labels.insert(name, value);
    }
}

/// Apply one rule; false means drop the label set.
fn apply(labels: &mut Labels, config: &RelabelConfig, scratch: &mut Scratch) -> bool {
    let buffer = &mut scratch.joined;
    match config.action {
        Action::Keep => config.regex.is_match(joined_value(labels, config, buffer)),
        Action::Drop => !config.regex.is_match(joined_value(labels, config, buffer)),
        Action::KeepEqual | Action::DropEqual => {
            let value = joined_value(labels, config, buffer);
            let target = labels.get(&config.target_label).map_or("", String::as_str);
            (value == target) == (config.action == Action::KeepEqual)
        }
        Action::Replace => {
            replace(labels, config, scratch);
            true
        }
        Action::Lowercase => {
            let value = joined_value(labels, config, buffer).to_lowercase();
            set_label_owned(labels, config.target_label.clone(), value);
            true
        }
        Action::Uppercase => {
            let value = joined_value(labels, config, buffer).to_uppercase();
            set_label_owned(labels, config.target_label.clone(), value);
            true
        }
        Action::HashMod => {
            let digest = Md5::digest(joined_value(labels, config, buffer).as_bytes());
            let mut tail = [0u8; 8];
            tail.copy_from_slice(&digest[8..16]);
            // A zero modulus is rejected by validate(); skip the rule rather than divide by zero.
            if let Some(bucket) = u64::from_be_bytes(tail).checked_rem(config.modulus) {
                scratch.value.clear();
                push_decimal(&mut scratch.value, bucket);
                set_label(labels, &config.target_label, &scratch.value);
            }
            true
        }
        Action::LabelMap if config.regex.prefix_then_group && is_group_one(&config.replacement) => {
            // `prefix(.+)` mapped to `$1`, the usual labelmap: strip the prefix.
            let prefix = config.regex.prefix.as_str();
            let mapped = &mut scratch.mapped;
            mapped.clear();
            mapped.extend(
                labels
                    .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
                    .take_while(|(name, _)| name.starts_with(prefix))
                    .filter(|(name, _)| name.len() > prefix.len())
                    .map(|(name, value)| (name[prefix.len()..].to_owned(), value.clone())),
            );
            for (name, value) in mapped.drain(..) {
                set_label_owned(labels, name, value);
            }
            true
        }
        Action::LabelMap => {
            let Scratch { mapped, spans, .. } = scratch;
            mapped.clear();
            for (name, value) in labels.iter() {
                if config.regex.captures_into(name, spans) {
                    let mut new_name = String::new();
                    config
                        .regex
                        .expand(&config.replacement, name, spans, &mut new_name);
                    mapped.push((new_name, value.clone()));
                }
            }
            for (name, value) in mapped.drain(..) {
                set_label_owned(labels, name, value);
            }
            true
        }
        Action::LabelDrop => {
            labels.retain(|name, _| !config.regex.is_match(name));
            true
        }
        Action::LabelKeep => {
            labels.retain(|name, _| config.regex.is_match(name));
            true
        }
    }
}

/// Append `n` in decimal without going through `fmt`.
fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        // `n % 10` is a single digit, so the cast cannot truncate.
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &digit in &digits[start..] {
        out.push(char::from(digit));
    }
}

fn replace(labels: &mut Labels, config: &RelabelConfig, scratch: &mut Scratch) {
    let Scratch {
        joined,
        value: out,
        name,
        spans,
        ..
    } = scratch;
    let value = joined_value(labels, config, joined);
    // The most common rule copies a value as it is (default regex and replacement): the
    // expansion of `$1` over `(.*)` is the value itself, so skip the regex engine.
    if config.regex.is_default()
        && is_group_one(&config.replacement)
        && !config.target_label.contains('$')
    {
        out.clear();
        out.push_str(value);
        set_label(labels, &config.target_label, out);
        return;
    }
    if !config.regex.captures_into(value, spans) {
        return;
    }
    let target = if config.target_label.contains('$') {
        name.clear();
        config
            .regex
            .expand(&config.target_label, value, spans, name);
        if !is_valid_label_name(name) {
            return;
        }
        name.as_str()
    } else {
        config.target_label.as_str()
    };
    out.clear();
    if config.replacement.contains('$') {
        config.regex.expand(&config.replacement, value, spans, out);
    } else {
        out.push_str(&config.replacement);
    }
    set_label(labels, target, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn rules(json: &str) -> Vec<RelabelConfig> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn expansion_follows_go_and_agrees_with_the_regex_crate() {
        let regex = RelabelRegex::new(r"(?P<host>[^:]+):(\d+)(x)?").unwrap();
        let haystack = "web-1:9100";
        let mut spans = Vec::new();
        assert!(regex.captures_into(haystack, &mut spans));
        let expand = |template: &str| {
            let mut out = String::new();
            regex.expand(template, haystack, &spans, &mut out);
            out
        };
        let captures = regex.compiled.captures(haystack).unwrap();
        for template in [
            "$1",
            "${1}",
            "$1:$2",
            "${host}-${2}",
            "$host",
            "$$1",
            "a$",
            "$3",
            "$9",
            "${x",
            "$-",
            "${1}x",
            "plain",
            "$0",
            "$2$1",
            "",
        ] {
            let mut theirs = String::new();
            captures.expand(template, &mut theirs);
            assert_eq!(expand(template), theirs, "template {template:?}");
        }
        // Go reads `$1x` as the group named "1x" (there is none) and rejects leading zeros.
        assert_eq!(expand("$1x"), "");
        assert_eq!(expand("${01}"), "");
        // An empty name is malformed in Go (kept as text); the regex crate expands it to "".
        assert_eq!(expand("${}"), "${}");
        assert_eq!(expand("$h\u{e9}"), "");
    }

    #[test]
    fn cached_matches_give_the_same_answers() {
        let configs = rules(
            r#"[{"source_labels": ["a"], "regex": "(\\w+)-(\\d+)", "target_label": "b",
                 "replacement": "$2.$1"}]"#,
        );
        for round in 0..3 {
            for idx in 0..(MATCH_CACHE_CAPACITY + 10) {
                let input = format!("n{}-{idx}", idx % 7);
                let out = process(labels(&[("a", &input)]), &configs).unwrap();
                assert_eq!(
                    out.get("b").map(String::as_str),
                    Some(format!("{idx}.n{}", idx % 7).as_str()),
                    "round {round}"
                );
            }
            let out = process(labels(&[("a", "no match")]), &configs).unwrap();
            assert!(!out.contains_key("b"));
        }
        assert!(configs[0].regex.cache.0.lock().unwrap().len() <= MATCH_CACHE_CAPACITY);
    }

    #[test]
    fn literal_regexes_match_exactly() {
        let regex = RelabelRegex::new("true").unwrap();
        assert!(regex.literal);
        assert!(regex.is_match("true"));
        assert!(!regex.is_match("truex"));
        assert!(!regex.is_match("TRUE"));
        assert!(!RelabelRegex::new("t.ue").unwrap().literal);
        assert!(RelabelRegex::new("t.ue").unwrap().is_match("true"));
    }

    #[test]
    fn replace_with_defaults_copies_the_source() {
        let configs = rules(r#"[{"source_labels": ["a"], "target_label": "b"}]"#);
        let out = process(labels(&[("a", "x")]), &configs).unwrap();
        assert_eq!(out, labels(&[("a", "x"), ("b", "x")]));
    }

    #[test]
    fn replace_expands_groups_and_is_anchored() {
        let configs = rules(
            r#"[{"source_labels": ["__address__"], "regex": "(.+):(\\d+)",
                 "target_label": "host_${2}", "replacement": "${1}-$2"}]"#,
        );
        let out = process(labels(&[("__address__", "web:80")]), &configs).unwrap();
        assert_eq!(out.get("host_80").map(String::as_str), Some("web-80"));
        // Anchored: "eb" does not match the whole of "web".
        let configs = rules(r#"[{"source_labels": ["a"], "regex": "eb", "target_label": "b"}]"#);
        let out = process(labels(&[("a", "web")]), &configs).unwrap();
        assert!(!out.contains_key("b"));
    }

    #[test]
    fn replace_to_empty_deletes_and_invalid_target_is_skipped() {
        let configs =
            rules(r#"[{"source_labels": ["a"], "target_label": "b", "replacement": ""}]"#);
        let out = process(labels(&[("a", "x"), ("b", "old")]), &configs).unwrap();
        assert_eq!(out, labels(&[("a", "x")]));
        let configs = rules(r#"[{"source_labels": ["a"], "target_label": "$1"}]"#);
        let out = process(labels(&[("a", "1bad")]), &configs).unwrap();
        assert_eq!(out, labels(&[("a", "1bad")]));
    }

    #[test]
    fn replace_sets_a_constant_without_sources() {
        let configs = rules(r#"[{"target_label": "env", "replacement": "prod"}]"#);
        let out = process(Labels::new(), &configs).unwrap();
        assert_eq!(out, labels(&[("env", "prod")]));
    }

    #[test]
    fn joins_sources_with_separator_and_missing_as_empty() {
        let configs = rules(
            r#"[{"source_labels": ["a", "missing", "b"], "separator": "/", "target_label": "c"}]"#,
        );
        let out = process(labels(&[("a", "1"), ("b", "2")]), &configs).unwrap();
        assert_eq!(out["c"], "1//2");
    }

    #[test]
    fn keep_and_drop() {
        let keep = rules(r#"[{"source_labels": ["env"], "regex": "prod|test", "action": "keep"}]"#);
        assert!(process(labels(&[("env", "prod")]), &keep).is_some());
        assert!(process(labels(&[("env", "production")]), &keep).is_none());
        assert!(process(Labels::new(), &keep).is_none());
        let drop = rules(r#"[{"source_labels": ["env"], "regex": "", "action": "DROP"}]"#);
        assert!(process(Labels::new(), &drop).is_none());
        assert!(process(labels(&[("env", "x")]), &drop).is_some());
    }

    #[test]
    fn keepequal_and_dropequal() {
        let keep =
            rules(r#"[{"source_labels": ["a"], "target_label": "b", "action": "keepequal"}]"#);
        assert!(process(labels(&[("a", "1"), ("b", "1")]), &keep).is_some());
        assert!(process(labels(&[("a", "1"), ("b", "2")]), &keep).is_none());
        let drop =
            rules(r#"[{"source_labels": ["a"], "target_label": "b", "action": "dropequal"}]"#);
        assert!(process(labels(&[("a", "1"), ("b", "1")]), &drop).is_none());
        assert!(process(labels(&[("a", "1")]), &drop).is_some());
    }

    #[test]
    fn hashmod_matches_prometheus() {
        // Prometheus' TestRelabel "hashmod" case: md5("foo") last 8 bytes mod 1000 = 976.
        let configs = rules(
            r#"[{"source_labels": ["c"], "target_label": "d", "action": "hashmod", "modulus": 1000}]"#,
        );
        let out = process(
            labels(&[("a", "foo"), ("b", "bar"), ("c", "baz")]),
            &configs,
        )
        .unwrap();
        assert_eq!(out["d"], "976");
    }

    #[test]
    fn labelmap_labeldrop_labelkeep() {
        let map = rules(r#"[{"regex": "__meta_kubernetes_pod_label_(.+)", "action": "labelmap"}]"#);
        let out = process(
            labels(&[("__meta_kubernetes_pod_label_app", "web"), ("x", "1")]),
            &map,
        )
        .unwrap();
        assert_eq!(out["app"], "web");
        assert_eq!(out["__meta_kubernetes_pod_label_app"], "web");
        let drop = rules(r#"[{"regex": "__meta_.*", "action": "labeldrop"}]"#);
        let out = process(out, &drop).unwrap();
        assert_eq!(out, labels(&[("app", "web"), ("x", "1")]));
        let keep = rules(r#"[{"regex": "app", "action": "labelkeep"}]"#);
        assert_eq!(process(out, &keep).unwrap(), labels(&[("app", "web")]));
    }

    #[test]
    fn lowercase_and_uppercase() {
        let configs = rules(
            r#"[{"source_labels": ["a"], "target_label": "lo", "action": "lowercase"},
                {"source_labels": ["a"], "target_label": "up", "action": "uppercase"}]"#,
        );
        let out = process(labels(&[("a", "MiXed")]), &configs).unwrap();
        assert_eq!(out["lo"], "mixed");
        assert_eq!(out["up"], "MIXED");
    }

    #[test]
    fn kebab_case_aliases_and_round_trip() {
        let configs = rules(
            r#"[{"source-labels": ["a"], "target-label": "b", "regex": "(x)", "action": "replace"}]"#,
        );
        assert_eq!(configs[0].source_labels, vec!["a".to_owned()]);
        assert_eq!(configs[0].target_label, "b");
        let json = serde_json::to_string(&configs).unwrap();
        assert_eq!(rules(&json), configs);
    }

    #[test]
    fn rejects_bad_rules_at_load() {
        let error = |json: &str| {
            serde_json::from_str::<RelabelConfig>(json)
                .unwrap_err()
                .to_string()
        };
        assert!(error(r#"{"action": "nope"}"#).contains("unknown relabel action"));
        assert!(error(r#"{"regex": "(", "target_label": "a"}"#).contains("invalid relabel regex"));
        assert!(error(r#"{"action": "hashmod", "target_label": "a"}"#).contains("modulus"));
        assert!(error(r#"{"source_labels": ["a"]}"#).contains("target_label"));
        assert!(error(r#"{"target_label": "1a"}"#).contains("not a valid"));
        assert!(
            error(r#"{"action": "labeldrop", "regex": "a", "target_label": "b"}"#)
                .contains("only 'regex'")
        );
        assert!(
            error(r#"{"action": "keepequal", "target_label": "b", "regex": "x"}"#)
                .contains("only 'source_labels'")
        );
        assert!(error(r#"{"bogus": 1}"#).contains("unknown field"));
    }

    #[test]
    fn validate_all_names_the_rule() {
        let mut bad = RelabelConfig::new(Action::HashMod);
        bad.target_label = "x".to_owned();
        let errors = validate_all(&[RelabelConfig::new(Action::Keep), bad]).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("rule 1:"), "{errors:?}");
    }

    #[test]
    fn labelmap_fast_path_matches_the_regex_path() {
        let input = labels(&[
            ("__meta_a_x", "1"),
            ("__meta_a_", "2"),
            ("__meta_b_y", "3"),
            ("z", "4"),
        ]);
        let fast = rules(r#"[{"regex": "__meta_a_(.+)", "action": "labelmap"}]"#);
        assert!(fast[0].regex.prefix_then_group);
        let slow =
            rules(r#"[{"regex": "__meta_a_(.+)", "replacement": "${1}x", "action": "labelmap"}]"#);
        assert!(!is_group_one(&slow[0].replacement));
        let out = process(input.clone(), &fast).unwrap();
        assert_eq!(out["x"], "1");
        assert_eq!(out.len(), 5);
        let out = process(input, &slow).unwrap();
        assert_eq!(out["xx"], "1");
        assert_eq!(out.len(), 5);
    }

    #[test]
    fn literal_prefixes_are_conservative() {
        assert_eq!(
            literal_prefix("__meta_kubernetes_pod_label_(.+)"),
            "__meta_kubernetes_pod_label_"
        );
        assert_eq!(literal_prefix("abc*"), "ab");
        assert_eq!(literal_prefix("abc+d"), "ab");
        assert_eq!(literal_prefix("ab|cd"), "");
        assert_eq!(literal_prefix("(?i)abc"), "");
        assert_eq!(literal_prefix("a.c"), "a");
        assert_eq!(literal_prefix("(.*)"), "");
        let regex = RelabelRegex::new("abc?").unwrap();
        assert!(regex.is_match("ab") && regex.is_match("abc") && !regex.is_match("xabc"));
        let regex = RelabelRegex::new("a{0}b").unwrap();
        assert!(regex.is_match("b"));
    }

    #[test]
    fn zero_modulus_built_by_hand_does_not_panic() {
        let mut config = RelabelConfig::new(Action::HashMod);
        config.target_label = "x".to_owned();
        assert_eq!(
            process(labels(&[("a", "b")]), &[config]).unwrap(),
            labels(&[("a", "b")])
        );
    }
}
