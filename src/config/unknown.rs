//! Lenient deserialisation: unknown keys and sections become warnings that name the place
//! and suggest the closest known key, instead of stopping weir; but a close misspelling in a
//! section that changes what is collected (scrapers, discoverers, sinks, credentials) is an
//! error, since the default it falls back to would silently collect something else.
//!
//! The config types use `deny_unknown_fields`, so serde reports an unknown key together
//! with the keys it expected. We turn that into a warning, blank the entry out of a working
//! copy of the text (spaces keep every later line:column true), and try again.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use super::{Config, ConfigErrors, env};

/// A non-fatal finding about a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// One line, `file:line:column: message`.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// More unknown keys than this in one file means something else is wrong.
const MAX_UNKNOWN: usize = 200;

pub(super) fn deserialize_lenient(
    text: &str,
    origin: &str,
    env: &BTreeMap<String, String>,
) -> Result<(Config, Vec<Warning>), ConfigErrors> {
    let mut working = text.to_owned();
    let mut warnings = Vec::new();
    let mut typos = Vec::new();
    // After a typo, what fails next may be its consequence (a blanked key): report the typos.
    let typo_errors = |typos: &[(usize, String)]| {
        let mut typos = typos.to_vec();
        typos.sort();
        ConfigErrors {
            errors: typos.into_iter().map(|typo| typo.1).collect(),
        }
    };
    let syntax_error = |error: &toml::de::Error, typos: &Vec<(usize, String)>| {
        if !typos.is_empty() {
            return typo_errors(typos);
        }
        ConfigErrors {
            errors: vec![format!(
                "{}: {}",
                position(text, origin, error.span()),
                first_line(error.message())
            )],
        }
    };
    loop {
        let table: toml::Table =
            toml::from_str(&working).map_err(|error| syntax_error(&error, &typos))?;
        match toml::from_str::<Config>(&working) {
            Ok(_) if !typos.is_empty() => {
                return Err(typo_errors(&typos));
            }
            Ok(_) => {
                let mut table = table;
                for (name, value) in env {
                    let mut candidate = table.clone();
                    let error = match env::apply(&mut candidate, name, value) {
                        Ok(false) => {
                            warnings.push(Warning {
                                message: format!(
                                    "environment variable {name} names no config key (ignored; `weir config` lists them)"
                                ),
                            });
                            continue;
                        }
                        Ok(true) => match Config::deserialize_table(candidate.clone()) {
                            Ok(_) => {
                                table = candidate;
                                continue;
                            }
                            Err(error) => first_line(error.message()),
                        },
                        Err(error) => error,
                    };
                    return Err(ConfigErrors {
                        errors: vec![format!("environment variable {name}: {error}")],
                    });
                }
                let config = Config::deserialize_table(table).map_err(|error| ConfigErrors {
                    errors: vec![format!(
                        "environment overrides: {}",
                        first_line(error.message())
                    )],
                })?;
                return Ok((config, warnings));
            }
            Err(error) => {
                let Some((unknown, expected)) = unknown_field(error.message()) else {
                    return Err(syntax_error(&error, &typos));
                };
                let Some(span) = error.span() else {
                    return Err(syntax_error(&error, &typos));
                };
                let what = if is_header(&working, span.start) {
                    "section"
                } else {
                    "key"
                };
                let place = position(text, origin, Some(span.clone()));
                let suggestion = closest(&unknown, &expected);
                match (suggestion, section_of(&working, span.start)) {
                    // A typo where it changes what is collected (targets, relabelling,
                    // credentials) must not silently fall back to a default.
                    (Some(suggestion), Some(section)) if what == "key" && collects(section) => {
                        typos.push((
                            span.start,
                            format!("{place}: unknown key `{unknown}` in {section}; did you mean `{suggestion}`?"),
                        ));
                    }
                    (suggestion, _) => {
                        let mut message = format!("{place}: unknown {what} `{unknown}` (ignored)");
                        if let Some(suggestion) = suggestion {
                            message.push_str(&format!("; did you mean `{suggestion}`?"));
                        }
                        warnings.push(Warning { message });
                    }
                }
                let before = working.clone();
                blank_entry(&mut working, span.start);
                if working == before || warnings.len() + typos.len() > MAX_UNKNOWN {
                    return Err(syntax_error(&error, &typos));
                }
            }
        }
    }
}

impl Config {
    fn deserialize_table(table: toml::Table) -> Result<Config, toml::de::Error> {
        let text = toml::to_string(&table).unwrap_or_default();
        toml::from_str(&text)
    }
}

/// `origin:line:column` for a byte span of the original text.
fn position(text: &str, origin: &str, span: Option<Range<usize>>) -> String {
    match span {
        Some(span) => {
            let start = span.start.min(text.len());
            let before = &text[..floor_boundary(text, start)];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |s| s.chars().count()) + 1;
            format!("{origin}:{line}:{column}")
        }
        None => origin.to_owned(),
    }
}

fn floor_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn first_line(message: &str) -> String {
    message.trim().lines().next().unwrap_or("").to_owned()
}

/// Parse serde's "unknown field `x`, expected one of `a`, `b`" (or "expected `a`", or
/// "there are no fields").
fn unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.trim().strip_prefix("unknown field `")?;
    let (name, rest) = rest.split_once('`')?;
    let expected = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    Some((name.to_owned(), expected))
}

/// The known key closest to `unknown`, if any is close enough to be a likely typo.
pub(crate) fn closest(unknown: &str, known: &[String]) -> Option<String> {
    let normalized = unknown.to_ascii_lowercase().replace('_', "-");
    known
        .iter()
        .map(|candidate| {
            let distance = if candidate.replace('_', "-") == normalized {
                0.0
            } else {
                1.0 - strsim::jaro_winkler(&normalized, &candidate.replace('_', "-"))
            };
            // Of two spellings of one key, the one written like the unknown.
            let distance = distance
                + if candidate.contains('_') == unknown.contains('_') {
                    0.0
                } else {
                    1e-6
                };
            (distance, candidate)
        })
        .filter(|(distance, _)| *distance < 0.25)
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate.clone())
}

/// The name in the last `[table]` or `[[array]]` header before `offset`.
fn section_of(text: &str, offset: usize) -> Option<&str> {
    let line = text[..floor_boundary(text, offset)]
        .lines()
        .rev()
        .find(|line| looks_like_header(line))?;
    Some(line.trim())
}

/// Whether a misspelled key in this section changes what is scraped, discovered, relabelled
/// or sent with which credentials.
fn collects(header: &str) -> bool {
    let section = header.trim_matches(['[', ']']).trim();
    const SECTIONS: &[&str] = &[
        "scraper",
        "static-discovery",
        "file-discovery",
        "dns",
        "consul",
        "kubernetes",
        "ec2",
        "influxdb",
        "prometheus",
        "http.users",
    ];
    SECTIONS.iter().any(|name| {
        section == *name
            || section
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// Whether `offset` is inside a `[table]` or `[[array]]` header line.
fn is_header(text: &str, offset: usize) -> bool {
    let line_start = text[..floor_boundary(text, offset)]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    text[line_start..].trim_start().starts_with('[')
}

/// Replace the entry whose key starts at `offset` with spaces (newlines kept): a whole
/// section for a header, else `key = value` including a multi-line value.
fn blank_entry(text: &mut String, offset: usize) {
    let offset = floor_boundary(text, offset);
    let range = if is_header(text, offset) {
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let mut end = text[line_start..]
            .find('\n')
            .map_or(text.len(), |i| line_start + i + 1);
        while end < text.len() {
            let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
            if text[end..line_end].trim_start().starts_with('[')
                && looks_like_header(&text[end..line_end])
            {
                break;
            }
            end = line_end;
        }
        line_start..end
    } else {
        offset..value_end(text, offset)
    };
    let blanked: String = text[range.clone()]
        .chars()
        .map(|c| if c == '\n' { '\n' } else { ' ' })
        .collect();
    text.replace_range(range, &blanked);
}

fn looks_like_header(line: &str) -> bool {
    let trimmed = line.trim();
    let inner = trimmed.trim_start_matches('[');
    trimmed.ends_with(']')
        && inner
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '"' || c == '\'' || c == '_' || c == '-')
        && !trimmed.contains('=')
}

/// End (exclusive) of the `key = value` entry starting at `offset`.
fn value_end(text: &str, offset: usize) -> usize {
    let bytes = text.as_bytes();
    let mut index = offset;
    while index < bytes.len() && bytes[index] != b'=' && bytes[index] != b'\n' {
        index += 1;
    }
    if index >= bytes.len() || bytes[index] == b'\n' {
        return index;
    }
    index += 1;
    let mut depth = 0usize;
    while index < bytes.len() {
        let rest = &text[index..];
        if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
            let quote = &rest[..3];
            index += 3 + rest[3..].find(quote).map_or(rest.len() - 3, |i| i + 3);
            continue;
        }
        match bytes[index] {
            b'"' => {
                index += 1;
                while index < bytes.len() && bytes[index] != b'"' && bytes[index] != b'\n' {
                    if bytes[index] == b'\\' {
                        index += 1;
                    }
                    index += 1;
                }
                index += 1;
            }
            b'\'' => {
                index += 1;
                while index < bytes.len() && bytes[index] != b'\'' && bytes[index] != b'\n' {
                    index += 1;
                }
                index += 1;
            }
            b'#' => {
                while index < bytes.len() && bytes[index] != b'\n' {
                    index += 1;
                }
            }
            b'[' | b'{' => {
                depth += 1;
                index += 1;
            }
            b']' | b'}' if depth == 0 => return index,
            b']' | b'}' => {
                depth -= 1;
                index += 1;
            }
            b',' if depth == 0 => return index + 1,
            b'\n' if depth == 0 => return index,
            _ => index += 1,
        }
    }
    bytes.len().min(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_serde_unknown_field_messages() {
        let (name, expected) =
            unknown_field("unknown field `perod`, expected one of `period`, `every`").unwrap();
        assert_eq!(name, "perod");
        assert_eq!(expected, vec!["period", "every"]);
        let (_, expected) = unknown_field("unknown field `x`, expected `id`").unwrap();
        assert_eq!(expected, vec!["id"]);
        let (_, expected) = unknown_field("unknown field `x`, there are no fields").unwrap();
        assert!(expected.is_empty());
    }

    #[test]
    fn blanks_multiline_values_and_keeps_positions() {
        let mut text = "a = 1\nb = [\n  \"x\",\n  \"y\",\n]\nc = 2\n".to_owned();
        let offset = text.find("b =").unwrap();
        blank_entry(&mut text, offset);
        assert_eq!(
            text.len(),
            "a = 1\nb = [\n  \"x\",\n  \"y\",\n]\nc = 2\n".len()
        );
        assert_eq!(text.lines().count(), 6);
        assert!(text.contains("a = 1") && text.contains("c = 2") && !text.contains('x'));
    }

    #[test]
    fn blanks_whole_sections() {
        let mut text =
            "[slack]\nenabled = true\nurl = \"x\"\n\n[http]\nbind-address = \":1\"\n".to_owned();
        blank_entry(&mut text, 1);
        assert!(!text.contains("slack") && !text.contains("url"));
        assert!(text.contains("[http]") && text.contains("bind-address"));
    }

    #[test]
    fn suggests_close_keys_only() {
        let known = vec!["scrape-interval".to_owned(), "scrape-timeout".to_owned()];
        assert_eq!(
            closest("scrape-intervall", &known).as_deref(),
            Some("scrape-interval")
        );
        assert_eq!(
            closest("scrape_interval", &known).as_deref(),
            Some("scrape-interval")
        );
        assert_eq!(closest("colour", &known), None);
    }
}
