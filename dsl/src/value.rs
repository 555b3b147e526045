//! Values of the language: literals, property arguments and lambda results.

use std::fmt;

/// A duration in nanoseconds (TICKscript durations have no sub-microsecond unit, but
/// arithmetic on them can produce any nanosecond count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub i64);

impl Duration {
    /// One second.
    pub const SECOND: Duration = Duration(1_000_000_000);

    /// Nanoseconds.
    pub fn nanos(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Duration {
    /// Formats like Go's `time.Duration.String()` (`1m0s`, `10s`, `1.5s`, `0s`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut nanos = self.0;
        if nanos == 0 {
            return f.write_str("0s");
        }
        if nanos < 0 {
            f.write_str("-")?;
            nanos = nanos.checked_neg().unwrap_or(i64::MAX);
        }
        if nanos < 1_000 {
            return write!(f, "{nanos}ns");
        }
        if nanos < 1_000_000 {
            return write!(f, "{}µs", trim_fraction(nanos, 1_000));
        }
        if nanos < 1_000_000_000 {
            return write!(f, "{}ms", trim_fraction(nanos, 1_000_000));
        }
        let hours = nanos / 3_600_000_000_000;
        let minutes = (nanos / 60_000_000_000) % 60;
        let seconds = trim_fraction(nanos % 60_000_000_000, 1_000_000_000);
        if hours > 0 {
            write!(f, "{hours}h{minutes}m{seconds}s")
        } else if minutes > 0 {
            write!(f, "{minutes}m{seconds}s")
        } else {
            write!(f, "{seconds}s")
        }
    }
}

fn trim_fraction(value: i64, unit: i64) -> String {
    let whole = value / unit;
    let fraction = value % unit;
    if fraction == 0 {
        return whole.to_string();
    }
    let width = unit.to_string().len() - 1;
    let digits = format!("{fraction:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// A value of the language.
#[derive(Debug, Clone)]
pub enum Value {
    /// 64-bit float.
    Float(f64),
    /// 64-bit integer.
    Int(i64),
    /// String.
    String(String),
    /// Boolean.
    Bool(bool),
    /// Duration.
    Duration(Duration),
    /// Time in nanoseconds since the epoch.
    Time(i64),
    /// A compiled regular expression.
    Regex(regex::Regex),
    /// A reference that the current point does not have.
    Missing,
}

impl Value {
    /// The TICKscript name of the value's type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Float(_) => "float",
            Value::Int(_) => "int",
            Value::String(_) => "string",
            Value::Bool(_) => "bool",
            Value::Duration(_) => "duration",
            Value::Time(_) => "time",
            Value::Regex(_) => "regex",
            Value::Missing => "missing",
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Duration(a), Value::Duration(b)) => a == b,
            (Value::Time(a), Value::Time(b)) => a == b,
            (Value::Regex(a), Value::Regex(b)) => a.as_str() == b.as_str(),
            (Value::Missing, Value::Missing) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_format_like_go() {
        assert_eq!(Duration(60_000_000_000).to_string(), "1m0s");
        assert_eq!(Duration(10_000_000_000).to_string(), "10s");
        assert_eq!(Duration(1_500_000_000).to_string(), "1.5s");
        assert_eq!(Duration(0).to_string(), "0s");
        assert_eq!(Duration(3_600_000_000_000).to_string(), "1h0m0s");
        assert_eq!(Duration(1_000_000).to_string(), "1ms");
    }
}
