//! The task pool: one worker thread per core runs every task, a task at a time.
//!
//! Each task keeps its own bounded queue ([`Mailbox`]); sending into it schedules the task on
//! the pool's run queue unless it is already there or running. A worker runs a scheduled task
//! for at most [`TURN`] messages, then puts it at the back of the run queue when more is
//! waiting, so a busy task cannot starve the others. A task is never on two workers at once
//! (its state is `SCHEDULED` from the moment it is queued until a worker has finished its
//! turn), so its messages run in the order they were sent.
//!
//! The run queue is a `crossbeam-channel` (many producers: writers, tickers and query
//! drivers; many consumers: the workers).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::sync::mpsc;

/// Messages a task runs per turn before the worker moves on to the next scheduled task.
pub(crate) const TURN: usize = 8;

const IDLE: u8 = 0;
const SCHEDULED: u8 = 1;
const FINISHED: u8 = 2;

/// What a worker does with a task's queue.
pub(crate) trait Actor: Send {
    /// The message type.
    type Input: Send;
    /// Run one message.
    fn handle(&mut self, input: Self::Input);
    /// The queue ran empty.
    fn idle(&mut self) {}
    /// Every sender is gone and the queue is empty: flush and let go.
    fn finish(&mut self);
}

/// The pool's worker threads and run queue. Workers end when the pool and every task that
/// could schedule itself are gone.
pub(crate) struct Pool {
    run_queue: crossbeam_channel::Sender<Arc<dyn Runnable>>,
}

impl Pool {
    /// A pool of `workers` threads (at least one), named `weir-tasks-N`.
    pub(crate) fn new(workers: usize) -> std::io::Result<Pool> {
        let (run_queue, scheduled) = crossbeam_channel::unbounded::<Arc<dyn Runnable>>();
        for n in 0..workers.max(1) {
            let scheduled = scheduled.clone();
            std::thread::Builder::new()
                .name(format!("weir-tasks-{n}"))
                // Deeply nested lambdas recurse; the DSL bounds the depth, this the stack.
                .stack_size(8 << 20)
                .spawn(move || {
                    while let Ok(cell) = scheduled.recv() {
                        cell.run_turn();
                    }
                })?;
        }
        Ok(Pool { run_queue })
    }

    /// A pool with one worker per core.
    pub(crate) fn per_core() -> std::io::Result<Pool> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Pool::new(cores)
    }

    /// Register `actor` with a queue of `capacity` messages; returns the task's mailbox.
    pub(crate) fn spawn<A: Actor + 'static>(&self, actor: A, capacity: usize) -> Mailbox<A::Input> {
        let (sender, receiver) = mpsc::channel(capacity);
        let cell: Arc<Cell<A>> = Arc::new_cyclic(|this| Cell {
            state: AtomicU8::new(IDLE),
            run_queue: self.run_queue.clone(),
            inner: Mutex::new(Inner { actor, receiver }),
            this: this.clone(),
        });
        Mailbox {
            sender: Some(sender),
            waker: cell,
        }
    }
}

/// A scheduled task as the workers see it.
trait Runnable: Send + Sync {
    fn run_turn(self: Arc<Self>);
}

/// What wakes a task after something was sent (or a sender went away).
trait Wake: Send + Sync {
    fn wake(&self);
}

struct Inner<A: Actor> {
    actor: A,
    receiver: mpsc::Receiver<A::Input>,
}

struct Cell<A: Actor> {
    state: AtomicU8,
    run_queue: crossbeam_channel::Sender<Arc<dyn Runnable>>,
    inner: Mutex<Inner<A>>,
    /// Itself, to put on the run queue from `wake(&self)`.
    this: Weak<Cell<A>>,
}

impl<A: Actor + 'static> Cell<A> {
    fn schedule(&self) {
        if self
            .state
            .compare_exchange(IDLE, SCHEDULED, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            if let Some(this) = self.this.upgrade() {
                // The workers are gone only when the process is ending.
                let _ = self.run_queue.send(this);
            }
        }
    }
}

impl<A: Actor + 'static> Wake for Cell<A> {
    fn wake(&self) {
        self.schedule();
    }
}

impl<A: Actor + 'static> Runnable for Cell<A> {
    fn run_turn(self: Arc<Self>) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let Inner { actor, receiver } = &mut *inner;
        for _ in 0..TURN {
            match receiver.try_recv() {
                Ok(input) => {
                    // Nodes catch their own panics; this keeps a worker alive whatever else.
                    let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        actor.handle(input)
                    }));
                    if handled.is_err() {
                        tracing::error!("a task panicked outside its nodes; message dropped");
                    }
                }
                Err(mpsc::error::TryRecvError::Empty) => {
                    actor.idle();
                    // Idle, unless something arrived between the last look and now: the
                    // sender schedules only an idle task, so look once more after idling.
                    self.state.store(IDLE, Ordering::SeqCst);
                    let waiting = !receiver.is_empty() || receiver.is_closed();
                    drop(inner);
                    if waiting {
                        self.schedule();
                    }
                    return;
                }
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    actor.finish();
                    self.state.store(FINISHED, Ordering::SeqCst);
                    return;
                }
            }
        }
        drop(inner);
        // Turn used up: to the back of the run queue (still scheduled).
        let _ = self.run_queue.send(self.clone());
    }
}

/// The sending side of a task's queue. Cloning is cheap; when the last mailbox of a task is
/// dropped, the task finishes (flushes) on a worker.
pub(crate) struct Mailbox<T> {
    sender: Option<mpsc::Sender<T>>,
    waker: Arc<dyn Wake>,
}

impl<T> Clone for Mailbox<T> {
    fn clone(&self) -> Self {
        Mailbox {
            sender: self.sender.clone(),
            waker: self.waker.clone(),
        }
    }
}

impl<T> Drop for Mailbox<T> {
    fn drop(&mut self) {
        // Drop the sender first: the task must see its queue closed when it wakes.
        if self.sender.take().is_some() {
            self.waker.wake();
        }
    }
}

impl<T: Send> Mailbox<T> {
    fn sender(&self) -> &mpsc::Sender<T> {
        self.sender
            .as_ref()
            .expect("a mailbox has its sender until it is dropped")
    }

    /// Queue `input`, waiting while the queue is full; `Err` when the task has finished.
    pub(crate) async fn send(&self, input: T) -> Result<(), T> {
        let result = self.sender().send(input).await.map_err(|error| error.0);
        self.waker.wake();
        result
    }

    /// Queue `input` if there is room now.
    pub(crate) fn try_send(&self, input: T) -> Result<(), mpsc::error::TrySendError<T>> {
        let result = self.sender().try_send(input);
        self.waker.wake();
        result
    }

    /// A mailbox that does not keep the task alive.
    pub(crate) fn downgrade(&self) -> WeakMailbox<T> {
        WeakMailbox {
            sender: self.sender().downgrade(),
            waker: Arc::downgrade(&self.waker),
        }
    }
}

/// A [`Mailbox`] that does not keep its task alive (tickers, query drivers).
pub(crate) struct WeakMailbox<T> {
    sender: mpsc::WeakSender<T>,
    waker: Weak<dyn Wake>,
}

impl<T> Clone for WeakMailbox<T> {
    fn clone(&self) -> Self {
        WeakMailbox {
            sender: self.sender.clone(),
            waker: self.waker.clone(),
        }
    }
}

impl<T: Send> WeakMailbox<T> {
    /// The mailbox, while its task runs.
    pub(crate) fn upgrade(&self) -> Option<Mailbox<T>> {
        Some(Mailbox {
            sender: Some(self.sender.upgrade()?),
            waker: self.waker.upgrade()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    struct Recorder {
        seen: Arc<Mutex<Vec<(usize, usize)>>>,
        id: usize,
        finished: Arc<AtomicUsize>,
    }

    impl Actor for Recorder {
        type Input = usize;
        fn handle(&mut self, input: usize) {
            self.seen.lock().unwrap().push((self.id, input));
        }
        fn finish(&mut self) {
            self.finished.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn eventually(mut condition: impl FnMut() -> bool) {
        for _ in 0..2_000 {
            if condition() {
                return;
            }
            std::thread::yield_now();
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        panic!("condition not met");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_task_keeps_its_order_and_finishes_once() {
        let pool = Pool::new(3).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let finished = Arc::new(AtomicUsize::new(0));
        let mailboxes: Vec<Mailbox<usize>> = (0..20)
            .map(|id| {
                let actor = Recorder {
                    seen: seen.clone(),
                    id,
                    finished: finished.clone(),
                };
                pool.spawn(actor, 4)
            })
            .collect();
        let mut writers = Vec::new();
        for mailbox in &mailboxes {
            let mailbox = mailbox.clone();
            writers.push(tokio::spawn(async move {
                for n in 0..200 {
                    mailbox.send(n).await.unwrap();
                }
            }));
        }
        for writer in writers {
            writer.await.unwrap();
        }
        drop(mailboxes);
        eventually(|| finished.load(Ordering::SeqCst) == 20);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 20 * 200);
        for id in 0..20 {
            let order: Vec<usize> = seen
                .iter()
                .filter(|(task, _)| *task == id)
                .map(|(_, n)| *n)
                .collect();
            assert_eq!(order, (0..200).collect::<Vec<_>>(), "task {id}");
        }
    }

    #[test]
    fn a_weak_mailbox_does_not_keep_the_task() {
        let pool = Pool::new(1).unwrap();
        let finished = Arc::new(AtomicUsize::new(0));
        let mailbox = pool.spawn(
            Recorder {
                seen: Default::default(),
                id: 0,
                finished: finished.clone(),
            },
            1,
        );
        let weak = mailbox.downgrade();
        mailbox.try_send(1).unwrap();
        drop(mailbox);
        eventually(|| finished.load(Ordering::SeqCst) == 1);
        assert!(weak.upgrade().is_none());
    }
}
