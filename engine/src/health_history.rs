//! What an operator reads about a scrape target's or a discovery source's recent past: its
//! last failures with their time and message, and its health transitions with their time.
//! Bounded: the oldest entries go first, and long messages are cut.

use std::collections::VecDeque;
use std::time::SystemTime;

use serde::Serialize;

/// How many failures a history keeps.
pub const MAX_FAILURES: usize = 10;
/// How many transitions a history keeps.
pub const MAX_TRANSITIONS: usize = 20;
/// Longer failure messages are cut to this many bytes (at a character boundary).
pub const MAX_MESSAGE_BYTES: usize = 512;

/// One failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureRecord {
    /// When it happened (RFC 3339).
    pub time: String,
    /// Why.
    pub message: String,
}

/// One change of health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransitionRecord {
    /// When it happened (RFC 3339).
    pub time: String,
    /// The state before.
    pub from: String,
    /// The state after (the same as `from` when an open circuit opens again).
    pub to: String,
}

/// The recent failures and transitions of one target or source, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HealthHistory {
    /// The last [`MAX_FAILURES`] failures.
    pub failures: VecDeque<FailureRecord>,
    /// The last [`MAX_TRANSITIONS`] transitions.
    pub transitions: VecDeque<TransitionRecord>,
}

impl HealthHistory {
    /// Record a failure at `at`.
    pub fn failure(&mut self, at: SystemTime, message: &str) {
        let mut end = message.len().min(MAX_MESSAGE_BYTES);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let message = if end < message.len() {
            format!("{}…", &message[..end])
        } else {
            message.to_owned()
        };
        push_bounded(
            &mut self.failures,
            FailureRecord {
                time: rfc3339(at),
                message,
            },
            MAX_FAILURES,
        );
    }

    /// Record a change of health from `from` to `to` at `at`.
    pub fn transition(&mut self, at: SystemTime, from: &str, to: &str) {
        push_bounded(
            &mut self.transitions,
            TransitionRecord {
                time: rfc3339(at),
                from: from.to_owned(),
                to: to.to_owned(),
            },
            MAX_TRANSITIONS,
        );
    }
}

fn push_bounded<T>(queue: &mut VecDeque<T>, item: T, max: usize) {
    if queue.len() == max {
        queue.pop_front();
    }
    queue.push_back(item);
}

fn rfc3339(at: SystemTime) -> String {
    let nanos = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
        });
    crate::json::format_time(nanos)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn keeps_the_newest_entries_and_cuts_long_messages() {
        let mut history = HealthHistory::default();
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for idx in 0..(MAX_FAILURES as u64 + 3) {
            history.failure(start + Duration::from_secs(idx), &format!("failure {idx}"));
        }
        assert_eq!(history.failures.len(), MAX_FAILURES);
        assert_eq!(history.failures[0].message, "failure 3");
        assert_eq!(history.failures[0].time, "2023-11-14T22:13:23Z");
        assert_eq!(
            history.failures.back().map(|f| f.message.as_str()),
            Some("failure 12")
        );
        for idx in 0..(MAX_TRANSITIONS + 1) {
            history.transition(start, "healthy", &format!("s{idx}"));
        }
        assert_eq!(history.transitions.len(), MAX_TRANSITIONS);
        assert_eq!(history.transitions[0].to, "s1");
        let long = "é".repeat(MAX_MESSAGE_BYTES);
        history.failure(start, &long);
        let cut = &history.failures.back().unwrap().message;
        assert!(
            cut.len() <= MAX_MESSAGE_BYTES + '…'.len_utf8(),
            "{}",
            cut.len()
        );
        assert!(cut.ends_with('…'));
        let json = serde_json::to_value(&history).unwrap();
        assert_eq!(json["transitions"][0]["from"], "healthy");
    }
}
