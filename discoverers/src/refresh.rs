//! The refresh loop, written once for every backend: interval with jitter, wake-ups from
//! watchers, long polls, diffing, back-off, health and the circuit breaker.
//!
//! A source's health moves between these states (every transition is logged and counted):
//! `pending` (not refreshed yet), `healthy`, `degraded` (the last refresh took longer than
//! [`HealthPolicy::degraded_after`]), `unhealthy` (recent failures, retrying with back-off),
//! `circuit-open` ([`HealthPolicy::failures_to_open`] failures in a row: no refresh for
//! [`HealthPolicy::open_for`], then one trial; a change the backend reports, such as a file
//! written, is a trial at once) and `disabled`. The last good target set is kept while a
//! source fails. Every kind of failure counts toward the circuit: a failed round, and a round
//! that kept last good targets with a warning (a malformed file).
//!
//! Each source keeps a bounded [`HealthHistory`]: its last failures and transitions, timed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::time::Instant;
use weir_engine::health_history::HealthHistory;
use weir_engine::{DiscoverError, Discoverer, TargetGroup};

use crate::config::SourceKind;
use crate::manager::WatchStatus;

/// The shortest pause between two rounds of a long-polling source.
const LONG_POLL_MIN_GAP: Duration = Duration::from_millis(100);

/// What the refresh loop needs from a backend beyond [`Discoverer`].
pub(crate) trait Source: Discoverer + 'static {
    /// A problem that did not fail the round (for example a malformed file whose last good
    /// targets were kept); taken after each successful round.
    fn take_warning(&mut self) -> Option<String> {
        None
    }

    /// Notified by the backend when it sees a change, to refresh before the interval.
    fn wake(&self) -> Option<Arc<Notify>> {
        None
    }

    /// For long-polling backends: make the next `discover` answer at once.
    fn reset(&mut self) {}

    /// For watching backends: a live view of the watch and its reconciliations.
    fn watch_probe(&self) -> Option<WatchProbe> {
        None
    }
}

/// Reads a watching source's [`WatchStatus`] when the manager reports.
#[derive(Clone)]
pub(crate) struct WatchProbe(pub Arc<dyn Fn() -> WatchStatus + Send + Sync>);

impl std::fmt::Debug for WatchProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WatchProbe")
    }
}

/// How often a source refreshes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Schedule {
    /// The pause between two successful rounds (jittered by ±5 %).
    pub interval: Duration,
    /// `discover` itself waits for a change (Consul blocking queries, Kubernetes watches), so
    /// the next round starts at once and slow rounds are not "degraded".
    pub long_poll: bool,
}

/// The health of one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum HealthState {
    /// Started, not refreshed yet.
    Pending,
    /// The last refresh succeeded in time.
    Healthy,
    /// The last refresh succeeded but took longer than [`HealthPolicy::degraded_after`].
    Degraded,
    /// Recent failures; retrying with back-off and keeping the last good targets.
    Unhealthy,
    /// Too many failures in a row: refreshes are skipped for a while, then one is tried.
    CircuitOpen,
    /// Turned off in the config or at run time; its config is kept.
    Disabled,
}

impl HealthState {
    /// Every state, in display order.
    pub const ALL: [HealthState; 6] = [
        HealthState::Pending,
        HealthState::Healthy,
        HealthState::Degraded,
        HealthState::Unhealthy,
        HealthState::CircuitOpen,
        HealthState::Disabled,
    ];

    /// The state's name as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Pending => "pending",
            HealthState::Healthy => "healthy",
            HealthState::Degraded => "degraded",
            HealthState::Unhealthy => "unhealthy",
            HealthState::CircuitOpen => "circuit-open",
            HealthState::Disabled => "disabled",
        }
    }
}

/// The thresholds of the health state machine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthPolicy {
    /// A successful refresh slower than this makes the source degraded (10 s).
    pub degraded_after: Duration,
    /// This many failures in a row open the circuit (3).
    pub failures_to_open: u32,
    /// How long an open circuit skips refreshes before one trial (60 s).
    pub open_for: Duration,
    /// The first retry delay after a failure, doubled per failure, capped by the interval (1 s).
    pub retry_after: Duration,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            degraded_after: Duration::from_secs(10),
            failures_to_open: 3,
            open_for: Duration::from_secs(60),
            retry_after: Duration::from_secs(1),
        }
    }
}

/// What the manager can see of a running source.
#[derive(Debug, Clone)]
pub(crate) struct Status {
    pub state: HealthState,
    pub enabled: bool,
    pub targets: usize,
    pub last_refresh: Option<SystemTime>,
    pub next_refresh: Option<SystemTime>,
    pub last_duration: Option<Duration>,
    pub success_count: u64,
    pub error_count: u64,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    pub transitions: BTreeMap<HealthState, u64>,
    pub history: HealthHistory,
    pub watch: Option<WatchProbe>,
}

impl Status {
    pub(crate) fn new(enabled: bool) -> Status {
        Status {
            state: if enabled {
                HealthState::Pending
            } else {
                HealthState::Disabled
            },
            enabled,
            targets: 0,
            last_refresh: None,
            next_refresh: None,
            last_duration: None,
            success_count: 0,
            error_count: 0,
            consecutive_failures: 0,
            last_error: None,
            transitions: BTreeMap::new(),
            history: HealthHistory::default(),
            watch: None,
        }
    }
}

/// Lock a mutex, recovering the data if a holder panicked (the status stays readable).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the manager can ask of a running source.
#[derive(Debug)]
pub(crate) enum Command {
    SetEnabled(bool),
    /// Refresh now; the reply says whether the round succeeded.
    Refresh(oneshot::Sender<bool>),
}

/// How a round ended.
enum Flow {
    /// Wait for this instant, then refresh again.
    Next(Instant),
    /// The manager went away.
    Stop,
}

/// One source's loop.
pub(crate) struct Runner {
    pub kind: SourceKind,
    pub id: String,
    pub policy: HealthPolicy,
    pub schedule: Schedule,
    pub status: Arc<Mutex<Status>>,
    pub targets: watch::Sender<Vec<TargetGroup>>,
    pub commands: mpsc::UnboundedReceiver<Command>,
    pending_replies: Vec<oneshot::Sender<bool>>,
    enabled: bool,
}

impl Runner {
    pub(crate) fn new(
        kind: SourceKind,
        id: &str,
        enabled: bool,
        policy: HealthPolicy,
        schedule: Schedule,
        targets: watch::Sender<Vec<TargetGroup>>,
        commands: mpsc::UnboundedReceiver<Command>,
    ) -> Runner {
        Runner {
            kind,
            id: id.to_owned(),
            policy,
            schedule,
            status: Arc::new(Mutex::new(Status::new(enabled))),
            targets,
            commands,
            pending_replies: Vec::new(),
            enabled,
        }
    }

    /// Run until the manager drops the command sender (or aborts the task).
    pub(crate) async fn run<S: Source>(mut self, mut source: S) {
        let wake = source.wake();
        lock(&self.status).watch = source.watch_probe();
        let mut next = Instant::now();
        if !self.enabled {
            self.targets.send_if_modified(clear);
        }
        loop {
            let circuit_open = lock(&self.status).state == HealthState::CircuitOpen;
            let flow = tokio::select! {
                command = self.commands.recv() => match command {
                    None => Flow::Stop,
                    Some(Command::SetEnabled(enabled)) => {
                        self.set_enabled(enabled);
                        Flow::Next(Instant::now())
                    }
                    Some(Command::Refresh(reply)) => {
                        if self.enabled {
                            self.pending_replies.push(reply);
                            self.refresh(&mut source).await
                        } else {
                            let _ = reply.send(false);
                            Flow::Next(next)
                        }
                    }
                },
                () = tokio::time::sleep_until(next), if self.enabled => {
                    self.refresh(&mut source).await
                }
                // A reported change is worth a trial even while the circuit is open.
                () = notified(wake.as_deref()), if self.enabled => {
                    if circuit_open {
                        tracing::info!(kind = %self.kind, id = %self.id, "discovery source changed: trying it while its circuit is open");
                    }
                    self.refresh(&mut source).await
                }
            };
            match flow {
                Flow::Next(at) => next = at,
                Flow::Stop => return,
            }
        }
    }

    fn set_enabled(&mut self, enabled: bool) {
        if enabled == self.enabled {
            return;
        }
        self.enabled = enabled;
        let mut status = lock(&self.status);
        status.enabled = enabled;
        status.consecutive_failures = 0;
        if enabled {
            self.transition(&mut status, HealthState::Pending);
        } else {
            status.next_refresh = None;
            status.targets = 0;
            self.transition(&mut status, HealthState::Disabled);
            drop(status);
            self.targets.send_if_modified(clear);
        }
    }

    /// One round: discover (while still answering commands), then record and publish.
    async fn refresh<S: Source>(&mut self, source: &mut S) -> Flow {
        let started = Instant::now();
        let result = loop {
            let outcome = {
                let discover = source.discover();
                tokio::pin!(discover);
                loop {
                    tokio::select! {
                        result = &mut discover => break Some(result),
                        command = self.commands.recv() => match command {
                            None => return Flow::Stop,
                            Some(Command::SetEnabled(false)) => {
                                self.set_enabled(false);
                                self.answer(false);
                                return Flow::Next(Instant::now());
                            }
                            Some(Command::SetEnabled(true)) => {}
                            Some(Command::Refresh(reply)) => {
                                self.pending_replies.push(reply);
                                if self.schedule.long_poll {
                                    break None;
                                }
                            }
                        },
                    }
                }
            };
            match outcome {
                Some(result) => break result,
                // A long poll was interrupted by "refresh now": ask again without waiting.
                None => source.reset(),
            }
        };
        let elapsed = started.elapsed();
        let ok = result.is_ok();
        let next = self.record(source, result, elapsed);
        self.answer(ok);
        Flow::Next(next)
    }

    fn answer(&mut self, ok: bool) {
        for reply in self.pending_replies.drain(..) {
            let _ = reply.send(ok);
        }
    }

    fn record<S: Source>(
        &mut self,
        source: &mut S,
        result: Result<Vec<TargetGroup>, DiscoverError>,
        elapsed: Duration,
    ) -> Instant {
        let now = Instant::now();
        let mut status = lock(&self.status);
        status.last_duration = Some(elapsed);
        let delay = match result {
            Ok(mut groups) => {
                drop_empty_labels(&mut groups);
                status.last_refresh = Some(SystemTime::now());
                status.targets = groups.iter().map(|group| group.targets.len()).sum();
                // Publish first: with a warning these are the last good targets, still valid.
                self.targets.send_if_modified(|current| {
                    if *current == groups {
                        false
                    } else {
                        *current = groups;
                        true
                    }
                });
                if let Some(warning) = source.take_warning() {
                    tracing::warn!(kind = %self.kind, id = %self.id, "discovery: {warning}");
                    self.failed(&mut status, warning)
                } else {
                    status.success_count += 1;
                    status.consecutive_failures = 0;
                    let state = if !self.schedule.long_poll && elapsed > self.policy.degraded_after
                    {
                        HealthState::Degraded
                    } else {
                        HealthState::Healthy
                    };
                    self.transition(&mut status, state);
                    if self.schedule.long_poll {
                        LONG_POLL_MIN_GAP
                    } else {
                        jittered(self.schedule.interval)
                    }
                }
            }
            Err(error) => {
                let message = error.to_string();
                tracing::warn!(kind = %self.kind, id = %self.id, "discovery failed: {message}");
                self.failed(&mut status, message)
            }
        };
        status.next_refresh = Some(SystemTime::now() + delay);
        now + delay
    }

    /// Count a failed round (or one with a warning): unhealthy with back-off, or the circuit
    /// opens; returns the pause before the next round.
    fn failed(&self, status: &mut Status, message: String) -> Duration {
        status.error_count += 1;
        status.consecutive_failures += 1;
        status.history.failure(SystemTime::now(), &message);
        status.last_error = Some(message);
        if status.consecutive_failures >= self.policy.failures_to_open {
            if status.state == HealthState::CircuitOpen {
                // A failed trial: open again, and say so in the history.
                status
                    .history
                    .transition(SystemTime::now(), "circuit-open", "circuit-open");
            }
            self.transition(status, HealthState::CircuitOpen);
            self.policy.open_for
        } else {
            self.transition(status, HealthState::Unhealthy);
            let doubling = 2u32.saturating_pow(status.consecutive_failures - 1);
            let backoff = self.policy.retry_after.saturating_mul(doubling);
            if self.schedule.long_poll {
                backoff
            } else {
                backoff.min(self.schedule.interval)
            }
        }
    }

    fn transition(&self, status: &mut Status, state: HealthState) {
        if status.state == state {
            return;
        }
        let from = status.state;
        status.state = state;
        status
            .history
            .transition(SystemTime::now(), from.as_str(), state.as_str());
        *status.transitions.entry(state).or_default() += 1;
        match state {
            HealthState::Unhealthy | HealthState::CircuitOpen | HealthState::Degraded => {
                tracing::warn!(kind = %self.kind, id = %self.id, from = from.as_str(),
                    to = state.as_str(), "discovery source health changed");
            }
            _ => tracing::info!(kind = %self.kind, id = %self.id, from = from.as_str(),
                to = state.as_str(), "discovery source health changed"),
        }
    }
}

/// As in Prometheus, a label with an empty value is no label: remove them, except that a
/// target's empty label still hides the group's label of that name (Prometheus merges group
/// labels only into targets that lack them, then drops the empty ones).
fn drop_empty_labels(groups: &mut [TargetGroup]) {
    for group in groups {
        for target in &mut group.targets {
            if target.values().any(String::is_empty) {
                target.retain(|name, value| {
                    !value.is_empty() || group.labels.get(name).is_some_and(|v| !v.is_empty())
                });
            }
        }
        group.labels.retain(|_, value| !value.is_empty());
    }
}

fn clear(groups: &mut Vec<TargetGroup>) -> bool {
    if groups.is_empty() {
        false
    } else {
        groups.clear();
        true
    }
}

/// `interval` ± 5 %.
fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(1.0 + rand::random_range(-0.05..0.05))
}

/// Wait for a wake-up, or for ever when the backend has no watcher.
async fn notified(wake: Option<&Notify>) {
    match wake {
        Some(notify) => notify.notified().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use weir_engine::Labels;

    /// Answers from a script, then repeats the last answer.
    struct Scripted {
        answers: VecDeque<Result<usize, &'static str>>,
        last: Result<usize, &'static str>,
        calls: Arc<Mutex<u32>>,
        delay: Duration,
    }

    impl Discoverer for Scripted {
        async fn discover(&mut self) -> Result<Vec<TargetGroup>, DiscoverError> {
            *lock(&self.calls) += 1;
            tokio::time::sleep(self.delay).await;
            if let Some(answer) = self.answers.pop_front() {
                self.last = answer;
            }
            match self.last {
                Ok(n) => Ok(vec![group(n)]),
                Err(message) => Err(DiscoverError::Peer(message.to_owned())),
            }
        }
    }

    impl Source for Scripted {}

    fn group(n_targets: usize) -> TargetGroup {
        let targets = (0..n_targets)
            .map(|idx| Labels::from([("__address__".to_owned(), format!("10.0.0.{idx}:80"))]))
            .collect();
        TargetGroup {
            source: "test".to_owned(),
            targets,
            labels: Labels::new(),
        }
    }

    struct Harness {
        status: Arc<Mutex<Status>>,
        targets: watch::Receiver<Vec<TargetGroup>>,
        commands: mpsc::UnboundedSender<Command>,
        calls: Arc<Mutex<u32>>,
    }

    fn start(answers: Vec<Result<usize, &'static str>>, delay: Duration) -> Harness {
        let (sender, targets) = watch::channel(Vec::new());
        let (commands, receiver) = mpsc::unbounded_channel();
        let schedule = Schedule {
            interval: Duration::from_secs(30),
            long_poll: false,
        };
        let runner = Runner::new(
            SourceKind::Static,
            "t",
            true,
            HealthPolicy::default(),
            schedule,
            sender,
            receiver,
        );
        let status = runner.status.clone();
        let calls = Arc::new(Mutex::new(0));
        let source = Scripted {
            answers: answers.into(),
            last: Ok(0),
            calls: calls.clone(),
            delay,
        };
        tokio::spawn(runner.run(source));
        Harness {
            status,
            targets,
            commands,
            calls,
        }
    }

    fn state(harness: &Harness) -> HealthState {
        lock(&harness.status).state
    }

    async fn advance(seconds: f64) {
        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    }

    /// Advance paused time in 0.1 s steps until `condition` holds; panics after `limit` s.
    async fn advance_until(harness: &Harness, limit: f64, condition: impl Fn(&Status) -> bool) {
        let mut waited = 0.0;
        while !condition(&lock(&harness.status)) {
            assert!(waited < limit, "condition not reached in {limit} s");
            advance(0.1).await;
            waited += 0.1;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn publishes_and_keeps_last_good_targets_through_failures() {
        let harness = start(
            vec![Ok(2), Err("down"), Err("down"), Err("down"), Ok(3)],
            Duration::ZERO,
        );
        advance_until(&harness, 1.0, |s| s.state == HealthState::Healthy).await;
        assert_eq!(harness.targets.borrow()[0].targets.len(), 2);
        advance_until(&harness, 32.0, |s| s.state == HealthState::Unhealthy).await;
        assert_eq!(
            harness.targets.borrow()[0].targets.len(),
            2,
            "last good set kept"
        );
        // Retries after 1 s, then 2 s; the third failure in a row opens the circuit.
        advance_until(&harness, 1.2, |s| s.consecutive_failures == 2).await;
        advance_until(&harness, 2.2, |s| s.state == HealthState::CircuitOpen).await;
        let calls_when_opened = *lock(&harness.calls);
        advance(59.0).await;
        assert_eq!(
            *lock(&harness.calls),
            calls_when_opened,
            "no refresh while open"
        );
        advance_until(&harness, 1.2, |s| s.state == HealthState::Healthy).await;
        assert_eq!(
            harness.targets.borrow()[0].targets.len(),
            3,
            "the trial succeeded"
        );
        let status = lock(&harness.status);
        assert_eq!(status.error_count, 3);
        assert_eq!(status.transitions[&HealthState::CircuitOpen], 1);
        assert_eq!(status.transitions[&HealthState::Healthy], 2);
    }

    /// Succeeds with the same targets every round, with a warning while `broken` is set (as
    /// the file source does with a malformed file).
    struct Warning {
        broken: Arc<Mutex<bool>>,
        calls: Arc<Mutex<u32>>,
        wake: Arc<Notify>,
    }

    impl Discoverer for Warning {
        async fn discover(&mut self) -> Result<Vec<TargetGroup>, DiscoverError> {
            *lock(&self.calls) += 1;
            Ok(vec![group(2)])
        }
    }

    impl Source for Warning {
        fn take_warning(&mut self) -> Option<String> {
            lock(&self.broken).then(|| "nodes.json:2:5: expected value".to_owned())
        }

        fn wake(&self) -> Option<Arc<Notify>> {
            Some(self.wake.clone())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn warnings_count_toward_the_circuit_and_a_change_is_a_trial() {
        let (sender, targets) = watch::channel(Vec::new());
        let (_commands, receiver) = mpsc::unbounded_channel();
        let schedule = Schedule {
            interval: Duration::from_secs(300),
            long_poll: false,
        };
        let runner = Runner::new(
            SourceKind::File,
            "files",
            true,
            HealthPolicy::default(),
            schedule,
            sender,
            receiver,
        );
        let status = runner.status.clone();
        let broken = Arc::new(Mutex::new(true));
        let calls = Arc::new(Mutex::new(0));
        let wake = Arc::new(Notify::new());
        tokio::spawn(runner.run(Warning {
            broken: broken.clone(),
            calls: calls.clone(),
            wake: wake.clone(),
        }));
        let harness = Harness {
            status: status.clone(),
            targets,
            commands: mpsc::unbounded_channel().0,
            calls: calls.clone(),
        };
        // Three rounds with a warning in a row (retries after 1 s and 2 s) open the circuit.
        advance_until(&harness, 4.0, |s| s.state == HealthState::CircuitOpen).await;
        {
            let status = lock(&status);
            assert_eq!(status.consecutive_failures, 3);
            assert_eq!(status.success_count, 0);
            assert_eq!(status.history.failures.len(), 3);
            assert_eq!(
                status.history.failures[0].message,
                "nodes.json:2:5: expected value"
            );
            let path: Vec<(&str, &str)> = status
                .history
                .transitions
                .iter()
                .map(|t| (t.from.as_str(), t.to.as_str()))
                .collect();
            assert_eq!(
                path,
                [("pending", "unhealthy"), ("unhealthy", "circuit-open")]
            );
        }
        assert_eq!(
            harness.targets.borrow()[0].targets.len(),
            2,
            "the last good targets stay published"
        );
        // The file is fixed and the watcher reports it: a trial at once, not after 60 s.
        *lock(&broken) = false;
        wake.notify_one();
        advance_until(&harness, 0.5, |s| s.state == HealthState::Healthy).await;
        let status = lock(&status);
        assert_eq!(status.consecutive_failures, 0);
        assert_eq!(
            status.history.transitions.back().map(|t| t.to.as_str()),
            Some("healthy")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn failed_trial_reopens_the_circuit() {
        let harness = start(vec![Err("down")], Duration::ZERO);
        advance(3.5).await;
        assert_eq!(state(&harness), HealthState::CircuitOpen);
        advance(60.5).await;
        assert_eq!(state(&harness), HealthState::CircuitOpen);
        assert_eq!(*lock(&harness.calls), 4);
        assert_eq!(
            lock(&harness.status).transitions[&HealthState::CircuitOpen],
            1
        );
        let status = lock(&harness.status);
        let reopened = status.history.transitions.back().unwrap();
        assert_eq!(
            (reopened.from.as_str(), reopened.to.as_str()),
            ("circuit-open", "circuit-open")
        );
        assert_eq!(status.history.failures.len(), 4);
    }

    #[test]
    fn empty_labels_are_dropped_but_still_hide_group_labels() {
        let labels = |pairs: &[(&str, &str)]| -> Labels {
            pairs
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect()
        };
        let mut groups = vec![TargetGroup {
            source: "g".to_owned(),
            targets: vec![
                labels(&[("__address__", "a:1"), ("x", ""), ("env", "")]),
                labels(&[("__address__", "b:1"), ("y", "1")]),
            ],
            labels: labels(&[("env", "prod"), ("empty", "")]),
        }];
        drop_empty_labels(&mut groups);
        assert_eq!(
            groups[0].targets[0],
            labels(&[("__address__", "a:1"), ("env", "")])
        );
        assert_eq!(
            groups[0].targets[1],
            labels(&[("__address__", "b:1"), ("y", "1")])
        );
        assert_eq!(groups[0].labels, labels(&[("env", "prod")]));
    }

    #[tokio::test(start_paused = true)]
    async fn slow_refresh_is_degraded() {
        let harness = start(vec![Ok(1)], Duration::from_secs(11));
        advance(11.5).await;
        assert_eq!(state(&harness), HealthState::Degraded);
    }

    #[tokio::test(start_paused = true)]
    async fn disable_clears_targets_and_enable_refreshes() {
        let harness = start(vec![Ok(2)], Duration::ZERO);
        advance(0.1).await;
        harness.commands.send(Command::SetEnabled(false)).unwrap();
        advance(0.1).await;
        assert_eq!(state(&harness), HealthState::Disabled);
        assert!(harness.targets.borrow().is_empty());
        let (reply, answer) = oneshot::channel();
        harness.commands.send(Command::Refresh(reply)).unwrap();
        assert!(!answer.await.unwrap(), "a disabled source does not refresh");
        harness.commands.send(Command::SetEnabled(true)).unwrap();
        advance(0.1).await;
        assert_eq!(state(&harness), HealthState::Healthy);
        assert_eq!(harness.targets.borrow()[0].targets.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn refresh_now_runs_a_round() {
        let harness = start(vec![Ok(1), Ok(4)], Duration::ZERO);
        advance(0.1).await;
        let (reply, answer) = oneshot::channel();
        harness.commands.send(Command::Refresh(reply)).unwrap();
        assert!(answer.await.unwrap());
        assert_eq!(harness.targets.borrow()[0].targets.len(), 4);
        assert_eq!(*lock(&harness.calls), 2);
    }
}
