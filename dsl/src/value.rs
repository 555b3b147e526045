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

/// Parses a duration string: one or more `<number><unit>` pairs, units `ns`, `u`/`µ`/`us`/`µs`,
/// `ms`, `s`, `m`, `h`, `d`, `w` (`10s`, `1h30m`, Go's `1m0s`, `1.5s`, optional leading `-`).
/// Returns nanoseconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return None;
        }
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|ch: char| ch.is_ascii_digit() || ch == '.')
            .unwrap_or(rest.len());
        let multiplier: f64 = match &rest[..unit_len] {
            "ns" => 1.0,
            "u" | "µ" | "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86_400e9,
            "w" => 604_800e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        let nanos = number * multiplier;
        if !nanos.is_finite() || nanos > i64::MAX as f64 {
            return None;
        }
        total = total.checked_add(nanos.round() as i64)?;
    }
    Some(if negative { -total } else { total })
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
    /// A list (template vars of type `list`; string lists like `['a', 'b']`).
    List(Vec<Value>),
    /// A lambda expression's source text, without `lambda:` (template vars of type `lambda`).
    Lambda(String),
    /// `*` (template vars of type `star`).
    Star,
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
            Value::List(_) => "list",
            Value::Lambda(_) => "lambda",
            Value::Star => "star",
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
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Lambda(a), Value::Lambda(b)) => a == b,
            (Value::Star, Value::Star) => true,
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

    #[test]
    fn durations_parse_both_styles() {
        assert_eq!(parse_duration("10s"), Some(10_000_000_000));
        assert_eq!(parse_duration("1m0s"), Some(60_000_000_000));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("-2ms"), Some(-2_000_000));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("5x"), None);
    }
}
