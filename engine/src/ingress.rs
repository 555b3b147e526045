//! Acknowledged writes that must outlive a crash.
//!
//! Whoever acknowledges data before the tasks have processed it (the binary's `/write`, which
//! appends each body to its ingress log first) gives each batch a [`Ticket`]. The engine holds
//! the ticket once for every task the batch is routed to, and each task lets go of it when the
//! batch can no longer matter to a replay: the task has processed it, its outputs have left
//! the task (`influxDBOut` hands its points to the sinks at the end of every input), and no
//! node still holds points as old as the batch's newest point (a window's buffer, for
//! instance: see [`crate::nodes::Node::retained_since`]). When every holder let go, the
//! tracker may forget the batch; until then a restart replays it (at least once).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counts who still needs a logged batch.
pub trait IngressTracker: Send + Sync {
    /// One more task holds batch `seq`.
    fn hold(&self, seq: u64);
    /// One holder of batch `seq` let go.
    fn release(&self, seq: u64);
}

/// A logged batch's sequence number and the tracker to tell when a task is done with it.
#[derive(Clone)]
pub struct Ticket {
    seq: u64,
    tracker: Arc<dyn IngressTracker>,
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket").field("seq", &self.seq).finish()
    }
}

impl Ticket {
    /// The ticket of batch `seq` of `tracker`.
    pub fn new(seq: u64, tracker: Arc<dyn IngressTracker>) -> Ticket {
        Ticket { seq, tracker }
    }

    /// The batch's sequence number.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub(crate) fn hold(&self) {
        self.tracker.hold(self.seq);
    }

    pub(crate) fn release(&self) {
        self.tracker.release(self.seq);
    }
}

/// Anything kept alive while a task works on a batch and dropped right after (the writer's
/// share of the in-memory queue budget, for one).
pub type Lease = Arc<dyn Send + Sync>;

/// How often a busy task asks its nodes what they retain.
const CHECK_EVERY: Duration = Duration::from_millis(100);

/// A task's processed batches that its nodes may still hold points of, oldest first.
pub(crate) struct Pending {
    entries: VecDeque<(Ticket, i64)>,
    last_check: Instant,
}

impl Pending {
    pub(crate) fn new() -> Pending {
        Pending {
            entries: VecDeque::new(),
            last_check: Instant::now(),
        }
    }

    /// Batch `ticket`, whose newest point is at `newest`, was processed.
    pub(crate) fn push(&mut self, ticket: Ticket, newest: i64) {
        self.entries.push_back((ticket, newest));
    }

    /// Whether it is time to look again (the queue ran empty, or a while passed).
    pub(crate) fn due(&self, idle: bool) -> bool {
        !self.entries.is_empty() && (idle || self.last_check.elapsed() >= CHECK_EVERY)
    }

    /// Let go of the oldest batches whose points are all older than anything the task's
    /// nodes retain (`retained_since`; `None`: they retain nothing).
    pub(crate) fn release_older_than(&mut self, retained_since: Option<i64>) {
        self.last_check = Instant::now();
        while let Some((ticket, newest)) = self.entries.front() {
            if retained_since.is_some_and(|oldest| *newest >= oldest) {
                break;
            }
            ticket.release();
            self.entries.pop_front();
        }
    }

    /// The task stopped: nothing it held matters any more.
    pub(crate) fn release_all(&mut self) {
        for (ticket, _) in self.entries.drain(..) {
            ticket.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Log(Mutex<Vec<(char, u64)>>);

    impl IngressTracker for Log {
        fn hold(&self, seq: u64) {
            self.0.lock().unwrap().push(('h', seq));
        }
        fn release(&self, seq: u64) {
            self.0.lock().unwrap().push(('r', seq));
        }
    }

    #[test]
    fn releases_in_order_only_what_nodes_no_longer_retain() {
        let log = Arc::new(Log::default());
        let mut pending = Pending::new();
        for (seq, newest) in [(1, 10), (2, 20), (3, 30)] {
            pending.push(Ticket::new(seq, log.clone()), newest);
        }
        pending.release_older_than(Some(20));
        assert_eq!(*log.0.lock().unwrap(), vec![('r', 1)]);
        pending.release_older_than(None);
        assert_eq!(*log.0.lock().unwrap(), vec![('r', 1), ('r', 2), ('r', 3)]);
        pending.push(Ticket::new(4, log.clone()), 40);
        pending.release_all();
        assert_eq!(log.0.lock().unwrap().last(), Some(&('r', 4)));
    }
}
