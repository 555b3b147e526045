//! Environment overrides: `WEIR_<SECTION>_<KEY>` (and Kapacitor's `KAPACITOR_<SECTION>_<KEY>`)
//! set a key of a section; `WEIR_<KEY>` a top-level key; `WEIR_<SECTION>_<N>_<KEY>` a key of
//! the N-th element of an array section such as `[[influxdb]]`.
//!
//! Names are resolved against the key reference (`keys.txt`), case-insensitively, with `_`
//! standing for `-`, `_` or a nested table's dot (`WEIR_SCRAPER_0_HEALTH_OPEN_DURATION`).
//! Values are parsed as TOML values (`true`, `10`, `["a", "b"]`) and fall back to strings.

use std::collections::BTreeMap;

use super::keys::{self, Step};

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
                        | "WEIR_COLOR"
                        | "WEIR_BIN"
                )
                && !name.starts_with("WEIR_TEST_")
        })
        .collect()
}

/// Set the key `name` (`WEIR_…` or `KAPACITOR_…`) points at to `raw`; `Ok(false)` when the
/// name points at no key of `keys.txt`. `WEIR_<SECTION>_<N>_<KEY>` with N the number of
/// elements adds one.
pub(super) fn apply(table: &mut toml::Table, name: &str, raw: &str) -> Result<bool, String> {
    let rest = name
        .strip_prefix("WEIR_")
        .or_else(|| name.strip_prefix("KAPACITOR_"))
        .unwrap_or(name)
        .to_ascii_lowercase();
    let Some(steps) = keys::resolve_env(&rest) else {
        return Ok(false);
    };
    let mut place = Place::Table(table);
    let mut section = String::new();
    let last = steps.len() - 1;
    let array_next: Vec<bool> = (0..steps.len())
        .map(|index| matches!(steps.get(index + 1), Some(Step::Index(_))))
        .collect();
    for (index, step) in steps.into_iter().enumerate() {
        place = match (place, step) {
            (Place::Table(table), Step::Key(key)) if index == last => {
                table.insert(key, parse_value(raw));
                return Ok(true);
            }
            (Place::Table(table), Step::Key(key)) => {
                section = key.clone();
                let value = table.entry(key).or_insert_with(|| {
                    if array_next[index] {
                        toml::Value::Array(Vec::new())
                    } else {
                        toml::Value::Table(toml::Table::new())
                    }
                });
                match value {
                    toml::Value::Array(elements) => Place::Array(elements),
                    toml::Value::Table(inner) => Place::Table(inner),
                    _ => return Err(format!("{section} is not a section")),
                }
            }
            (Place::Array(elements), Step::Index(element)) => {
                let count = elements.len();
                if element == count {
                    elements.push(toml::Value::Table(toml::Table::new()));
                }
                match elements.get_mut(element) {
                    Some(toml::Value::Table(inner)) => Place::Table(inner),
                    _ => {
                        return Err(format!(
                            "[[{section}]] has no element {element} (it has {count})"
                        ));
                    }
                }
            }
            _ => return Err(format!("[{section}] is not of this shape")),
        };
    }
    Ok(true)
}

enum Place<'t> {
    Table(&'t mut toml::Table),
    Array(&'t mut Vec<toml::Value>),
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

    fn apply_all(text: &str, overrides: &[(&str, &str)]) -> Result<toml::Table, String> {
        let mut table: toml::Table = toml::from_str(text).unwrap();
        for (name, raw) in overrides {
            assert!(apply(&mut table, name, raw)?, "{name} names no key");
        }
        Ok(table)
    }

    #[test]
    fn overrides_sections_arrays_nested_tables_and_top_level() {
        let out = apply_all(
            "[[influxdb]]\nname = \"a\"\n[[scraper]]\nname = \"s\"\n",
            &[
                ("WEIR_HTTP_BIND_ADDRESS", "127.0.0.1:1"),
                ("KAPACITOR_DATA_DIR", "/tmp/x"),
                ("WEIR_INFLUXDB_0_URLS", "[\"http://a\"]"),
                ("WEIR_LOGGING_LEVEL", "DEBUG"),
                ("WEIR_INGRESS_DURABILITY", "none"),
                ("WEIR_SCRAPER_0_HEALTH_OPEN_DURATION", "5s"),
                ("WEIR_SCRAPER_0_RELABEL_CONFIGS", "[{target_label = \"x\"}]"),
                ("WEIR_STATIC_DISCOVERY_0_ID", "new"),
            ],
        )
        .unwrap();
        assert_eq!(out["http"]["bind-address"].as_str(), Some("127.0.0.1:1"));
        assert_eq!(out["data_dir"].as_str(), Some("/tmp/x"));
        assert_eq!(out["influxdb"][0]["urls"][0].as_str(), Some("http://a"));
        assert_eq!(out["logging"]["level"].as_str(), Some("DEBUG"));
        assert_eq!(out["ingress"]["durability"].as_str(), Some("none"));
        assert_eq!(
            out["scraper"][0]["health"]["open-duration"].as_str(),
            Some("5s")
        );
        assert_eq!(
            out["scraper"][0]["relabel-configs"][0]["target_label"].as_str(),
            Some("x")
        );
        assert_eq!(out["static-discovery"][0]["id"].as_str(), Some("new"));
    }

    #[test]
    fn reports_missing_array_elements_and_unknown_names() {
        let error = apply_all("[[scraper]]\nname = \"a\"\n", &[("WEIR_SCRAPER_3_DB", "x")]);
        assert!(error.unwrap_err().contains("no element 3 (it has 1)"));
        let mut table = toml::Table::new();
        assert_eq!(apply(&mut table, "WEIR_HTTP_NO_SUCH_KEY", "1"), Ok(false));
        assert_eq!(apply(&mut table, "WEIR_SCRAPER_X_DB", "1"), Ok(false));
    }
}
