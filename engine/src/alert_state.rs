//! Alert state that outlives the process (`alert().persist()`): the level history, the
//! flapping flag, the episode's trigger times, the last event sent and its level, per group.
//!
//! The engine does no storage I/O: the binary implements [`AlertStateStore`] (SQLite in the
//! embedded store) and hands it to the [`crate::Engine`]. A task's alert nodes load their
//! groups once when the task starts, before any point arrives, and then hand every
//! meaningful change (a level change, an event sent) to [`AlertStateStore::save`], which
//! must only enqueue. So a restart neither fires again for a level that was already
//! announced (`stateChangesOnly`) nor loses the recovery of a level that was.

/// The persisted state of one group of one alert node.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlertGroupState {
    /// The group id (`host=a`, `nil`).
    pub group: String,
    /// The level ring (0 = OK ... 3 = CRITICAL), oldest entry first at `idx + 1`.
    pub history: Vec<u8>,
    /// Position of the current level in `history`.
    pub idx: usize,
    /// Whether the group is flapping.
    pub flapping: bool,
    /// Time of the first event of the current episode (ns).
    pub first_triggered: i64,
    /// Time of the latest event (ns).
    pub last_triggered: i64,
    /// Id of the latest event sent for the group, and its level (the next event's
    /// `previousLevel`).
    pub last_sent: Option<(String, u8)>,
    /// The latest event sent for the group, as Kapacitor's event JSON.
    pub last_event: Option<Vec<u8>>,
}

/// Where alert state lives between runs. Implementations must not block for long in
/// [`AlertStateStore::save`]: it is called from task threads (queue the write and return).
pub trait AlertStateStore: Send + Sync + 'static {
    /// Every saved group of node `node` of task `task`.
    fn load(&self, task: &str, node: &str) -> Vec<AlertGroupState>;
    /// Record the new state of one group (replacing what was saved for it).
    fn save(&self, task: &str, node: &str, state: AlertGroupState);
    /// Forget every group of task `task` (the task was deleted).
    fn forget_task(&self, task: &str);
}

#[cfg(test)]
pub(crate) mod memory {
    //! An in-memory store for tests.

    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;

    /// Keeps saved states in a map and counts saves.
    #[derive(Default)]
    pub struct MemoryStore {
        pub states: Mutex<BTreeMap<(String, String, String), AlertGroupState>>,
        pub saves: Mutex<usize>,
    }

    impl AlertStateStore for MemoryStore {
        fn load(&self, task: &str, node: &str) -> Vec<AlertGroupState> {
            let states = self.states.lock().unwrap();
            states
                .iter()
                .filter(|((t, n, _), _)| t == task && n == node)
                .map(|(_, state)| state.clone())
                .collect()
        }

        fn save(&self, task: &str, node: &str, state: AlertGroupState) {
            *self.saves.lock().unwrap() += 1;
            self.states.lock().unwrap().insert(
                (task.to_owned(), node.to_owned(), state.group.clone()),
                state,
            );
        }

        fn forget_task(&self, task: &str) {
            self.states.lock().unwrap().retain(|(t, _, _), _| t != task);
        }
    }
}
