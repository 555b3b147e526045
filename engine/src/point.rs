//! Points: the unit of data flowing from `/write` and scrapes through tasks into sinks.

pub use crate::shared_map::SharedMap;
pub use compact_str::CompactString;
use std::fmt;

/// A measurement name: inline up to 24 bytes, so copying a point for another task or node
/// allocates nothing for its name (names longer than that are copied to the heap).
pub type Name = CompactString;

/// Tag set of a point, sorted by key (line protocol and group keys need that order); shared
/// between copies until one changes (see [`SharedMap`]).
pub type Tags = SharedMap<String, String>;

/// Field set of a point, sorted by key; shared between copies until one changes.
pub type Fields = SharedMap<Name, FieldValue>;

/// One field value, with InfluxDB's four field types.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// 64-bit float.
    Float(f64),
    /// 64-bit signed integer (`i` suffix in line protocol).
    Int(i64),
    /// UTF-8 string.
    String(String),
    /// Boolean.
    Bool(bool),
    /// No value: what `join().fill('null')` puts in for an absent member (Kapacitor's `nil`).
    /// JSON outputs show it as `null`, lambdas see the field as missing, and line protocol
    /// leaves it out.
    Null,
}

impl FieldValue {
    /// The value as a float when it is numeric.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            FieldValue::Float(value) => Some(value),
            FieldValue::Int(value) => Some(value as f64),
            _ => None,
        }
    }

    /// The InfluxDB name of the value's type.
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldValue::Float(_) => "float",
            FieldValue::Int(_) => "integer",
            FieldValue::String(_) => "string",
            FieldValue::Bool(_) => "boolean",
            FieldValue::Null => "null",
        }
    }
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Float(value) => write!(f, "{value}"),
            FieldValue::Int(value) => write!(f, "{value}"),
            FieldValue::String(value) => f.write_str(value),
            FieldValue::Bool(value) => write!(f, "{value}"),
            // Go's `%v` of a nil value.
            FieldValue::Null => f.write_str("<nil>"),
        }
    }
}

/// A single time-series point.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Measurement name.
    pub name: Name,
    /// Tags, sorted by key.
    pub tags: Tags,
    /// Fields, sorted by key; never empty for a valid point.
    pub fields: Fields,
    /// Nanoseconds since the Unix epoch.
    pub time: i64,
}

impl Point {
    /// A point with one float field named `value`, as scrapes produce.
    pub fn gauge(name: impl Into<Name>, tags: Tags, value: f64, time: i64) -> Point {
        let mut fields = Fields::new();
        fields.insert("value".into(), FieldValue::Float(value));
        Point {
            name: name.into(),
            tags,
            fields,
            time,
        }
    }
}

/// Points that arrived together for one database and retention policy.
///
/// This is the unit routed into tasks: `/write` produces one per request, a scrape one per
/// target and interval.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PointBatch {
    /// Database the points were written to.
    pub database: String,
    /// Retention policy the points were written to.
    pub retention_policy: String,
    /// The points, in arrival order.
    pub points: Vec<Point>,
}
