//! A target's health and circuit breaker, as a pure state machine: time comes in as an
//! argument, so the rules are tested without a clock.
//!
//! Healthy → Degraded when a successful scrape is slower than `slow-threshold`; any failure
//! makes the target Unhealthy (still scraped every interval); `failures-before-open`
//! consecutive failures open the circuit, which skips scrapes for `open-duration` and then
//! lets a single trial through: success closes it, failure opens it again.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::config::HealthConfig;

/// What the health of a target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetHealth {
    /// Not scraped yet.
    Unknown,
    /// The last scrape succeeded in time.
    Healthy,
    /// The last scrape succeeded but was slower than the slow threshold.
    Degraded,
    /// Recent scrapes failed; still scraped every interval.
    Unhealthy,
    /// Too many consecutive failures; scrapes are skipped until the trial.
    CircuitOpen,
    /// Its scraper is disabled: not scraped. Only the views show it; the tracker keeps the
    /// health the target had.
    Disabled,
}

impl TargetHealth {
    /// The kebab-case name used in views and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetHealth::Unknown => "unknown",
            TargetHealth::Healthy => "healthy",
            TargetHealth::Degraded => "degraded",
            TargetHealth::Unhealthy => "unhealthy",
            TargetHealth::CircuitOpen => "circuit-open",
            TargetHealth::Disabled => "disabled",
        }
    }
}

impl fmt::Display for TargetHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A change of health, returned so the caller can log it with the target's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The health before.
    pub from: TargetHealth,
    /// The health after.
    pub to: TargetHealth,
}

/// Health bookkeeping of one target.
#[derive(Debug, Clone)]
pub struct HealthTracker {
    config: HealthConfig,
    state: TargetHealth,
    consecutive_failures: u32,
    open_until: Option<Instant>,
    transitions: u64,
    circuit_opened: u64,
}

impl HealthTracker {
    /// A tracker in the Unknown state.
    pub fn new(config: HealthConfig) -> HealthTracker {
        HealthTracker {
            config,
            state: TargetHealth::Unknown,
            consecutive_failures: 0,
            open_until: None,
            transitions: 0,
            circuit_opened: 0,
        }
    }

    /// The current health.
    pub fn state(&self) -> TargetHealth {
        self.state
    }

    /// Failures since the last success.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// Every change of health so far (not counting the first scrape out of Unknown).
    pub fn transitions(&self) -> u64 {
        self.transitions
    }

    /// How many times the circuit opened (a failed trial counts again).
    pub fn circuit_opened(&self) -> u64 {
        self.circuit_opened
    }

    /// When an open circuit lets its trial through.
    pub fn open_until(&self) -> Option<Instant> {
        self.open_until
    }

    /// Whether a scrape due at `now` should run; false while the circuit is open and its
    /// open duration has not passed.
    pub fn should_scrape(&self, now: Instant) -> bool {
        match (self.state, self.open_until) {
            (TargetHealth::CircuitOpen, Some(until)) => now >= until,
            _ => true,
        }
    }

    /// Record a successful scrape that took `duration`.
    pub fn record_success(&mut self, duration: Duration) -> Option<Transition> {
        self.consecutive_failures = 0;
        self.open_until = None;
        let next = if duration > self.config.slow_threshold {
            TargetHealth::Degraded
        } else {
            TargetHealth::Healthy
        };
        self.move_to(next)
    }

    /// Record a failed scrape that ended at `now`.
    pub fn record_failure(&mut self, now: Instant) -> Option<Transition> {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let trial_failed = self.state == TargetHealth::CircuitOpen;
        if trial_failed || self.consecutive_failures >= self.config.failures_before_open {
            self.open_until = Some(now + self.config.open_duration);
            self.circuit_opened += 1;
            if trial_failed {
                // Still open; report it so the re-opening is logged.
                self.transitions += 1;
                return Some(Transition {
                    from: TargetHealth::CircuitOpen,
                    to: TargetHealth::CircuitOpen,
                });
            }
            return self.move_to(TargetHealth::CircuitOpen);
        }
        self.move_to(TargetHealth::Unhealthy)
    }

    fn move_to(&mut self, next: TargetHealth) -> Option<Transition> {
        let from = self.state;
        if from == next {
            return None;
        }
        self.state = next;
        if from != TargetHealth::Unknown {
            self.transitions += 1;
        }
        Some(Transition { from, to: next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker() -> HealthTracker {
        HealthTracker::new(HealthConfig {
            slow_threshold: Duration::from_secs(10),
            failures_before_open: 3,
            open_duration: Duration::from_secs(60),
        })
    }

    #[test]
    fn healthy_degraded_unhealthy() {
        let mut health = tracker();
        let now = Instant::now();
        assert_eq!(health.state(), TargetHealth::Unknown);
        assert_eq!(
            health.record_success(Duration::from_millis(5)),
            Some(Transition {
                from: TargetHealth::Unknown,
                to: TargetHealth::Healthy
            })
        );
        assert_eq!(health.transitions(), 0);
        assert_eq!(health.record_success(Duration::from_millis(5)), None);
        assert_eq!(
            health.record_success(Duration::from_secs(11)).unwrap().to,
            TargetHealth::Degraded
        );
        assert_eq!(
            health.record_failure(now).unwrap().to,
            TargetHealth::Unhealthy
        );
        assert!(health.should_scrape(now));
        assert_eq!(health.consecutive_failures(), 1);
        assert_eq!(
            health.record_success(Duration::from_secs(1)).unwrap().to,
            TargetHealth::Healthy
        );
        assert_eq!(health.consecutive_failures(), 0);
        assert_eq!(health.transitions(), 3);
    }

    #[test]
    fn circuit_opens_after_three_failures_and_a_trial_closes_it() {
        let mut health = tracker();
        let start = Instant::now();
        health.record_failure(start);
        health.record_failure(start);
        assert_eq!(health.state(), TargetHealth::Unhealthy);
        let opened = health.record_failure(start).unwrap();
        assert_eq!(opened.to, TargetHealth::CircuitOpen);
        assert_eq!(health.circuit_opened(), 1);
        assert!(!health.should_scrape(start + Duration::from_secs(59)));
        assert!(health.should_scrape(start + Duration::from_secs(60)));
        // A failed trial opens it for another minute.
        let trial = start + Duration::from_secs(60);
        assert_eq!(
            health.record_failure(trial),
            Some(Transition {
                from: TargetHealth::CircuitOpen,
                to: TargetHealth::CircuitOpen
            })
        );
        assert_eq!(health.circuit_opened(), 2);
        assert!(!health.should_scrape(trial + Duration::from_secs(30)));
        assert!(health.should_scrape(trial + Duration::from_secs(60)));
        // A successful trial closes it.
        assert_eq!(
            health.record_success(Duration::from_millis(1)).unwrap().to,
            TargetHealth::Healthy
        );
        assert!(health.should_scrape(trial + Duration::from_secs(61)));
        assert_eq!(health.open_until(), None);
    }
}
