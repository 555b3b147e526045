//! Sections weir does not implement are never skipped silently. Kapacitor's generated config
//! lists every service it has (`[collectd]`, `[opentsdb]`, `[[udp]]`, `[smtp]`, ...), most
//! with `enabled = false`:
//!
//! - `enabled = true`: an error naming the section as unsupported, with the closest section
//!   weir has (a misspelling) or the sections it supports;
//! - `enabled = false`: a one-line warning;
//! - no `enabled` key: the unknown-section warning (with a suggestion when one is close).
//!
//! Kapacitor's `[reporting]`, `[stats]` and `[config-override]` are enabled in its stock
//! config and have a weir counterpart, so they only warn, saying what weir does instead.

use super::unknown::closest;

/// Top-level keys of [`super::Config`] that are not sections.
const SCALAR_KEYS: [&str; 5] = [
    "hostname",
    "data_dir",
    "skip-config-overrides",
    "reporting-enabled",
    "shutdown-timeout",
];

/// Enabled in Kapacitor's stock config, replaced by something of weir's own.
const REPLACED: [(&str, &str); 3] = [
    ("reporting", "weir never reports usage"),
    (
        "stats",
        "weir serves its own statistics at /metrics and /weir/v1/stats",
    ),
    (
        "config-override",
        "weir's config is this file, reloaded on change or SIGHUP",
    ),
];

/// What to do about an unknown top-level section.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Refuse the config.
    Error(String),
    /// Run, with this warning.
    Warning(String),
}

/// The verdict on the unknown section `name` whose header starts the line at `offset` of
/// `text`, or `None` when `offset` is not the header of a top-level section of that name or
/// it has no `enabled` key (the caller's unknown-section warning applies). `place` is
/// `file:line:column`; `expected` the top-level keys serde knows.
pub(super) fn verdict(
    text: &str,
    offset: usize,
    name: &str,
    place: &str,
    expected: &[String],
) -> Option<Verdict> {
    let (array, body) = section(text, offset, name)?;
    let shown = if array {
        format!("[[{name}]]")
    } else {
        format!("[{name}]")
    };
    let enabled = body
        .parse::<toml::Table>()
        .ok()?
        .get("enabled")?
        .as_bool()?;
    if let Some((_, instead)) = REPLACED.iter().find(|(section, _)| *section == name) {
        return Some(Verdict::Warning(format!(
            "{place}: section {shown} is not supported by weir (ignored): {instead}"
        )));
    }
    if !enabled {
        return Some(Verdict::Warning(format!(
            "{place}: section {shown} is not supported by weir (disabled, ignored)"
        )));
    }
    let sections: Vec<String> = expected
        .iter()
        .filter(|key| !SCALAR_KEYS.contains(&key.as_str()))
        .cloned()
        .collect();
    let hint = match closest(name, &sections) {
        Some(suggestion) => format!("did you mean `{suggestion}`?"),
        None => format!("weir supports {}", sections.join(", ")),
    };
    Some(Verdict::Error(format!(
        "{place}: section {shown} is enabled but weir does not support it; remove it or set \
         enabled = false ({hint})"
    )))
}

/// Whether the header at `offset` is `[[name]]` (true) or `[name]` (false), and the text of
/// its keys up to the next header.
fn section<'a>(text: &'a str, offset: usize, name: &str) -> Option<(bool, &'a str)> {
    let line_start = text.get(..offset)?.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i + 1);
    let header = text[line_start..line_end]
        .split('#')
        .next()
        .unwrap_or("")
        .trim();
    let (array, inner) = if let Some(inner) = header
        .strip_prefix("[[")
        .and_then(|rest| rest.strip_suffix("]]"))
    {
        (true, inner)
    } else {
        let inner = header.strip_prefix('[')?.strip_suffix(']')?;
        (false, inner)
    };
    let inner = inner.trim();
    let unquoted = inner.trim_matches(|c| c == '"' || c == '\'');
    if unquoted != name {
        return None;
    }
    let mut end = line_end;
    while end < text.len() {
        let next = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
        if text[end..next].trim_start().starts_with('[') {
            break;
        }
        end = next;
    }
    Some((array, &text[line_end..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected() -> Vec<String> {
        [
            "hostname",
            "http",
            "scraper",
            "consul",
            "dns",
            "http-discovery",
        ]
        .map(str::to_owned)
        .to_vec()
    }

    fn judge(text: &str, name: &str) -> Option<Verdict> {
        let offset = text.find(&format!("[{name}")).unwrap() + 1;
        verdict(text, offset, name, "w.toml:1:1", &expected())
    }

    #[test]
    fn enabled_is_an_error_with_a_suggestion_or_the_list() {
        let Some(Verdict::Error(error)) =
            judge("[[consull]]\nenabled = true\nid = \"c\"\n", "consull")
        else {
            panic!("an error")
        };
        assert_eq!(
            error,
            "w.toml:1:1: section [[consull]] is enabled but weir does not support it; remove it \
             or set enabled = false (did you mean `consul`?)"
        );
        let Some(Verdict::Error(error)) = judge("[collectd]\n  enabled = true # yes\n", "collectd")
        else {
            panic!("an error")
        };
        assert!(error.contains("section [collectd] is enabled"), "{error}");
        assert!(
            error.ends_with("(weir supports http, scraper, consul, dns, http-discovery)"),
            "{error}"
        );
    }

    #[test]
    fn disabled_and_replaced_sections_warn_in_one_line() {
        assert_eq!(
            judge(
                "[opentsdb]\nenabled = false\nbind-address = \":4242\"\n",
                "opentsdb"
            ),
            Some(Verdict::Warning(
                "w.toml:1:1: section [opentsdb] is not supported by weir (disabled, ignored)"
                    .to_owned()
            ))
        );
        let Some(Verdict::Warning(warning)) = judge(
            "[stats]\nenabled = true\nstats-interval = \"10s\"\n",
            "stats",
        ) else {
            panic!("a warning")
        };
        assert!(warning.contains("/metrics"), "{warning}");
        assert!(!warning.contains('\n'));
    }

    #[test]
    fn without_enabled_or_not_a_header_the_caller_decides() {
        assert_eq!(judge("[replay]\ndir = \"/x\"\n", "replay"), None);
        assert_eq!(judge("[udp.x]\nenabled = true\n", "udp"), None);
        assert!(matches!(
            judge("[http]\n[udf]\nenabled = true\n[alert]\n", "udf"),
            Some(Verdict::Error(_))
        ));
    }
}
