//! The reference of every section and key (`keys.txt`): what `weir config` prints, with the
//! defaults taken from the parser itself (an instance parsed and serialized back), and what
//! the `WEIR_*` names are resolved against. A test holds it equal to the config types' fields.

use std::fmt::Write as _;

use super::Config;

/// One section of `keys.txt`; the top level has the path `""`.
pub(super) struct Section {
    pub path: &'static str,
    pub array: bool,
    pub comment: &'static str,
    pub keys: Vec<Key>,
}

/// One key: its name, the example for keys without a default, its type and comment.
pub(super) struct Key {
    pub name: &'static str,
    pub example: Option<&'static str>,
    pub kind: &'static str,
    pub comment: &'static str,
}

/// The sections of this build (`[[kubernetes]]` and `[[ec2]]` only with their features).
pub(super) fn sections() -> Vec<Section> {
    let mut sections = vec![Section {
        path: "",
        array: false,
        comment: "",
        keys: Vec::new(),
    }];
    for line in include_str!("keys.txt").lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut columns = line.splitn(3, " | ");
        let (first, second, third) = (
            columns.next().unwrap_or(""),
            columns.next().unwrap_or(""),
            columns.next(),
        );
        if let Some(header) = first.strip_prefix('[') {
            let array = header.starts_with('[');
            sections.push(Section {
                path: header.trim_matches(['[', ']']),
                array,
                comment: second,
                keys: Vec::new(),
            });
        } else if let Some(last) = sections.last_mut() {
            let (name, example) = match first.split_once(" = ") {
                Some((name, example)) => (name, Some(example)),
                None => (first, None),
            };
            last.keys.push(Key {
                name,
                example,
                kind: second,
                comment: third.unwrap_or(""),
            });
        }
    }
    sections.retain(|section| match section.path.split('.').next() {
        Some("kubernetes") => cfg!(feature = "kubernetes"),
        Some("ec2") => cfg!(feature = "ec2"),
        _ => true,
    });
    sections
}

/// The table at `path` (dots; an array stands for its last element), created on the way;
/// `None` when a value on the way is not a table.
fn table_at<'t>(root: &'t mut toml::Table, path: &str) -> Option<&'t mut toml::Table> {
    let mut table = root;
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let value = table
            .entry(segment)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let value = match value {
            toml::Value::Array(elements) => {
                if elements.is_empty() {
                    elements.push(toml::Value::Table(toml::Table::new()));
                }
                elements.last_mut()?
            }
            other => other,
        };
        table = value.as_table_mut()?;
    }
    Some(table)
}

/// A config with one element in every array section, every example set and everything else
/// left to the parser's defaults, as the parser serializes it back.
fn instance(sections: &[Section]) -> Result<toml::Table, String> {
    let mut root = toml::Table::new();
    for section in sections {
        if section.array {
            let (parent, name) = section.path.rsplit_once('.').unwrap_or(("", section.path));
            table_at(&mut root, parent)
                .ok_or("keys.txt: bad path")?
                .insert(
                    name.to_owned(),
                    toml::Value::Array(vec![toml::Value::Table(toml::Table::new())]),
                );
        }
        for key in &section.keys {
            if let Some(example) = key.example {
                let value: toml::Table = toml::from_str(&format!("v = {example}"))
                    .map_err(|error| format!("keys.txt: {}: {error}", key.name))?;
                table_at(&mut root, section.path)
                    .ok_or("keys.txt: bad path")?
                    .insert(key.name.to_owned(), value["v"].clone());
            }
        }
    }
    let config: Config = toml::Value::Table(root)
        .try_into()
        .map_err(|error| format!("keys.txt does not parse as a config: {error}"))?;
    toml::Table::try_from(&config).map_err(|error| error.to_string())
}

/// The override name of a section: `WEIR_` and its path, with `_<N>` after an array.
fn env_name(sections: &[Section], path: &str) -> String {
    let mut name = String::from("WEIR");
    let mut prefix = String::new();
    for segment in path.split('.') {
        if !prefix.is_empty() {
            prefix.push('.');
        }
        prefix.push_str(segment);
        name.push('_');
        name.push_str(&segment.replace('-', "_").to_ascii_uppercase());
        if sections.iter().any(|s| s.array && s.path == prefix) {
            name.push_str("_<N>");
        }
    }
    name
}

/// Every section and key with its default, type and comment. `examples_live` also
/// uncomments array sections and the examples of keys without a default (for the test that
/// parses the output back).
pub fn render(examples_live: bool) -> Result<String, String> {
    let sections = sections();
    let mut defaults = instance(&sections)?;
    let mut out = String::from(
        "# weir configuration: every section and key weir reads, with its default.\n\
         # Section names and keys follow Kapacitor's, so a kapacitor.conf mostly works as it is.\n\
         # Array sections ([[scraper]], ...) are shown commented out, with examples for keys\n\
         # that have no default. Every key can be set from the environment (also over the\n\
         # embedded default of a `weir serve` without --config): WEIR_<SECTION>_<KEY> or\n\
         # KAPACITOR_..., WEIR_<SECTION>_<N>_<KEY> for the N-th (from 0) element of an array\n\
         # section (N = the count adds one); values are TOML (true, 10, [\"a\"]) or strings.\n\n",
    );
    for section in &sections {
        let in_array = sections
            .iter()
            .any(|s| s.array && format!("{}.", section.path).starts_with(&format!("{}.", s.path)));
        let hash = if in_array && !examples_live { "# " } else { "" };
        if !section.path.is_empty() {
            let brackets = if section.array {
                ("[[", "]]")
            } else {
                ("[", "]")
            };
            let env = env_name(&sections, section.path);
            let env = match env.strip_suffix("_<N>") {
                Some(list) if section.path.contains('.') => format!("{list} (the list, as TOML)"),
                _ => format!("{env}_<KEY>"),
            };
            let _ = write!(
                out,
                "\n# {}\n# env: {env}\n{hash}{}{}{}\n",
                section.comment, brackets.0, section.path, brackets.1
            );
        }
        let indent = if section.path.is_empty() { "" } else { "  " };
        let table = table_at(&mut defaults, section.path).ok_or("keys.txt: bad path")?;
        for key in &section.keys {
            let value = table.get(key.name).map(ToString::to_string);
            let commented = !examples_live && (in_array || value.is_none());
            let value = value.or(key.example.map(str::to_owned)).ok_or_else(|| {
                format!("keys.txt: `{}` has no default: add an example", key.name)
            })?;
            let key_hash = if commented { "# " } else { "" };
            let _ = write!(
                out,
                "{hash}{indent}# {} ({})\n{key_hash}{indent}{} = {value}\n",
                key.comment, key.kind, key.name
            );
        }
    }
    Ok(out)
}

/// One step of an override's place: a key, or an element of an array section.
#[derive(Debug, PartialEq)]
pub(super) enum Step {
    Key(String),
    Index(usize),
}

/// Where the override `WEIR_<rest>` (`rest` lowercase) points, if it names a key.
pub(super) fn resolve_env(rest: &str) -> Option<Vec<Step>> {
    let norm = |text: &str| text.replace(['-', '.'], "_");
    let sections = sections();
    let mut top: Vec<&Section> = sections.iter().filter(|s| !s.path.contains('.')).collect();
    top.sort_by_key(|s| std::cmp::Reverse(s.path.len()));
    for section in top {
        let mut steps = Vec::new();
        let after = if section.path.is_empty() {
            rest
        } else {
            let Some(after) = rest.strip_prefix(&format!("{}_", norm(section.path))) else {
                continue;
            };
            steps.push(Step::Key(section.path.to_owned()));
            if section.array {
                let (index, key) = after.split_once('_')?;
                steps.push(Step::Index(index.parse().ok()?));
                key
            } else {
                after
            }
        };
        // The section's keys, its plain subsections' keys and its array subsections whole.
        let mut candidates: Vec<String> = section.keys.iter().map(|k| k.name.to_owned()).collect();
        for sub in &sections {
            let Some(name) = sub.path.strip_prefix(&format!("{}.", section.path)) else {
                continue;
            };
            if sub.array {
                candidates.push(name.to_owned());
            } else {
                candidates.extend(sub.keys.iter().map(|k| format!("{name}.{}", k.name)));
            }
        }
        if let Some(found) = candidates.iter().find(|c| norm(c) == after) {
            steps.extend(found.split('.').map(|s| Step::Key(s.to_owned())));
            return Some(steps);
        }
    }
    None
}
