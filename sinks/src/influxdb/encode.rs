//! Pure line-protocol encoding of [`Point`]s, golden-tested below.
//!
//! Escaping follows InfluxDB 1.x and Telegraf: measurement `,` and space; tag keys, tag values
//! and field keys `,`, `=` and space; string field values `"` and `\`. Tabs, newlines, form
//! feeds and carriage returns in names and tag values are written as `\t`, `\n`, `\f`, `\r`
//! (two characters), since a raw newline would end the line. A trailing backslash in a name
//! or tag value is dropped: line protocol cannot express it. Tags with an empty key or value
//! are left out (InfluxDB rejects them), as are non-finite floats; a point left with no field
//! is skipped and counted. Tags and fields come out sorted, floats in shortest round-trip
//! form (`ryu`), integers with `i`, timestamps in the precision asked for (rounded down).

use weir_engine::line_protocol::Precision;
use weir_engine::{FieldValue, Point};

/// What [`encode_points`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncodeSummary {
    /// Points written as lines.
    pub encoded: usize,
    /// Points skipped because no field could be encoded.
    pub skipped: usize,
}

/// Append one line per point (each ending in `\n`) to `out`.
pub fn encode_points(out: &mut Vec<u8>, points: &[Point], precision: Precision) -> EncodeSummary {
    let mut summary = EncodeSummary::default();
    out.reserve(points.len() * 64);
    for point in points {
        if encode_point(out, point, precision) {
            summary.encoded += 1;
        } else {
            summary.skipped += 1;
        }
    }
    summary
}

/// Append `point` as one line ending in `\n`; returns false (and appends nothing) when the
/// point has no encodable field or an empty measurement.
pub fn encode_point(out: &mut Vec<u8>, point: &Point, precision: Precision) -> bool {
    let start = out.len();
    write_escaped(out, &point.name, MEASUREMENT);
    if out.len() == start {
        // The name was empty or only a trailing backslash.
        return false;
    }
    for (key, value) in &point.tags {
        if value.is_empty() {
            continue;
        }
        let before = out.len();
        out.push(b',');
        write_escaped(out, key, TAG);
        let key_end = out.len();
        out.push(b'=');
        write_escaped(out, value, TAG);
        if key_end == before + 1 || out.len() == key_end + 1 {
            out.truncate(before);
        }
    }
    let mut separator = b' ';
    for (key, value) in &point.fields {
        if !is_encodable(value) {
            continue;
        }
        let before = out.len();
        out.push(separator);
        write_escaped(out, key, TAG);
        if out.len() == before + 1 {
            out.truncate(before);
            continue;
        }
        separator = b',';
        out.push(b'=');
        write_value(out, value);
    }
    if separator == b' ' {
        out.truncate(start);
        return false;
    }
    out.push(b' ');
    let time = match precision {
        Precision::Nanoseconds => point.time,
        _ => point.time.div_euclid(precision.nanos()),
    };
    out.extend_from_slice(itoa::Buffer::new().format(time).as_bytes());
    out.push(b'\n');
    true
}

/// Encode to a `String` (tests, the file sink's callers, debugging).
pub fn to_line(point: &Point, precision: Precision) -> Option<String> {
    let mut out = Vec::new();
    if !encode_point(&mut out, point, precision) {
        return None;
    }
    out.pop();
    // Only ASCII was inserted into valid UTF-8 strings, so this cannot fail.
    String::from_utf8(out).ok()
}

fn is_encodable(value: &FieldValue) -> bool {
    match value {
        FieldValue::Float(value) => value.is_finite(),
        // Line protocol has no null: the field is left out, like a non-finite float.
        FieldValue::Null => false,
        _ => true,
    }
}

fn write_value(out: &mut Vec<u8>, value: &FieldValue) {
    match value {
        FieldValue::Float(value) => {
            out.extend_from_slice(ryu::Buffer::new().format_finite(*value).as_bytes())
        }
        FieldValue::Int(value) => {
            out.extend_from_slice(itoa::Buffer::new().format(*value).as_bytes());
            out.push(b'i');
        }
        FieldValue::Bool(value) => out.extend_from_slice(if *value { b"true" } else { b"false" }),
        // Never written: `is_encodable` leaves nulls out.
        FieldValue::Null => {}
        FieldValue::String(value) => {
            out.push(b'"');
            let bytes = value.as_bytes();
            if bytes.iter().any(|&byte| byte == b'"' || byte == b'\\') {
                for &byte in bytes {
                    if byte == b'"' || byte == b'\\' {
                        out.push(b'\\');
                    }
                    out.push(byte);
                }
            } else {
                out.extend_from_slice(bytes);
            }
            out.push(b'"');
        }
    }
}

/// Which bytes need a backslash: bit 0 in measurements, bit 1 in tag keys, tag values and
/// field keys.
const MEASUREMENT: u8 = 1;
const TAG: u8 = 2;

const fn escape_table() -> [u8; 256] {
    let mut table = [0u8; 256];
    table[b',' as usize] = MEASUREMENT | TAG;
    table[b' ' as usize] = MEASUREMENT | TAG;
    table[b'=' as usize] = TAG;
    table[b'\t' as usize] = MEASUREMENT | TAG;
    table[b'\n' as usize] = MEASUREMENT | TAG;
    table[0x0c] = MEASUREMENT | TAG;
    table[b'\r' as usize] = MEASUREMENT | TAG;
    table[b'\\' as usize] = MEASUREMENT | TAG;
    table
}

static ESCAPES: [u8; 256] = escape_table();

#[inline]
fn write_escaped(out: &mut Vec<u8>, text: &str, kind: u8) {
    let bytes = text.as_bytes();
    if !bytes.iter().any(|&byte| ESCAPES[byte as usize] & kind != 0) {
        out.extend_from_slice(bytes);
        return;
    }
    let trimmed = text.trim_end_matches('\\').as_bytes();
    for (byte_idx, &byte) in trimmed.iter().enumerate() {
        match byte {
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            // A backslash is kept unless an escaped byte follows it: InfluxDB has no way to
            // write a literal backslash before an escape, and keeping it would split the line.
            b'\\' => {
                let next = trimmed.get(byte_idx + 1).copied().unwrap_or(b' ');
                if ESCAPES[next as usize] & kind == 0 {
                    out.push(b'\\');
                }
            }
            byte if ESCAPES[byte as usize] & kind != 0 => {
                out.push(b'\\');
                out.push(byte);
            }
            byte => out.push(byte),
        }
    }
}

#[cfg(test)]
mod tests {
    use weir_engine::line_protocol::parse;
    use weir_engine::{Fields, Tags};

    use super::*;

    fn point(
        name: &str,
        tags: &[(&str, &str)],
        fields: Vec<(&str, FieldValue)>,
        time: i64,
    ) -> Point {
        Point {
            name: name.into(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Tags>(),
            fields: fields
                .into_iter()
                .map(|(k, v)| ((*k).into(), v))
                .collect::<Fields>(),
            time,
        }
    }

    fn line(point: &Point) -> String {
        to_line(point, Precision::Nanoseconds).unwrap()
    }

    #[test]
    fn golden_lines() {
        let cases = [
            (
                point(
                    "cpu",
                    &[("region", "r1"), ("host", "h1")],
                    vec![
                        ("value", FieldValue::Float(0.5)),
                        ("idle", FieldValue::Int(3)),
                    ],
                    1_700_000_000_000_000_000,
                ),
                "cpu,host=h1,region=r1 idle=3i,value=0.5 1700000000000000000",
            ),
            (
                point(
                    "m",
                    &[],
                    vec![
                        ("f", FieldValue::Float(1.0)),
                        ("g", FieldValue::Float(1e21)),
                        ("h", FieldValue::Float(-0.1)),
                        ("k", FieldValue::Float(1.5e-7)),
                    ],
                    0,
                ),
                "m f=1.0,g=1e21,h=-0.1,k=1.5e-7 0",
            ),
            (
                point(
                    "m",
                    &[],
                    vec![
                        ("b", FieldValue::Bool(true)),
                        ("c", FieldValue::Bool(false)),
                        ("i", FieldValue::Int(i64::MIN)),
                        ("s", FieldValue::String("hi".into())),
                    ],
                    -5,
                ),
                "m b=true,c=false,i=-9223372036854775808i,s=\"hi\" -5",
            ),
            (
                point(
                    "my cpu,x=y",
                    &[("ho=st k", "a,b c=d")],
                    vec![("f k=,", FieldValue::Float(2.0))],
                    1,
                ),
                r"my\ cpu\,x=y,ho\=st\ k=a\,b\ c\=d f\ k\=\,=2.0 1",
            ),
            (
                point(
                    "m",
                    &[],
                    vec![("s", FieldValue::String("say \"hi\" c:\\dir\nnext".into()))],
                    1,
                ),
                "m s=\"say \\\"hi\\\" c:\\\\dir\nnext\" 1",
            ),
            (
                point(
                    "a\nb\tc",
                    &[("t", "x\r\ny"), ("empty", ""), ("", "v")],
                    vec![("v", FieldValue::Int(1))],
                    1,
                ),
                r"a\nb\tc,t=x\r\ny v=1i 1",
            ),
            (
                point(
                    r"back\slash\",
                    &[("t", r"v\"), ("u", r"\")],
                    vec![("v", FieldValue::Int(1))],
                    1,
                ),
                r"back\slash,t=v v=1i 1",
            ),
            (
                point(
                    r"x\,y",
                    &[("t", r"a\,b\=c\d")],
                    vec![("v", FieldValue::Int(1))],
                    1,
                ),
                r"x\,y,t=a\,b\=c\d v=1i 1",
            ),
            (
                point(
                    "nan",
                    &[],
                    vec![
                        ("a", FieldValue::Float(f64::NAN)),
                        ("b", FieldValue::Float(2.5)),
                    ],
                    1,
                ),
                "nan b=2.5 1",
            ),
            (
                point(
                    "null",
                    &[],
                    vec![("a", FieldValue::Null), ("b", FieldValue::Int(2))],
                    1,
                ),
                "null b=2i 1",
            ),
        ];
        for (point, expected) in cases {
            assert_eq!(line(&point), expected);
        }
    }

    #[test]
    fn precision_rounds_down() {
        let point = point(
            "m",
            &[],
            vec![("v", FieldValue::Int(1))],
            1_700_000_001_999_999_999,
        );
        assert_eq!(
            to_line(&point, Precision::Seconds).unwrap(),
            "m v=1i 1700000001"
        );
        assert_eq!(
            to_line(&point, Precision::Milliseconds).unwrap(),
            "m v=1i 1700000001999"
        );
        let negative = Point { time: -1, ..point };
        assert_eq!(to_line(&negative, Precision::Seconds).unwrap(), "m v=1i -1");
    }

    #[test]
    fn points_without_encodable_fields_are_skipped_and_counted() {
        let points = vec![
            point("m", &[], vec![], 1),
            point("m", &[], vec![("v", FieldValue::Float(f64::INFINITY))], 1),
            point("m", &[], vec![("v", FieldValue::Null)], 1),
            point("", &[], vec![("v", FieldValue::Int(1))], 1),
            point("\\", &[], vec![("v", FieldValue::Int(1))], 1),
            point(
                "m",
                &[],
                vec![("", FieldValue::Int(1)), ("\\", FieldValue::Int(1))],
                1,
            ),
            point("ok", &[], vec![("v", FieldValue::Int(1))], 1),
        ];
        let mut out = Vec::new();
        let summary = encode_points(&mut out, &points, Precision::Nanoseconds);
        assert_eq!(
            summary,
            EncodeSummary {
                encoded: 1,
                skipped: 6
            }
        );
        assert_eq!(out, b"ok v=1i 1\n");
    }

    #[test]
    fn round_trips_through_the_parser() {
        let original = vec![
            point(
                "my cpu,x",
                &[("ho=st k", "a,b c=d"), ("plain", "v")],
                vec![
                    ("f k=,", FieldValue::Float(0.1 + 0.2)),
                    ("i", FieldValue::Int(-42)),
                    ("b", FieldValue::Bool(false)),
                    ("s", FieldValue::String("q\"uo\\te\nline, two=2".into())),
                ],
                1_700_000_000_123_456_789,
            ),
            point(
                "m",
                &[],
                vec![
                    ("tiny", FieldValue::Float(5e-324)),
                    ("big", FieldValue::Float(f64::MAX)),
                ],
                -3,
            ),
        ];
        let mut out = Vec::new();
        encode_points(&mut out, &original, Precision::Nanoseconds);
        let body = String::from_utf8(out).unwrap();
        let (parsed, errors) = parse(&body, Precision::Nanoseconds, 0);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(parsed, original);
    }
}
