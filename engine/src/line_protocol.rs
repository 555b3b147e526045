//! InfluxDB 1.x line protocol parsing for `/write` and recorded test data.
//!
//! [`parse`] turns a request body into [`Point`]s with InfluxDB 1.x semantics: every good line
//! is returned, and every bad line yields a [`LineError`] naming its line number, so the caller
//! can write the good points and answer 400 naming the first bad line, as InfluxDB does.
//!
//! The parser is written by hand rather than taken from the `influxdb-line-protocol` crate.
//! That crate implements InfluxDB IOx's dialect (unsigned integers accepted, different error
//! texts, no precision handling), so its output would need a second pass to reach 1.x
//! behaviour, and measured on the shape
//! `cpu,host=h1,region=r1 value=0.5,idle=3i 1700000000000000000` (criterion bench
//! `engine/benches/line_protocol.rs`, shared 2-core machine under load) this parser makes
//! about 580k owned points/s, the crate plus the conversion to owned [`Point`]s that `/write`
//! needs about 320k/s (the crate alone, borrowed lines only, about 1.0M lines/s). Most of the
//! time left is allocation of the owned `String`/`BTreeMap` point representation.
//!
//! Syntax, as in InfluxDB 1.x `models/points.go`:
//! - `measurement[,tag=value...] field=value[,field=value...] [timestamp]`, one point per line;
//!   blank lines and lines starting with `#` are skipped; a string field may contain newlines.
//! - Escapes: measurement `\,` `\ `; tag keys, tag values and field keys `\,` `\=` `\ `;
//!   string field values `\"` `\\`. Any other backslash is kept as it is.
//! - Field values: floats (`1`, `-1.5`, `1e3`), integers with `i` (`3i`), booleans
//!   (`t T true True TRUE f F false False FALSE`) and double-quoted strings. Unsigned
//!   integers (`3u`) are rejected, as InfluxDB 1.x does by default.
//! - Tags and fields come out sorted by key; a repeated field key keeps the last value.

use std::fmt;

use crate::point::{FieldValue, Fields, Point, Tags};

/// Timestamp precision of a write (`precision=` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    /// Nanoseconds (`n`, `ns`, or no parameter).
    #[default]
    Nanoseconds,
    /// Microseconds (`u`, `us`, `µ`).
    Microseconds,
    /// Milliseconds (`ms`).
    Milliseconds,
    /// Seconds (`s`).
    Seconds,
    /// Minutes (`m`).
    Minutes,
    /// Hours (`h`).
    Hours,
}

impl Precision {
    /// Parse the `precision` query parameter; an empty string is nanoseconds, and an unknown
    /// value is `None` (the caller answers 400).
    pub fn from_query(text: &str) -> Option<Precision> {
        Some(match text {
            "" | "n" | "ns" => Precision::Nanoseconds,
            "u" | "us" | "µ" | "µs" => Precision::Microseconds,
            "ms" => Precision::Milliseconds,
            "s" => Precision::Seconds,
            "m" => Precision::Minutes,
            "h" => Precision::Hours,
            _ => return None,
        })
    }

    /// Nanoseconds in one unit of this precision.
    pub fn nanos(self) -> i64 {
        match self {
            Precision::Nanoseconds => 1,
            Precision::Microseconds => 1_000,
            Precision::Milliseconds => 1_000_000,
            Precision::Seconds => 1_000_000_000,
            Precision::Minutes => 60_000_000_000,
            Precision::Hours => 3_600_000_000_000,
        }
    }

    /// The query-parameter spelling InfluxDB 1.x understands (`n`, `u`, `ms`, `s`, `m`, `h`).
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Nanoseconds => "n",
            Precision::Microseconds => "u",
            Precision::Milliseconds => "ms",
            Precision::Seconds => "s",
            Precision::Minutes => "m",
            Precision::Hours => "h",
        }
    }

    /// Truncate a nanosecond timestamp towards negative infinity to this precision.
    pub fn truncate(self, time_ns: i64) -> i64 {
        let unit = self.nanos();
        time_ns.div_euclid(unit) * unit
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number in the body where the bad point starts.
    pub line: usize,
    /// The text of the bad line.
    pub text: String,
    /// What is wrong with it (`missing field value`, `bad timestamp`, ...).
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: unable to parse '{}': {}",
            self.line, self.text, self.message
        )
    }
}

impl std::error::Error for LineError {}

/// Parse a line-protocol body.
///
/// Timestamps are multiplied by `precision`; a line without one gets `default_time_ns`
/// truncated to `precision` (InfluxDB's `SetPrecision`). Returns the good points in order and
/// one [`LineError`] per bad line; a bad line never stops the parse.
///
/// ```
/// use weir_engine::line_protocol::{parse, Precision};
/// let (points, errors) = parse("cpu,host=a value=0.5 1700000000\ncpu value=", Precision::Seconds, 0);
/// assert_eq!(points[0].time, 1_700_000_000_000_000_000);
/// assert_eq!(errors[0].line, 2);
/// assert_eq!(errors[0].message, "missing field value");
/// ```
pub fn parse(
    body: &str,
    precision: Precision,
    default_time_ns: i64,
) -> (Vec<Point>, Vec<LineError>) {
    let default_time_ns = precision.truncate(default_time_ns);
    let mut points = Vec::with_capacity(body.len() / 64 + 1);
    let mut errors = Vec::new();
    // Series seen earlier in this body, by their raw text: the measurement and tags are
    // parsed once per series, and the points of one series share one tag set.
    let mut series: SeriesCache<'_> = SeriesCache::default();
    let bytes = body.as_bytes();
    let mut pos = 0;
    let mut line_number = 1;
    while pos < bytes.len() {
        let end = scan_line(bytes, pos);
        let block = &body[pos..end];
        let start_line = line_number;
        line_number += 1 + count_newlines(block);
        pos = end + 1;
        let trimmed = block.trim_start_matches([' ', '\t', '\r']);
        let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
        if trimmed.trim_end().is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match parse_point_cached(trimmed, &mut series, precision, default_time_ns) {
            Ok(point) => points.push(point),
            Err(message) => errors.push(LineError {
                line: start_line,
                text: trimmed.to_owned(),
                message: message.to_owned(),
            }),
        }
    }
    (points, errors)
}

/// Parse one line (no newline outside a string field) into a point; the error is the bare
/// message, as in [`LineError::message`].
pub fn parse_line(
    line: &str,
    precision: Precision,
    default_time_ns: i64,
) -> Result<Point, &'static str> {
    parse_point(line.trim(), precision, precision.truncate(default_time_ns))
}

fn count_newlines(text: &str) -> usize {
    text.bytes().filter(|&byte| byte == b'\n').count()
}

/// The end of the line starting at `start`: the next `\n` outside a quoted field value
/// (InfluxDB's `scanLine`).
fn scan_line(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    let mut quoted = false;
    let mut in_fields = false;
    let mut equals = 0usize;
    let mut commas = 0usize;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'\\' && i + 2 < bytes.len() {
            i += 2;
            continue;
        }
        if byte == b' ' {
            in_fields = true;
        }
        if in_fields {
            if !quoted && byte == b'=' {
                equals += 1;
                i += 1;
                continue;
            } else if !quoted && byte == b',' {
                commas += 1;
                i += 1;
                continue;
            } else if byte == b'"' && equals > commas {
                quoted = !quoted;
                i += 1;
                continue;
            }
        }
        if byte == b'\n' && !quoted {
            return i;
        }
        i += 1;
    }
    bytes.len()
}

/// Scan from `start` to the first unescaped byte in `stops`; returns the end and whether a
/// backslash was seen.
#[inline]
fn scan_until(bytes: &[u8], start: usize, stops: &[u8]) -> (usize, bool) {
    let mut i = start;
    let mut escaped = false;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'\\' {
            escaped = true;
            i += 2;
            continue;
        }
        if stops.contains(&byte) {
            return (i, escaped);
        }
        i += 1;
    }
    (bytes.len(), escaped)
}

/// Remove the backslash in front of each of `chars`; other backslashes stay.
fn unescape(text: &str, chars: &[u8], had_escape: bool) -> String {
    if !had_escape {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 1 < bytes.len() && chars.contains(&bytes[i + 1]) {
            out.push(bytes[i + 1]);
            i += 2;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    // Only ASCII bytes were removed from valid UTF-8, so the result is valid UTF-8.
    String::from_utf8(out).unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into())
}

const MEASUREMENT_ESCAPES: &[u8] = b", ";
const KEY_ESCAPES: &[u8] = b",= ";
const STRING_ESCAPES: &[u8] = b"\"\\";

/// Series of one body: raw `measurement,tags` text → its parsed name and shared tags.
type SeriesCache<'a> = rustc_hash::FxHashMap<&'a str, (crate::point::Name, Tags)>;

/// Most series remembered per body (a body with more parses the rest without the cache).
const MAX_CACHED_SERIES: usize = 100_000;

fn parse_point_cached<'a>(
    line: &'a str,
    series: &mut SeriesCache<'a>,
    precision: Precision,
    default_time_ns: i64,
) -> Result<Point, &'static str> {
    let (key_end, _) = scan_until(line.as_bytes(), 0, b" ");
    if let Some((name, tags)) = series.get(&line[..key_end]) {
        let (fields, time) = parse_fields_and_time(line, key_end, precision, default_time_ns)?;
        return Ok(Point {
            name: name.clone(),
            tags: tags.clone(),
            fields,
            time,
        });
    }
    let (name, tags, pos) = parse_series(line)?;
    let (fields, time) = parse_fields_and_time(line, pos, precision, default_time_ns)?;
    if pos == key_end && series.len() < MAX_CACHED_SERIES {
        series.insert(&line[..pos], (name.clone(), tags.clone()));
    }
    Ok(Point {
        name,
        tags,
        fields,
        time,
    })
}

fn parse_point(
    line: &str,
    precision: Precision,
    default_time_ns: i64,
) -> Result<Point, &'static str> {
    let (name, tags, pos) = parse_series(line)?;
    let (fields, time) = parse_fields_and_time(line, pos, precision, default_time_ns)?;
    Ok(Point {
        name,
        tags,
        fields,
        time,
    })
}

/// The measurement and tags; returns them and the position after the tags.
fn parse_series(line: &str) -> Result<(crate::point::Name, Tags, usize), &'static str> {
    let bytes = line.as_bytes();
    let len = bytes.len();

    let (measurement_end, escaped) = scan_until(bytes, 0, b", ");
    let measurement_end = measurement_end.min(len);
    if measurement_end == 0 {
        return Err("missing measurement");
    }
    let name = unescape(&line[..measurement_end], MEASUREMENT_ESCAPES, escaped);
    let mut pos = measurement_end;

    let mut tags = crate::vec_map::VecMap::with_capacity(4);
    while pos < len && bytes[pos] == b',' {
        pos += 1;
        let (key_end, key_escaped) = scan_until(bytes, pos, b",= ");
        let key_end = key_end.min(len);
        if key_end >= len || bytes[key_end] != b'=' {
            return Err("missing tag value");
        }
        if key_end == pos {
            return Err("missing tag key");
        }
        let key = unescape(&line[pos..key_end], KEY_ESCAPES, key_escaped);
        let value_start = key_end + 1;
        let (value_end, value_escaped) = scan_until(bytes, value_start, b",= ");
        let value_end = value_end.min(len);
        if value_end == value_start {
            return Err("missing tag value");
        }
        if value_end < len && bytes[value_end] == b'=' {
            return Err("invalid tag format");
        }
        let value = unescape(&line[value_start..value_end], KEY_ESCAPES, value_escaped);
        if tags.insert(key, value).is_some() {
            return Err("duplicate tags");
        }
        pos = value_end;
    }
    Ok((name.into(), Tags::from(tags), pos))
}

/// The fields and timestamp after the series, from `pos` (at the space after the tags).
fn parse_fields_and_time(
    line: &str,
    mut pos: usize,
    precision: Precision,
    default_time_ns: i64,
) -> Result<(Fields, i64), &'static str> {
    let bytes = line.as_bytes();
    let len = bytes.len();
    // Fields start after one or more spaces.
    if pos >= len {
        return Err("missing fields");
    }
    while pos < len && bytes[pos] == b' ' {
        pos += 1;
    }
    if pos >= len {
        return Err("missing fields");
    }

    FIELDS.with_borrow_mut(|fields| {
        fields.clear();
        parse_fields(line, pos, fields, precision, default_time_ns)
    })
}

thread_local! {
    /// The fields of the line being parsed, before they become one shared block.
    static FIELDS: std::cell::RefCell<Vec<(crate::point::Name, FieldValue)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Parse fields into `fields` (kept sorted by key, the last of equal keys winning) and the
/// timestamp after them.
fn parse_fields(
    line: &str,
    mut pos: usize,
    fields: &mut Vec<(crate::point::Name, FieldValue)>,
    precision: Precision,
    default_time_ns: i64,
) -> Result<(Fields, i64), &'static str> {
    let bytes = line.as_bytes();
    let len = bytes.len();
    loop {
        let (key_end, key_escaped) = scan_until(bytes, pos, b",= ");
        let key_end = key_end.min(len);
        if key_end >= len || bytes[key_end] != b'=' {
            return Err("missing field value");
        }
        if key_end == pos {
            return Err("missing field key");
        }
        // Field keys are inline names: no allocation for keys up to 24 bytes.
        let key: crate::point::Name = if key_escaped {
            unescape(&line[pos..key_end], KEY_ESCAPES, true).into()
        } else {
            (&line[pos..key_end]).into()
        };
        let value_start = key_end + 1;
        if value_start >= len {
            return Err("missing field value");
        }
        let (value, value_end) = if bytes[value_start] == b'"' {
            parse_string_value(line, value_start)?
        } else {
            let value_end = bytes[value_start..]
                .iter()
                .position(|&byte| byte == b',' || byte == b' ')
                .map_or(len, |offset| value_start + offset);
            (
                parse_scalar_value(&line[value_start..value_end])?,
                value_end,
            )
        };
        match fields.binary_search_by(|(candidate, _)| candidate.cmp(&key)) {
            Ok(index) => fields[index].1 = value,
            Err(index) => fields.insert(index, (key, value)),
        }
        pos = value_end;
        if pos >= len || bytes[pos] == b' ' {
            break;
        }
        // bytes[pos] is ',' here: another field follows.
        pos += 1;
        if pos >= len {
            return Err("missing field key");
        }
    }

    while pos < len && bytes[pos] == b' ' {
        pos += 1;
    }
    let time_text = line[pos..].trim_end();
    let time = if time_text.is_empty() {
        default_time_ns
    } else {
        let value: i64 = parse_integer(time_text).ok_or("bad timestamp")?;
        value
            .checked_mul(precision.nanos())
            .ok_or("time outside range")?
    };
    Ok((Fields::from_sorted_scratch(fields), time))
}

/// A quoted string starting at `start` (the opening quote); returns the value and the index
/// after the closing quote.
fn parse_string_value(line: &str, start: usize) -> Result<(FieldValue, usize), &'static str> {
    let bytes = line.as_bytes();
    let mut i = start + 1;
    let mut escaped = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                escaped = true;
                i += 2;
            }
            b'"' => {
                let value = unescape(&line[start + 1..i], STRING_ESCAPES, escaped);
                let end = i + 1;
                if end < bytes.len() && bytes[end] != b',' && bytes[end] != b' ' {
                    return Err("invalid field format");
                }
                return Ok((FieldValue::String(value), end));
            }
            _ => i += 1,
        }
    }
    Err("unbalanced quotes")
}

fn parse_scalar_value(text: &str) -> Result<FieldValue, &'static str> {
    let bytes = text.as_bytes();
    let Some(&first) = bytes.first() else {
        return Err("missing field value");
    };
    if first.is_ascii_digit() || first == b'-' || first == b'.' || first == b'+' {
        let last = bytes[bytes.len() - 1];
        if last == b'i' {
            let digits = &text[..text.len() - 1];
            return parse_integer(digits).map(FieldValue::Int).ok_or(
                if is_integer_syntax(digits) {
                    "integer out of range"
                } else {
                    "invalid number"
                },
            );
        }
        if last == b'u' {
            return Err("unsigned integers are not supported");
        }
        let valid_chars = bytes
            .iter()
            .all(|&byte| byte.is_ascii_digit() || matches!(byte, b'-' | b'+' | b'.' | b'e' | b'E'));
        if !valid_chars || first == b'+' {
            return Err("invalid number");
        }
        return match text.parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(FieldValue::Float(value)),
            Ok(_) => Err("float out of range"),
            Err(_) => Err("invalid number"),
        };
    }
    match text {
        "t" | "T" | "true" | "True" | "TRUE" => Ok(FieldValue::Bool(true)),
        "f" | "F" | "false" | "False" | "FALSE" => Ok(FieldValue::Bool(false)),
        _ => Err("invalid boolean"),
    }
}

fn is_integer_syntax(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit())
}

/// A decimal `i64` with an optional leading `-`, nothing else (no `+`, no spaces).
#[inline]
fn parse_integer(text: &str) -> Option<i64> {
    if !is_integer_syntax(text) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Point {
        let (points, errors) = parse(line, Precision::Nanoseconds, 42);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(points.len(), 1);
        points.into_iter().next().unwrap()
    }

    fn error(line: &str) -> String {
        let (points, errors) = parse(line, Precision::Nanoseconds, 42);
        assert!(points.is_empty(), "{points:?}");
        assert_eq!(errors.len(), 1);
        errors[0].message.clone()
    }

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_the_bench_shape() {
        let point = one("cpu,host=h1,region=r1 value=0.5,idle=3i 1700000000000000000");
        assert_eq!(point.name, "cpu");
        assert_eq!(point.tags, tags(&[("host", "h1"), ("region", "r1")]));
        assert_eq!(point.fields["value"], FieldValue::Float(0.5));
        assert_eq!(point.fields["idle"], FieldValue::Int(3));
        assert_eq!(point.time, 1_700_000_000_000_000_000);
    }

    #[test]
    fn parses_every_field_type() {
        let point = one(r#"m f=-1.5e3,i=-7i,b=t,B=FALSE,s="hi there",n=12,d=.5"#);
        assert_eq!(point.fields["f"], FieldValue::Float(-1500.0));
        assert_eq!(point.fields["i"], FieldValue::Int(-7));
        assert_eq!(point.fields["b"], FieldValue::Bool(true));
        assert_eq!(point.fields["B"], FieldValue::Bool(false));
        assert_eq!(point.fields["s"], FieldValue::String("hi there".into()));
        assert_eq!(point.fields["n"], FieldValue::Float(12.0));
        assert_eq!(point.fields["d"], FieldValue::Float(0.5));
        assert_eq!(point.time, 42);
        for text in ["t", "T", "true", "True", "TRUE"] {
            assert_eq!(
                one(&format!("m b={text}")).fields["b"],
                FieldValue::Bool(true)
            );
        }
        for text in ["f", "F", "false", "False", "FALSE"] {
            assert_eq!(
                one(&format!("m b={text}")).fields["b"],
                FieldValue::Bool(false)
            );
        }
    }

    #[test]
    fn unescapes_measurement_tags_and_fields() {
        let point = one(r#"my\ cpu\,x,ho\=st\ k=a\,b\ c\=d f\ k\=\,=1,s="say \"hi\" c:\\dir \n""#);
        assert_eq!(point.name, "my cpu,x");
        assert_eq!(point.tags, tags(&[("ho=st k", "a,b c=d")]));
        assert_eq!(point.fields["f k=,"], FieldValue::Float(1.0));
        assert_eq!(
            point.fields["s"],
            FieldValue::String(r#"say "hi" c:\dir \n"#.into())
        );
        // `\=` is not an escape in a measurement, and other backslashes stay.
        assert_eq!(one(r"a\=b,t=x\y v=1").name, r"a\=b");
        assert_eq!(one(r"a\=b,t=x\y v=1").tags, tags(&[("t", r"x\y")]));
    }

    #[test]
    fn string_fields_may_contain_newlines_and_separators() {
        let body = "m s=\"line one\nline, two=x\" 5\nm s=\"b\" 6\n";
        let (points, errors) = parse(body, Precision::Nanoseconds, 0);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            points[0].fields["s"],
            FieldValue::String("line one\nline, two=x".into())
        );
        assert_eq!(points[0].time, 5);
        assert_eq!(points[1].time, 6);
    }

    #[test]
    fn applies_precision_and_default_time() {
        let cases = [
            ("n", 1),
            ("u", 1_000),
            ("ms", 1_000_000),
            ("s", 1_000_000_000),
            ("m", 60_000_000_000),
            ("h", 3_600_000_000_000),
        ];
        for (text, nanos) in cases {
            let precision = Precision::from_query(text).unwrap();
            assert_eq!(precision.as_str(), text);
            let (points, _) = parse("m v=1 3", precision, 0);
            assert_eq!(points[0].time, 3 * nanos, "{text}");
        }
        assert_eq!(Precision::from_query(""), Some(Precision::Nanoseconds));
        assert_eq!(Precision::from_query("us"), Some(Precision::Microseconds));
        assert_eq!(Precision::from_query("x"), None);
        let (points, _) = parse("m v=1", Precision::Seconds, 1_500_000_000);
        assert_eq!(points[0].time, 1_000_000_000);
        let (points, _) = parse("m v=1 -2", Precision::Seconds, 0);
        assert_eq!(points[0].time, -2_000_000_000);
    }

    #[test]
    fn skips_blank_lines_comments_and_carriage_returns() {
        let body = "\n# comment\n   \ncpu v=1 1\r\n  cpu v=2 2\n\n";
        let (points, errors) = parse(body, Precision::Nanoseconds, 0);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            points.iter().map(|p| p.time).collect::<Vec<_>>(),
            vec![1, 2]
        );
    }

    #[test]
    fn bad_lines_are_reported_with_line_numbers_and_good_lines_kept() {
        let body = "cpu v=1 1\ncpu,host=a value=\n\ncpu v=2 2\ncpu v=3 x\n";
        let (points, errors) = parse(body, Precision::Nanoseconds, 0);
        assert_eq!(points.len(), 2);
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].line, 2);
        assert_eq!(errors[0].text, "cpu,host=a value=");
        assert_eq!(errors[0].message, "missing field value");
        assert_eq!(
            errors[0].to_string(),
            "line 2: unable to parse 'cpu,host=a value=': missing field value"
        );
        assert_eq!(errors[1].line, 5);
        assert_eq!(errors[1].message, "bad timestamp");
    }

    #[test]
    fn line_numbers_count_newlines_inside_strings() {
        let body = "m s=\"a\nb\nc\"\nm v=\n";
        let (_, errors) = parse(body, Precision::Nanoseconds, 0);
        assert_eq!(errors[0].line, 4);
    }

    #[test]
    fn rejects_malformed_lines() {
        assert_eq!(error("cpu"), "missing fields");
        assert_eq!(error("cpu "), "missing fields");
        assert_eq!(error(",t=1 v=1"), "missing measurement");
        assert_eq!(error("cpu,host v=1"), "missing tag value");
        assert_eq!(error("cpu,=a v=1"), "missing tag key");
        assert_eq!(error("cpu,host= v=1"), "missing tag value");
        assert_eq!(error("cpu,a=b=c v=1"), "invalid tag format");
        assert_eq!(error("cpu,a=1,a=2 v=1"), "duplicate tags");
        assert_eq!(error("cpu v"), "missing field value");
        assert_eq!(error("cpu =1"), "missing field key");
        assert_eq!(error("cpu v=1,"), "missing field key");
        assert_eq!(error("cpu v=abc"), "invalid boolean");
        assert_eq!(error("cpu v=1.2.3"), "invalid number");
        assert_eq!(error("cpu v=1x"), "invalid number");
        assert_eq!(error("cpu v=+1"), "invalid number");
        assert_eq!(error("cpu v=1e999"), "float out of range");
        assert_eq!(error("cpu v=99999999999999999999i"), "integer out of range");
        assert_eq!(error("cpu v=1.5i"), "invalid number");
        assert_eq!(error("cpu v=3u"), "unsigned integers are not supported");
        assert_eq!(error("cpu v=\"open"), "unbalanced quotes");
        assert_eq!(error("cpu v=\"a\"b"), "invalid field format");
        assert_eq!(error("cpu v=1 12a"), "bad timestamp");
        assert_eq!(error("cpu v=1 1 2"), "bad timestamp");
        assert_eq!(error("cpu v=1 +1"), "bad timestamp");
        let (_, errors) = parse("cpu v=1 9223372036854775807", Precision::Seconds, 0);
        assert_eq!(errors[0].message, "time outside range");
    }

    #[test]
    fn repeated_field_keeps_the_last_value_and_multiple_spaces_are_fine() {
        let point = one("cpu   v=1,v=2   7  ");
        assert_eq!(point.fields["v"], FieldValue::Float(2.0));
        assert_eq!(point.time, 7);
    }

    #[test]
    fn never_panics_on_truncated_input() {
        let line = r#"my\ m,t\=k=v\,1 s="a\"b",i=3i,f=1.5,b=t 1700000000"#;
        for end in 0..=line.len() {
            if line.is_char_boundary(end) {
                let _ = parse(&line[..end], Precision::Milliseconds, 0);
            }
        }
        let _ = parse("\\", Precision::Nanoseconds, 0);
        let _ = parse("m,\\", Precision::Nanoseconds, 0);
        let _ = parse("m v=\"\\", Precision::Nanoseconds, 0);
        let _ = parse("é,ü=ö v=\"ß\\é\"", Precision::Nanoseconds, 0);
    }

    #[test]
    fn parse_line_parses_one_line() {
        let point = parse_line(" m v=1i 5 ", Precision::Nanoseconds, 0).unwrap();
        assert_eq!(point.fields["v"], FieldValue::Int(5 - 4));
        assert_eq!(
            parse_line("m", Precision::Nanoseconds, 0),
            Err("missing fields")
        );
    }
}
