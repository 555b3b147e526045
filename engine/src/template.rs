//! The subset of Go's `text/template` (and `html/template` escaping) that alert ids,
//! messages and details use: `{{ .Field }}`, `{{ index .Tags "x" }}`,
//! `{{ index .Fields "x" }}`, `{{ json . }}`, `{{ . }}`, string literals, `eq`/`ne`,
//! `printf` (Go's verbs `%v %s %d %f %g %%` with flags, width and precision), pipelines into
//! `json` and `printf`, and `{{ if }} {{ else if }} {{ else }} {{ end }}`.

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
    Eq(Box<Expr>, Box<Expr>, bool),
    Printf(String, Vec<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Action(Expr),
    If(Expr, Vec<Piece>, Vec<Piece>),
}

/// A lexed template item before `if`/`else`/`end` are matched.
enum Raw {
    Text(String),
    Action(String),
}

/// How a block of pieces ended.
enum Close {
    Eof,
    Else,
    ElseIf(Expr),
    End,
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
    Bool(bool),
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
        let mut pieces: Vec<Raw> = Vec::new();
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
                pieces.push(Raw::Text(text.to_owned()));
            }
            pieces.push(Raw::Action(action.trim().to_owned()));
            if trim_next {
                rest = rest.trim_start();
            }
        }
        if !rest.is_empty() {
            pieces.push(Raw::Text(rest.to_owned()));
        }
        let mut raw = pieces.into_iter();
        let (pieces, close) = block(&mut raw)?;
        match close {
            Close::Eof => Ok(Template { pieces, html }),
            _ => Err(format!(
                "{{{{ else }}}} or {{{{ end }}}} without {{{{ if }}}} in {source:?}"
            )),
        }
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
                Expr::Eq(left, right, _) => reads(left, name) || reads(right, name),
                Expr::Printf(_, args) => args.iter().any(|arg| reads(arg, name)),
            }
        }
        fn any(pieces: &[Piece], name: &str) -> bool {
            pieces.iter().any(|piece| match piece {
                Piece::Text(_) => false,
                Piece::Action(expr) => reads(expr, name),
                Piece::If(condition, then, otherwise) => {
                    reads(condition, name) || any(then, name) || any(otherwise, name)
                }
            })
        }
        any(&self.pieces, name)
    }

    /// Render with `data`.
    pub fn render(&self, data: &TemplateData<'_>) -> String {
        let mut out = String::with_capacity(64);
        self.render_into(&self.pieces, data, &mut out);
        out
    }

    fn render_into(&self, pieces: &[Piece], data: &TemplateData<'_>, out: &mut String) {
        for piece in pieces {
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
                Piece::If(condition, then, otherwise) => {
                    let branch = if truthy(&eval(condition, data)) {
                        then
                    } else {
                        otherwise
                    };
                    self.render_into(branch, data, out);
                }
            }
        }
    }
}

/// Pieces up to the next `else`/`end` (or the end of the template).
fn block(raw: &mut std::vec::IntoIter<Raw>) -> Result<(Vec<Piece>, Close), String> {
    let mut pieces = Vec::new();
    while let Some(item) = raw.next() {
        let action = match item {
            Raw::Text(text) => {
                pieces.push(Piece::Text(text));
                continue;
            }
            Raw::Action(action) => action,
        };
        let (keyword, rest) = action
            .split_once(char::is_whitespace)
            .map(|(keyword, rest)| (keyword, rest.trim()))
            .unwrap_or((action.as_str(), ""));
        match keyword {
            "end" if rest.is_empty() => return Ok((pieces, Close::End)),
            "else" if rest.is_empty() => return Ok((pieces, Close::Else)),
            "else" => match rest.split_once(char::is_whitespace) {
                Some(("if", condition)) => {
                    return Ok((pieces, Close::ElseIf(parse_action(condition.trim())?)));
                }
                _ => return Err(format!("unsupported template action {{{{ {action} }}}}")),
            },
            "if" => pieces.push(if_block(parse_action(rest)?, raw)?),
            "range" | "with" | "define" | "template" | "block" => {
                return Err(format!("unsupported template action {{{{ {action} }}}}"));
            }
            _ => pieces.push(Piece::Action(parse_action(&action)?)),
        }
    }
    Ok((pieces, Close::Eof))
}

/// The rest of an `if` whose condition was just read, through its `end`.
fn if_block(condition: Expr, raw: &mut std::vec::IntoIter<Raw>) -> Result<Piece, String> {
    let (then, close) = block(raw)?;
    let otherwise = match close {
        Close::End => Vec::new(),
        Close::Else => match block(raw)? {
            (otherwise, Close::End) => otherwise,
            _ => return Err("{{ if }} ... {{ else }} needs an {{ end }}".to_owned()),
        },
        // `else if` shares the outer `end`.
        Close::ElseIf(inner) => vec![if_block(inner, raw)?],
        Close::Eof => return Err("{{ if }} needs an {{ end }}".to_owned()),
    };
    Ok(Piece::If(condition, then, otherwise))
}

fn parse_action(action: &str) -> Result<Expr, String> {
    if let Some((left, right)) = split_pipe(action) {
        let inner = parse_action(left.trim())?;
        let words = split_words(right.trim())?;
        return match words.as_slice() {
            [function] if function == "json" => Ok(Expr::Json(Box::new(inner))),
            [function, format, rest @ ..] if function == "printf" => {
                let mut args = rest
                    .iter()
                    .map(|word| parse_operand(word))
                    .collect::<Result<Vec<Expr>, String>>()?;
                // A pipeline passes its value as the last argument.
                args.push(inner);
                Ok(Expr::Printf(literal(format)?, args))
            }
            _ => Err(format!("unsupported template function {:?}", right.trim())),
        };
    }
    let words = split_words(action)?;
    match words.as_slice() {
        [single] => parse_operand(single),
        [function, argument] if function == "json" => {
            Ok(Expr::Json(Box::new(parse_operand(argument)?)))
        }
        [function, left, right] if function == "eq" || function == "ne" => Ok(Expr::Eq(
            Box::new(parse_operand(left)?),
            Box::new(parse_operand(right)?),
            function == "eq",
        )),
        [function, format, rest @ ..] if function == "printf" => Ok(Expr::Printf(
            literal(format)?,
            rest.iter()
                .map(|word| parse_operand(word))
                .collect::<Result<Vec<Expr>, String>>()?,
        )),
        [function, map, key] if function == "index" => match parse_operand(key)? {
            Expr::Literal(key) => Ok(Expr::Index(Box::new(parse_operand(map)?), key)),
            _ => Err("index needs a string key".to_owned()),
        },
        _ => Err(format!("unsupported template action {{{{ {action} }}}}")),
    }
}

/// The last `|` outside string literals: `left | function`.
fn split_pipe(action: &str) -> Option<(&str, &str)> {
    let mut quote = None;
    let mut last = None;
    let mut escaped = false;
    for (idx, c) in action.char_indices() {
        match quote {
            Some(open) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && open == '"' {
                    escaped = true;
                } else if c == open {
                    quote = None;
                }
            }
            None if c == '"' || c == '`' => quote = Some(c),
            None if c == '|' => last = Some(idx),
            None => {}
        }
    }
    last.map(|idx| (&action[..idx], &action[idx + 1..]))
}

/// A string literal word (as [`split_words`] marks them: a leading `"`).
fn literal(word: &str) -> Result<String, String> {
    word.strip_prefix('"')
        .map(str::to_owned)
        .ok_or_else(|| format!("printf needs a literal format string, got {word}"))
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
        // `{{ json . }}` (every event's default details): serialized straight from the data.
        Expr::Json(inner) if **inner == Expr::Dot => TValue::Str(whole_json(data)),
        Expr::Json(inner) => TValue::Str(to_json(&eval(inner, data), data).to_string()),
        Expr::Eq(left, right, equal) => {
            let same = print(&eval(left, data), data) == print(&eval(right, data), data);
            TValue::Bool(same == *equal)
        }
        Expr::Printf(format, args) => {
            let values: Vec<TValue<'a>> = args.iter().map(|arg| eval(arg, data)).collect();
            TValue::Str(sprintf(format, &values, data))
        }
        Expr::Index(map, key) => match eval(map, data) {
            TValue::Tags(tags) => match tags.and_then(|tags| tags.get(key)) {
                Some(value) => TValue::Str(value.clone()),
                None => TValue::Missing,
            },
            TValue::Fields(fields) => {
                TValue::Field(fields.and_then(|fields| fields.get(key.as_str())))
            }
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

fn print_map<'a>(entries: impl Iterator<Item = (&'a str, String)>) -> String {
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
                .map(|(key, value)| (key.as_str(), value.clone())),
        ),
        TValue::Fields(fields) => print_map(
            fields
                .iter()
                .copied()
                .flatten()
                .map(|(key, value)| (key.as_str(), print_field(value))),
        ),
        TValue::Field(Some(field)) => print_field(field),
        TValue::Field(None) | TValue::Missing => "<no value>".to_owned(),
        TValue::Time(nanos) => format_go_time(*nanos),
        TValue::Duration(nanos) => weir_dsl::Duration(*nanos).to_string(),
        TValue::Bool(value) => value.to_string(),
        TValue::Whole => format!("{{{} {} {}}}", data.name, data.task_name, data.group),
    }
}

/// Go's truth of a value in `{{ if }}`: false, zero, empty and missing are false.
fn truthy(value: &TValue<'_>) -> bool {
    match value {
        TValue::Str(text) => !text.is_empty(),
        TValue::Tags(tags) => tags.is_some_and(|tags| !tags.is_empty()),
        TValue::Fields(fields) => fields.is_some_and(|fields| !fields.is_empty()),
        TValue::Field(Some(field)) => match field {
            FieldValue::Float(value) => *value != 0.0,
            FieldValue::Int(value) => *value != 0,
            FieldValue::String(value) => !value.is_empty(),
            FieldValue::Bool(value) => *value,
            #[allow(unreachable_patterns)]
            _ => false,
        },
        TValue::Field(None) | TValue::Missing => false,
        TValue::Time(nanos) | TValue::Duration(nanos) => *nanos != 0,
        TValue::Bool(value) => *value,
        TValue::Whole => true,
    }
}

fn number(value: &TValue<'_>) -> Option<f64> {
    match value {
        TValue::Field(Some(field)) => field.as_f64(),
        TValue::Duration(nanos) => Some(*nanos as f64),
        TValue::Str(text) => text.parse().ok(),
        _ => None,
    }
}

/// Go's `fmt.Sprintf` for the verbs templates use.
fn sprintf(format: &str, args: &[TValue<'_>], data: &TemplateData<'_>) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut next_arg = args.iter();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut left = false;
        let mut zero = false;
        let mut plus = false;
        while let Some(&flag) = chars.peek() {
            match flag {
                '-' => left = true,
                '0' => zero = true,
                '+' => plus = true,
                ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = String::new();
        while let Some(&digit) = chars.peek().filter(|c| c.is_ascii_digit()) {
            width.push(digit);
            chars.next();
        }
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut digits = String::new();
            while let Some(&digit) = chars.peek().filter(|c| c.is_ascii_digit()) {
                digits.push(digit);
                chars.next();
            }
            precision = Some(digits.parse().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = next_arg.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        let numeric = number(arg);
        let mut text = match (verb, numeric) {
            ('f' | 'F', Some(value)) => format!("{value:.*}", precision.unwrap_or(6)),
            ('e', Some(value)) => {
                let formatted = format!("{value:.*e}", precision.unwrap_or(6));
                let (mantissa, exponent) = formatted.split_once('e').unwrap_or((&formatted, "0"));
                let exponent: i32 = exponent.parse().unwrap_or(0);
                let sign = if exponent < 0 { '-' } else { '+' };
                format!("{mantissa}e{sign}{:02}", exponent.abs())
            }
            ('g', Some(value)) => go_float(value),
            ('d', Some(value)) if value.fract() == 0.0 => format!("{}", value as i64),
            ('s' | 'v' | 'q', _) => {
                let printed = print(arg, data);
                let printed = match precision {
                    Some(max) if verb == 's' => printed.chars().take(max).collect(),
                    _ => printed,
                };
                if verb == 'q' {
                    Json::from(printed).to_string()
                } else {
                    printed
                }
            }
            (verb, _) => format!("%!{verb}({})", print(arg, data)),
        };
        if plus && numeric.is_some_and(|value| value >= 0.0) && "dfFeg".contains(verb) {
            text.insert(0, '+');
        }
        let width: usize = width.parse().unwrap_or(0);
        let len = text.chars().count();
        if len < width {
            let pad = width - len;
            if left {
                text.push_str(&" ".repeat(pad));
            } else if zero && numeric.is_some() {
                let sign = text.starts_with(['-', '+']);
                let at = usize::from(sign);
                text.insert_str(at, &"0".repeat(pad));
            } else {
                text.insert_str(0, &" ".repeat(pad));
            }
        }
        out.push_str(&text);
    }
    out
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
                .map(|(key, value)| (key.to_string(), field_json(value)))
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
        TValue::Bool(value) => Json::Bool(*value),
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

/// The template data as JSON, exactly as [`to_json`] of `.` renders it, without building
/// a JSON tree first.
fn whole_json(data: &TemplateData<'_>) -> String {
    use serde::ser::{SerializeMap, Serializer};

    struct TagsJson<'a>(Option<&'a Tags>);
    impl serde::Serialize for TagsJson<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(self.0.map(|tags| tags.len()))?;
            for (key, value) in self.0.into_iter().flatten() {
                map.serialize_entry(key, value)?;
            }
            map.end()
        }
    }
    struct FieldsJson<'a>(Option<&'a Fields>);
    impl serde::Serialize for FieldsJson<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(self.0.map(|fields| fields.len()))?;
            for (key, value) in self.0.into_iter().flatten() {
                map.serialize_entry(key, &field_json(value))?;
            }
            map.end()
        }
    }
    #[derive(serde::Serialize)]
    struct ServerInfo {
        #[serde(rename = "ClusterID")]
        cluster_id: &'static str,
        #[serde(rename = "Hostname")]
        hostname: &'static str,
        #[serde(rename = "ServerID")]
        server_id: &'static str,
    }
    // Keys in the sorted order `to_json` produces.
    #[derive(serde::Serialize)]
    struct Whole<'a> {
        #[serde(rename = "Duration", skip_serializing_if = "Option::is_none")]
        duration: Option<i64>,
        #[serde(rename = "Fields", skip_serializing_if = "Option::is_none")]
        fields: Option<FieldsJson<'a>>,
        #[serde(rename = "Group")]
        group: &'a str,
        #[serde(rename = "ID", skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
        #[serde(rename = "Level", skip_serializing_if = "Option::is_none")]
        level: Option<&'a str>,
        #[serde(rename = "Message", skip_serializing_if = "Option::is_none")]
        message: Option<&'a str>,
        #[serde(rename = "Name")]
        name: &'a str,
        #[serde(rename = "ServerInfo")]
        server_info: ServerInfo,
        #[serde(rename = "Tags")]
        tags: TagsJson<'a>,
        #[serde(rename = "TaskName")]
        task_name: &'a str,
        #[serde(rename = "Time", skip_serializing_if = "Option::is_none")]
        time: Option<String>,
    }
    let event = data.id.is_some();
    let whole = Whole {
        duration: event.then(|| data.duration.unwrap_or(0)),
        fields: event.then_some(FieldsJson(data.fields)),
        group: data.group,
        id: data.id,
        level: event.then(|| data.level.unwrap_or_default()),
        message: data.message,
        name: data.name,
        server_info: ServerInfo {
            cluster_id: "",
            hostname: "",
            server_id: "",
        },
        tags: TagsJson(data.tags),
        task_name: data.task_name,
        time: event.then(|| format_time(data.time.unwrap_or(0))),
    };
    // Serializing borrowed strings and numbers cannot fail.
    serde_json::to_string(&whole).unwrap_or_default()
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
        let fields: Fields = [("value".into(), FieldValue::Float(100.0))].into();
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
    fn conditions_and_printf() {
        let tags: Tags = [("host".to_string(), "a".to_string())].into();
        let fields: Fields = [
            ("emitted".into(), FieldValue::Float(0.5)),
            ("n".into(), FieldValue::Int(7)),
        ]
        .into();
        let data = data(&tags, &fields);
        let render = |source: &str| Template::parse(source, false).unwrap().render(&data);
        // Kapacitor's deadman message.
        let deadman = "{{ .ID }} is {{ if eq .Level \"OK\" }}alive{{ else }}dead{{ end }}: \
            {{ index .Fields \"emitted\" | printf \"%0.3f\" }} points/10s.";
        assert_eq!(render(deadman), "cpu:host=a is dead: 0.500 points/10s.");
        assert_eq!(
            render("{{ if ne .Level \"OK\" }}bad{{ end }}|{{ if eq .Level \"OK\" }}ok{{ end }}"),
            "bad|"
        );
        assert_eq!(
            render(
                "{{ if eq .Level \"OK\" }}a{{ else if eq .Level \"CRITICAL\" }}c{{ else }}o{{ end }}"
            ),
            "c"
        );
        assert_eq!(
            render("{{ if index .Tags \"nope\" }}y{{ else }}n{{ end }}"),
            "n"
        );
        assert_eq!(
            render(r#"{{ printf "%s=%d|%%" .Name }}"#),
            "cpu=%!d(MISSING)|%"
        );
        assert_eq!(
            render(r#"{{ index .Fields "n" | printf "%05d" }}"#),
            "00007"
        );
        assert_eq!(
            render(r#"{{ index .Fields "emitted" | printf "%+8.2f|" }}{{ printf "%-5s|" .Name }}"#),
            "   +0.50|cpu  |"
        );
        assert_eq!(
            render(r#"{{ printf "%q %v" .Level .Duration }}"#),
            "\"CRITICAL\" 2s"
        );
        assert_eq!(render(r#"{{ "a|b" | printf "%s!" }}"#), "a|b!");
        let template = Template::parse(deadman, false).unwrap();
        assert!(template.reads("Fields") && !template.reads("Tags"));
        assert!(Template::parse("{{ if .Level }}x", false).is_err());
        assert!(Template::parse("{{ end }}", false).is_err());
        assert!(Template::parse("{{ range .Tags }}{{ end }}", false).is_err());
        assert!(Template::parse("{{ if .Level }}{{ else }}", false).is_err());
    }

    #[test]
    fn whole_json_matches_the_json_tree() {
        let tags: Tags = [("host".to_string(), "a\"b".to_string())].into();
        let fields: Fields = [
            ("value".into(), FieldValue::Float(100.5)),
            ("n".into(), FieldValue::Int(-3)),
            ("s".into(), FieldValue::String("x<y".into())),
            ("b".into(), FieldValue::Bool(true)),
        ]
        .into();
        let mut with_message = data(&tags, &fields);
        with_message.message = Some("cpu is CRITICAL");
        let id_only = TemplateData {
            name: "cpu",
            task_name: "task",
            group: "nil",
            tags: Some(&tags),
            ..TemplateData::default()
        };
        for data in [
            data(&tags, &fields),
            with_message,
            id_only,
            TemplateData::default(),
        ] {
            assert_eq!(
                whole_json(&data),
                to_json(&TValue::Whole, &data).to_string()
            );
        }
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
