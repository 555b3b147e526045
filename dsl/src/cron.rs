//! Cron expressions for `query().cron('...')`, with the syntax of gorhill/cronexpr (the
//! library Kapacitor uses), evaluated in UTC.
//!
//! Five fields are `minute hour day-of-month month day-of-week`; six add a `year`; seven
//! are `second minute hour day-of-month month day-of-week year`. Each field is `*` (or
//! `?` for the day fields), a value, a range `a-b`, a step `*/n`, `a/n` or `a-b/n`, or a
//! comma-separated list of those; months and weekdays may be named (`jan`, `mon`), and
//! weekday 7 is Sunday. `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
//! `@midnight` and `@hourly` are accepted. Day-of-month and day-of-week, when both are
//! restricted, match either (as in cron). `L`, `W` and `#` are not supported.
//!
//! ```
//! let cron = weir_dsl::cron::Cron::parse("*/15 * * * *").unwrap();
//! // 2021-01-01T00:07:00Z → 2021-01-01T00:15:00Z
//! assert_eq!(cron.next_after(1_609_459_620_000_000_000), Some(1_609_460_100_000_000_000));
//! ```

use std::fmt;

const NANOS_PER_SECOND: i64 = 1_000_000_000;
const FIRST_YEAR: i64 = 1970;
const LAST_YEAR: i64 = 2097; // 128 years fit a u128 bit set

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    seconds: u64,
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    years: u128,
    day_of_month_restricted: bool,
    day_of_week_restricted: bool,
}

/// Why an expression is not a cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronError(pub String);

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

struct FieldKind {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    question_mark: bool,
}

const SECOND: FieldKind = FieldKind {
    name: "second",
    min: 0,
    max: 59,
    names: &[],
    question_mark: false,
};
const MINUTE: FieldKind = FieldKind {
    name: "minute",
    min: 0,
    max: 59,
    names: &[],
    question_mark: false,
};
const HOUR: FieldKind = FieldKind {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
    question_mark: false,
};
const DAY_OF_MONTH: FieldKind = FieldKind {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
    question_mark: true,
};
const MONTH: FieldKind = FieldKind {
    name: "month",
    min: 1,
    max: 12,
    names: &MONTH_NAMES,
    question_mark: false,
};
const DAY_OF_WEEK: FieldKind = FieldKind {
    name: "day of week",
    min: 0,
    max: 7,
    names: &DAY_NAMES,
    question_mark: true,
};
const YEAR: FieldKind = FieldKind {
    name: "year",
    min: FIRST_YEAR as u32,
    max: LAST_YEAR as u32,
    names: &[],
    question_mark: false,
};

impl Cron {
    /// Parse an expression; the error says which field is wrong and why.
    pub fn parse(text: &str) -> Result<Cron, CronError> {
        let expanded = match text.trim() {
            "@yearly" | "@annually" => "0 0 0 1 1 * *",
            "@monthly" => "0 0 0 1 * * *",
            "@weekly" => "0 0 0 * * 0 *",
            "@daily" | "@midnight" => "0 0 0 * * * *",
            "@hourly" => "0 0 * * * * *",
            other if other.starts_with('@') => {
                return Err(CronError(format!(
                    "unknown cron macro {other:?} (known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)"
                )));
            }
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let (second, rest) = match fields.len() {
            5 | 6 => ("0", &fields[..]),
            7 => (fields[0], &fields[1..]),
            n => {
                return Err(CronError(format!(
                    "a cron expression has 5, 6 or 7 fields, got {n}"
                )));
            }
        };
        let year = rest.get(5).copied().unwrap_or("*");
        let days_of_week = field(rest[4], &DAY_OF_WEEK)?;
        // Weekday 7 is Sunday.
        let days_of_week = (days_of_week & 0x7f) | ((days_of_week >> 7) & 1);
        Ok(Cron {
            seconds: field(second, &SECOND)?,
            minutes: field(rest[0], &MINUTE)?,
            hours: field(rest[1], &HOUR)?,
            days_of_month: field(rest[2], &DAY_OF_MONTH)?,
            months: field(rest[3], &MONTH)?,
            days_of_week,
            years: year_field(year)?,
            day_of_month_restricted: !is_any(rest[2]),
            day_of_week_restricted: !is_any(rest[4]),
        })
    }

    /// The first matching time strictly after `after` (ns since the epoch, UTC), or `None`
    /// when there is none before the end of 2097.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let start_second = after.div_euclid(NANOS_PER_SECOND) + 1;
        let mut day = start_second.div_euclid(86_400);
        let mut min_second_of_day = start_second.rem_euclid(86_400);
        loop {
            let (year, month, day_of_month) = civil_from_days(day);
            if year > LAST_YEAR {
                return None;
            }
            if year >= FIRST_YEAR && self.day_matches(day, year, month, day_of_month) {
                if let Some(second_of_day) = self.first_time_of_day(min_second_of_day) {
                    return Some((day * 86_400 + second_of_day) * NANOS_PER_SECOND);
                }
            }
            day += 1;
            min_second_of_day = 0;
        }
    }

    fn day_matches(&self, day: i64, year: i64, month: u32, day_of_month: u32) -> bool {
        let year_index = year - FIRST_YEAR;
        if self.years & (1u128 << year_index) == 0 || self.months & (1 << month) == 0 {
            return false;
        }
        let weekday = (day + 4).rem_euclid(7);
        let by_month = self.days_of_month & (1 << day_of_month) != 0;
        let by_week = self.days_of_week & (1 << weekday) != 0;
        match (self.day_of_month_restricted, self.day_of_week_restricted) {
            (true, true) => by_month || by_week,
            (false, true) => by_week,
            _ => by_month,
        }
    }

    fn first_time_of_day(&self, min_second_of_day: i64) -> Option<i64> {
        for hour in bits(self.hours) {
            if (hour + 1) * 3600 <= min_second_of_day {
                continue;
            }
            for minute in bits(self.minutes) {
                let base = hour * 3600 + minute * 60;
                if base + 60 <= min_second_of_day {
                    continue;
                }
                for second in bits(self.seconds) {
                    if base + second >= min_second_of_day {
                        return Some(base + second);
                    }
                }
            }
        }
        None
    }
}

fn bits(mask: u64) -> impl Iterator<Item = i64> {
    (0..64).filter(move |bit| mask & (1 << bit) != 0)
}

fn is_any(text: &str) -> bool {
    text == "*" || text == "?"
}

/// One field as a bit set of allowed values.
fn field(text: &str, kind: &FieldKind) -> Result<u64, CronError> {
    let values = field_values(text, kind)?;
    Ok(values
        .into_iter()
        .fold(0u64, |mask, value| mask | (1 << value)))
}

fn year_field(text: &str) -> Result<u128, CronError> {
    let values = field_values(text, &YEAR)?;
    Ok(values.into_iter().fold(0u128, |mask, value| {
        mask | (1u128 << (i64::from(value) - FIRST_YEAR))
    }))
}

fn field_values(text: &str, kind: &FieldKind) -> Result<Vec<u32>, CronError> {
    let bad = |why: String| CronError(format!("invalid {} field {text:?}: {why}", kind.name));
    let mut values = Vec::new();
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .ok()
                    .filter(|step| *step > 0)
                    .ok_or_else(|| bad(format!("step {step:?} is not a positive number")))?;
                (range, step)
            }
            None => (item, 1),
        };
        let (low, high) = if range == "*" || (range == "?" && kind.question_mark) {
            (kind.min, kind.max)
        } else if let Some((low, high)) = range.split_once('-') {
            (
                value(low, kind).map_err(bad)?,
                value(high, kind).map_err(bad)?,
            )
        } else {
            let low = value(range, kind).map_err(bad)?;
            // `a/n` runs from a to the end of the range.
            (low, if item.contains('/') { kind.max } else { low })
        };
        if low > high {
            return Err(bad(format!("range {low}-{high} runs backwards")));
        }
        values.extend((low..=high).step_by(step as usize));
    }
    Ok(values)
}

fn value(text: &str, kind: &FieldKind) -> Result<u32, String> {
    if let Some(index) = kind
        .names
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text))
    {
        return Ok(index as u32 + if kind.min == 1 { 1 } else { 0 });
    }
    if text.contains(['L', 'W', '#']) {
        return Err(format!("{text:?}: L, W and # are not supported"));
    }
    let number: u32 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if number < kind.min || number > kind.max {
        return Err(format!("{number} is outside {}-{}", kind.min, kind.max));
    }
    Ok(number)
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2021-01-01T00:00:00Z, a Friday.
    const JAN_1_2021: i64 = 1_609_459_200 * NANOS_PER_SECOND;

    fn secs(seconds: i64) -> i64 {
        JAN_1_2021 + seconds * NANOS_PER_SECOND
    }

    fn next(expression: &str, after: i64) -> Option<i64> {
        Cron::parse(expression).unwrap().next_after(after)
    }

    #[test]
    fn five_six_and_seven_fields() {
        assert_eq!(next("*/15 * * * *", secs(7 * 60)), Some(secs(15 * 60)));
        assert_eq!(next("*/15 * * * *", secs(15 * 60)), Some(secs(30 * 60)));
        // Six fields: the last is the year.
        assert_eq!(next("0 0 1 1 * 2022", secs(0)), Some(secs(365 * 86_400)));
        // Seven fields: seconds first.
        assert_eq!(next("*/10 * * * * * *", secs(0)), Some(secs(10)));
        assert_eq!(next("5 * * * * * *", secs(5)), Some(secs(65)));
        // Sub-second times round to the next whole second.
        assert_eq!(next("* * * * * * *", secs(0) + 1), Some(secs(1)));
    }

    #[test]
    fn lists_ranges_names_and_macros() {
        assert_eq!(
            next("0 9-17/4 * * *", secs(10 * 3600)),
            Some(secs(13 * 3600))
        );
        assert_eq!(
            next("30 1,3 * * *", secs(2 * 3600)),
            Some(secs(3 * 3600 + 1800))
        );
        // 2021-01-01 is a Friday; the next Monday is the 4th.
        assert_eq!(next("0 0 * * mon", secs(0)), Some(secs(3 * 86_400)));
        assert_eq!(next("0 0 * * 7", secs(0)), Some(secs(2 * 86_400)));
        assert_eq!(next("0 0 1 feb *", secs(0)), Some(secs(31 * 86_400)));
        assert_eq!(next("@daily", secs(1)), Some(secs(86_400)));
        assert_eq!(next("@hourly", secs(1)), Some(secs(3600)));
        // Day of month and day of week both restricted: either matches (the 3rd or a Monday).
        assert_eq!(next("0 0 3 * mon", secs(0)), Some(secs(2 * 86_400)));
        // 31st of the month skips February.
        assert_eq!(
            next("0 0 31 * *", secs(31 * 86_400)),
            Some(secs(89 * 86_400))
        );
        assert_eq!(next("0 0 1 1 * 1999", secs(0)), None);
    }

    #[test]
    fn errors_name_the_field() {
        let error = |text: &str| Cron::parse(text).unwrap_err().0;
        assert_eq!(
            error("* * *"),
            "a cron expression has 5, 6 or 7 fields, got 3"
        );
        assert_eq!(
            error("61 * * * *"),
            "invalid minute field \"61\": 61 is outside 0-59"
        );
        assert!(
            error("* * L * *").contains("not supported"),
            "{}",
            error("* * L * *")
        );
        assert!(error("*/0 * * * *").contains("step"));
        assert!(error("5-1 * * * *").contains("backwards"));
        assert!(error("@every 5m").contains("unknown cron macro"));
        assert!(error("* * * foo *").contains("month"));
    }
}
