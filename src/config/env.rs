//! Environment overrides: `WEIR_<SECTION>_<KEY>` (and Kapacitor's `KAPACITOR_<SECTION>_<KEY>`)
//! set a key of a section; `WEIR_<KEY>` a top-level key; `WEIR_<SECTION>_<N>_<KEY>` a key of
//! the N-th element of an array section such as `[[influxdb]]`.
//!
//! Names are matched case-insensitively with `_` standing for `-` or `_` in key names.
//! Values are parsed as TOML values (`true`, `10`, `["a", "b"]`) and fall back to strings.

use std::collections::BTreeMap;

/// The overrides present in this process's environment.
pub(super) fn from_process() -> BTreeMap<String, String> {
    std::env::vars()
        .filter(|(name, _)| {
            (name.starts_with("WEIR_") || name.starts_with("KAPACITOR_"))
                && !matches!(
                    name.as_str(),
                    "WEIR_URL"
                        | "KAPACITOR_URL"
                        | "WEIR_REQUIRE_PEERS"
                        | "WEIR_CONFIG"
                        | "WEIR_BIN"
                )
                && !name.starts_with("WEIR_TEST_")
        })
        .collect()
}

/// Sections a variable may name, longest first so `static_discovery` wins over `static`.
const SECTIONS: &[&str] = &[
    "static-discovery",
    "http-discovery",
    "file-discovery",
    "prometheus",
    "kubernetes",
    "gce",
    "azure",
    "serverset",
    "nerve",
    "triton",
    "marathon",
    "influxdb",
    "logging",
    "scraper",
    "consul",
    "files",
    "http",
    "load",
    "task",
    "dns",
    "ec2",
];

pub(super) fn apply(
    mut table: toml::Table,
    overrides: &BTreeMap<String, String>,
) -> Result<toml::Table, Vec<String>> {
    let mut errors = Vec::new();
    for (name, raw) in overrides {
        let rest = name
            .strip_prefix("WEIR_")
            .or_else(|| name.strip_prefix("KAPACITOR_"))
            .unwrap_or(name)
            .to_ascii_lowercase();
        let value = parse_value(raw);
        if let Err(error) = apply_one(&mut table, &rest, value) {
            errors.push(format!("environment variable {name}: {error}"));
        }
    }
    if errors.is_empty() {
        Ok(table)
    } else {
        Err(errors)
    }
}

fn apply_one(table: &mut toml::Table, rest: &str, value: toml::Value) -> Result<(), String> {
    for section in SECTIONS {
        let prefix = section.replace('-', "_");
        let Some(after) = rest.strip_prefix(&prefix).and_then(|r| r.strip_prefix('_')) else {
            continue;
        };
        let entry = table
            .entry((*section).to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match entry {
            toml::Value::Table(inner) => {
                inner.insert(key_name(after), value);
                return Ok(());
            }
            toml::Value::Array(elements) => {
                let (index, key) = after
                    .split_once('_')
                    .and_then(|(index, key)| Some((index.parse::<usize>().ok()?, key)))
                    .ok_or_else(|| {
                        format!(
                            "[[{section}]] needs an element index, as in {}_0_KEY",
                            prefix.to_ascii_uppercase()
                        )
                    })?;
                let count = elements.len();
                let element = elements.get_mut(index).ok_or_else(|| {
                    format!("[[{section}]] has no element {index} (it has {count})")
                })?;
                let toml::Value::Table(element) = element else {
                    return Err(format!("[[{section}]] element {index} is not a table"));
                };
                element.insert(key_name(key), value);
                return Ok(());
            }
            _ => return Err(format!("{section} is not a section")),
        }
    }
    let key = if rest == "data_dir" {
        rest.to_owned()
    } else {
        key_name(rest)
    };
    table.insert(key, value);
    Ok(())
}

/// Environment names use `_`; weir's keys use `-` (except `data_dir`).
fn key_name(env_key: &str) -> String {
    env_key.replace('_', "-")
}

fn parse_value(raw: &str) -> toml::Value {
    let document = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&document) {
        Ok(mut table) => table
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn overrides_sections_arrays_and_top_level() {
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "WEIR_HTTP_BIND_ADDRESS".to_owned(),
            "127.0.0.1:1".to_owned(),
        );
        overrides.insert("KAPACITOR_DATA_DIR".to_owned(), "/tmp/x".to_owned());
        overrides.insert(
            "WEIR_INFLUXDB_0_URLS".to_owned(),
            "[\"http://a\"]".to_owned(),
        );
        overrides.insert("WEIR_LOGGING_LEVEL".to_owned(), "DEBUG".to_owned());
        let out = apply(table("[[influxdb]]\nname = \"a\"\n"), &overrides).unwrap();
        assert_eq!(out["http"]["bind-address"].as_str(), Some("127.0.0.1:1"));
        assert_eq!(out["data_dir"].as_str(), Some("/tmp/x"));
        assert_eq!(out["influxdb"][0]["urls"][0].as_str(), Some("http://a"));
        assert_eq!(out["logging"]["level"].as_str(), Some("DEBUG"));
    }

    #[test]
    fn reports_missing_array_elements() {
        let mut overrides = BTreeMap::new();
        overrides.insert("WEIR_SCRAPER_3_DB".to_owned(), "x".to_owned());
        let errors = apply(table("[[scraper]]\nname = \"a\"\n"), &overrides).unwrap_err();
        assert!(errors[0].contains("WEIR_SCRAPER_3_DB"), "{errors:?}");
    }
}
