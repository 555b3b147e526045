//! The subset of Go's `text/template` (and `html/template` escaping) that alert ids,
//! messages and details use: `{{ .Field }}`, `{{ index .Tags "x" }}`,
//! `{{ index .Fields "x" }}`, `{{ json . }}`, `{{ . }}`, string literals and pipelines
//! into `json`.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::json::{field_json, format_go_time, format_time};
use crate::point::{FieldValue, Fields, Tags};

/// What templates can read (Kapacitor's `idInfo` / `messageInfo` / `detailsInfo`).
#[derive(Debug, Clone, Default)]
pub struct TemplateData<'a> {
    /// Measurement name.
    pub name: &'a str,
    /// Task id.
    pub task_name: &'a str,
    /// Group id (`nil` when ungrouped).
    pub group: &'a str,
    /// Tags of the point (or batch group).
    pub tags: Option<&'a Tags>,
    /// Alert id (message and details only).
    pub id: Option<&'a str>,
    /// Fields (message and details only).
    pub fields: Option<&'a Fields>,
    /// Level name (message and details only).
    pub level: Option<&'a str>,
    /// Event time in ns (message and details only).
    pub time: Option<i64>,
    /// Event duration in ns (message and details only).
    pub duration: Option<i64>,
    /// Rendered message (details only).
    pub message: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Dot,
    Field(String),
    Literal(String),
    Index(Box<Expr>, String),
    Json(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Action(Expr),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pieces: Vec<Piece>,
    html: bool,
}

/// A value while a template runs.
enum TValue<'a> {
    Str(String),
    Tags(Option<&'a Tags>),
    Fields(Option<&'a Fields>),
    Field(Option<&'a FieldValue>),
    Time(i64),
    Duration(i64),
    Whole,
    Missing,
}

const KNOWN_FIELDS: [&str; 11] = [
    "Name",
    "TaskName",
    "Group",
    "Tags",
    "ServerInfo",
    "ID",
    "Fields",
    "Level",
    "Time",
    "Duration",
    "Message",
];

impl Template {
    /// Parse `source`; `html` escapes output like `html/template` (the details template).
    pub fn parse(source: &str, html: bool) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = source;
        while let Some(start) = rest.find("{{") {
            let mut text = &rest[..start];
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("unclosed action in {source:?}"))?;
            let mut action = &after[..end];
            rest = &after[end + 2..];
            if let Some(trimmed) = action.strip_prefix('-') {
                action = trimmed;
                text = text.trim_end();
            }
            let trim_next = action.ends_with('-');
            if trim_next {
                action = &action[..action.len() - 1];
            }
            if !text.is_empty() {
                pieces.push(Piece::Text(text.to_owned()));
            }
            pieces.push(Piece::Action(parse_action(action.trim())?));
            if trim_next {
                rest = rest.trim_start();
            }
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Template { pieces, html })
    }

    /// Whether the output can depend on the data field `name` (`Tags`, `Fields`, ...);
    /// `{{ . }}` reads every field.
    pub fn reads(&self, name: &str) -> bool {
        fn reads(expr: &Expr, name: &str) -> bool {
            match expr {
                Expr::Dot => true,
                Expr::Field(field) => field == name,
                Expr::Literal(_) => false,
                Expr::Index(inner, _) | Expr::Json(inner) => reads(inner, name),
            }
        }
        self.pieces.iter().any(|piece| match piece {
            Piece::Text(_) => false,
            Piece::Action(expr) => reads(expr, name),
        })
    }

    /// Render with `data`.
    pub fn render(&self, data: &TemplateData<'_>) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Action(expr) => {
                    let text = print(&eval(expr, data), data);
                    if self.html {
                        out.push_str(&html_escape(&text))
                    } else {
                        out.push_str(&text)
                    }
                }
            }
        }
        out
    }
}

fn parse_action(action: &str) -> Result<Expr, String> {
    if let Some((left, right)) = action.rsplit_once('|') {
        let inner = parse_action(left.trim())?;
        return match right.trim() {
            "json" => Ok(Expr::Json(Box::new(inner))),
            other => Err(format!("unsupported template function {other:?}")),
        };
    }
    let words = split_words(action)?;
    match words.as_slice() {
        [single] => parse_operand(single),
        [function, argument] if function == "json" => {
            Ok(Expr::Json(Box::new(parse_operand(argument)?)))
        }
        [function, map, key] if function == "index" => match parse_operand(key)? {
            Expr::Literal(key) => Ok(Expr::Index(Box::new(parse_operand(map)?), key)),
            _ => Err("index needs a string key".to_owned()),
        },
        _ => Err(format!("unsupported template action {{{{ {action} }}}}")),
    }
}

fn split_words(action: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = action.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' || c == '`' {
            chars.next();
            let mut word = String::from('"');
            let mut closed = false;
            while let Some(inner) = chars.next() {
                if inner == c {
                    closed = true;
                    break;
                }
                if inner == '\\' && c == '"' {
                    if let Some(escaped) = chars.next() {
                        word.push(escaped);
                    }
                    continue;
                }
                word.push(inner);
            }
            if !closed {
                return Err(format!("unterminated string in {{{{ {action} }}}}"));
            }
            words.push(word);
        } else {
            let mut word = String::new();
            while let Some(&inner) = chars.peek() {
                if inner.is_whitespace() {
                    break;
                }
                word.push(inner);
                chars.next();
            }
            words.push(word);
        }
    }
    Ok(words)
}

fn parse_operand(word: &str) -> Result<Expr, String> {
    if word == "." {
        return Ok(Expr::Dot);
    }
    if let Some(literal) = word.strip_prefix('"') {
        return Ok(Expr::Literal(literal.to_owned()));
    }
    if let Some(field) = word.strip_prefix('.') {
        if KNOWN_FIELDS.contains(&field) {
            return Ok(Expr::Field(field.to_owned()));
        }
        return Err(format!(
            "can't evaluate field {field} in alert template data"
        ));
    }
    Err(format!("unsupported template operand {word:?}"))
}

fn eval<'a>(expr: &Expr, data: &TemplateData<'a>) -> TValue<'a> {
    match expr {
        Expr::Dot => TValue::Whole,
        Expr::Literal(text) => TValue::Str(text.clone()),
        Expr::Json(inner) => TValue::Str(to_json(&eval(inner, data), data).to_string()),
        Expr::Index(map, key) => match eval(map, data) {
            TValue::Tags(tags) => match tags.and_then(|tags| tags.get(key)) {
                Some(value) => TValue::Str(value.clone()),
                None => TValue::Missing,
            },
            TValue::Fields(fields) => TValue::Field(fields.and_then(|fields| fields.get(key))),
            _ => TValue::Missing,
        },
        Expr::Field(name) => match name.as_str() {
            "Name" => TValue::Str(data.name.to_owned()),
            "TaskName" => TValue::Str(data.task_name.to_owned()),
            "Group" => TValue::Str(data.group.to_owned()),
            "Tags" => TValue::Tags(data.tags),
            "ID" => TValue::Str(data.id.unwrap_or_default().to_owned()),
            "Fields" => TValue::Fields(data.fields),
            "Level" => TValue::Str(data.level.unwrap_or_default().to_owned()),
            "Time" => TValue::Time(data.time.unwrap_or(0)),
            "Duration" => TValue::Duration(data.duration.unwrap_or(0)),
            "Message" => TValue::Str(data.message.unwrap_or_default().to_owned()),
            _ => TValue::Missing,
        },
    }
}

/// Go's `%v` of a float (`%g` with the shortest precision): plain digits, or the exponent
/// form when the exponent is below -4 or at least 6 (`1e+06`, `1e-05`).
pub fn go_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 {
            "+Inf".to_owned()
        } else {
            "-Inf".to_owned()
        };
    }
    if value == 0.0 {
        return "0".to_owned();
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if !(-4..6).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    } else {
        format!("{value}")
    }
}

fn print_field(value: &FieldValue) -> String {
    match value {
        FieldValue::Float(value) => go_float(*value),
        other => other.to_string(),
    }
}

fn print_map<'a>(entries: impl Iterator<Item = (&'a String, String)>) -> String {
    let body: Vec<String> = entries
        .map(|(key, value)| format!("{key}:{value}"))
        .collect();
    format!("map[{}]", body.join(" "))
}

fn print(value: &TValue<'_>, data: &TemplateData<'_>) -> String {
    match value {
        TValue::Str(text) => text.clone(),
        TValue::Tags(tags) => print_map(
            tags.iter()
                .copied()
                .flatten()
                .map(|(key, value)| (key, value.clone())),
        ),
        TValue::Fields(fields) => print_map(
            fields
                .iter()
                .copied()
                .flatten()
                .map(|(key, value)| (key, print_field(value))),
        ),
        TValue::Field(Some(field)) => print_field(field),
        TValue::Field(None) | TValue::Missing => "<no value>".to_owned(),
        TValue::Time(nanos) => format_go_time(*nanos),
        TValue::Duration(nanos) => weir_dsl::Duration(*nanos).to_string(),
        TValue::Whole => format!("{{{} {} {}}}", data.name, data.task_name, data.group),
    }
}

fn to_json(value: &TValue<'_>, data: &TemplateData<'_>) -> Json {
    let tags_json = |tags: Option<&Tags>| {
        Json::Object(
            tags.into_iter()
                .flatten()
                .map(|(key, value)| (key.clone(), Json::from(value.as_str())))
                .collect(),
        )
    };
    let fields_json = |fields: Option<&Fields>| {
        Json::Object(
            fields
                .into_iter()
                .flatten()
                .map(|(key, value)| (key.clone(), field_json(value)))
                .collect(),
        )
    };
    match value {
        TValue::Str(text) => Json::from(text.as_str()),
        TValue::Tags(tags) => tags_json(*tags),
        TValue::Fields(fields) => fields_json(*fields),
        TValue::Field(Some(field)) => field_json(field),
        TValue::Field(None) | TValue::Missing => Json::Null,
        TValue::Time(nanos) => Json::from(format_time(*nanos)),
        TValue::Duration(nanos) => Json::from(*nanos),
        TValue::Whole => {
            let mut object = BTreeMap::new();
            object.insert("Name", Json::from(data.name));
            object.insert("TaskName", Json::from(data.task_name));
            object.insert("Group", Json::from(data.group));
            object.insert("Tags", tags_json(data.tags));
            object.insert(
                "ServerInfo",
                serde_json::json!({"Hostname": "", "ClusterID": "", "ServerID": ""}),
            );
            if let Some(id) = data.id {
                object.insert("ID", Json::from(id));
                object.insert("Fields", fields_json(data.fields));
                object.insert("Level", Json::from(data.level.unwrap_or_default()));
                object.insert("Time", Json::from(format_time(data.time.unwrap_or(0))));
                object.insert("Duration", Json::from(data.duration.unwrap_or(0)));
            }
            if let Some(message) = data.message {
                object.insert("Message", Json::from(message));
            }
            Json::Object(
                object
                    .into_iter()
                    .map(|(key, value)| (key.to_owned(), value))
                    .collect(),
            )
        }
    }
}

/// `html/template`'s escaping of text.
fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '+' => out.push_str("&#43;"),
            '\0' => out.push('\u{FFFD}'),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data<'a>(tags: &'a Tags, fields: &'a Fields) -> TemplateData<'a> {
        TemplateData {
            name: "cpu",
            task_name: "task",
            group: "host=a",
            tags: Some(tags),
            id: Some("cpu:host=a"),
            fields: Some(fields),
            level: Some("CRITICAL"),
            time: Some(1_609_459_202_000_000_000),
            duration: Some(2_000_000_000),
            message: None,
        }
    }

    #[test]
    fn renders_the_supported_actions() {
        let tags: Tags = [("host".to_string(), "a".to_string())].into();
        let fields: Fields = [("value".to_string(), FieldValue::Float(100.0))].into();
        let data = data(&tags, &fields);
        let render = |source: &str| Template::parse(source, false).unwrap().render(&data);
        assert_eq!(render("{{ .Name }}:{{ .Group }}"), "cpu:host=a");
        assert_eq!(render("{{.ID}} is {{ .Level }}"), "cpu:host=a is CRITICAL");
        assert_eq!(
            render(r#"{{ index .Tags "host" }}={{ index .Fields "value" }}"#),
            "a=100"
        );
        assert_eq!(
            render("{{ .Time }} {{ .Duration }}"),
            "2021-01-01 00:00:02 +0000 UTC 2s"
        );
        assert_eq!(render("{{ .Tags }}"), "map[host:a]");
        assert_eq!(render(r#"{{ index .Tags "nope" }}"#), "<no value>");
        assert_eq!(render("{{ .TaskName }}"), "task");
        let json = Template::parse("{{ json . }}", true).unwrap().render(&data);
        assert!(json.starts_with("{&#34;Duration&#34;:2000000000"), "{json}");
        let parsed: serde_json::Value = serde_json::from_str(&json.replace("&#34;", "\"")).unwrap();
        assert_eq!(parsed["Fields"]["value"], 100.0);
        assert_eq!(parsed["Time"], "2021-01-01T00:00:02Z");
        assert!(Template::parse("{{ .Nope }}", false).is_err());
        assert!(Template::parse("{{ .Name", false).is_err());
        assert!(Template::parse("{{ printf .Name }}", false).is_err());
    }

    #[test]
    fn floats_print_like_go() {
        assert_eq!(go_float(100.0), "100");
        assert_eq!(go_float(2.5), "2.5");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_float(1234567.0), "1.234567e+06");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(-0.25), "-0.25");
    }
}
