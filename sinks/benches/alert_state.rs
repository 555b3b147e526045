//! Alert state persistence throughput (issue 4's bar: at least 50,000 events per second
//! persisted): an alert task with `stateChangesOnly` and `.persist()` over 10,000 hosts
//! where 10% of the points change level, run in-process on one thread, with the SQLite store
//! of the daemon (`sinks/src/state/alert_state.rs`) writing to a temporary `weir.db`. The clock stops
//! when every save is committed.
//!
//! `cargo bench -p weir-sinks --bench alert_state` (optionally `-- POINTS`, default 2,000,000; `-- plain` runs
//! the same task without `.persist()`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use weir_dsl::nodes::AlertHandler;
use weir_engine::runtime::{CiWrite, HttpRequest, InfluxDbWrite, Outputs};
use weir_engine::task::Task;
use weir_engine::{AlertGroupState, AlertStateStore, Point};

const HOSTS: usize = 10_000;
const CHUNK: usize = 5_000;

/// Counts events and drops them.
#[derive(Default)]
struct Count {
    events: AtomicU64,
}

impl Outputs for Count {
    fn http_post(&self, _request: HttpRequest) {}
    fn influxdb_out(&self, _write: InfluxDbWrite) {}
    fn alert(&self, _handler: &AlertHandler, _event_json: Vec<u8>) {
        self.events.fetch_add(1, Ordering::Relaxed);
    }
    fn ci_out(&self, _write: CiWrite) {}
}

/// Counts saves on their way to the SQLite store.
struct Counted {
    inner: weir_sinks::state::alert_state::SqliteAlertState,
    saves: AtomicU64,
}

impl AlertStateStore for Counted {
    fn load(&self, task: &str, node: &str) -> Vec<AlertGroupState> {
        self.inner.load(task, node)
    }
    fn save(&self, task: &str, node: &str, state: AlertGroupState) {
        self.saves.fetch_add(1, Ordering::Relaxed);
        self.inner.save(task, node, state);
    }
    fn forget_task(&self, task: &str) {
        self.inner.forget_task(task);
    }
}

fn main() {
    let n_points: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(2_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Counted {
        inner: weir_sinks::state::alert_state::SqliteAlertState::open(dir.path())
            .expect("open the store"),
        saves: AtomicU64::new(0),
    });
    // `-- plain`: the same task without `.persist()`, for comparison.
    let persist = if std::env::args().any(|arg| arg == "plain") {
        ""
    } else {
        ".persist()"
    };
    let script = format!(
        "stream|from().measurement('cpu').groupBy('host')\
         |alert().crit(lambda: \"value\" > 90.0).stateChangesOnly(){persist}.log('/dev/null')"
    );
    let (program, diagnostics) = weir_dsl::compile(&script, &Default::default());
    let program = program.unwrap_or_else(|| panic!("{diagnostics:?}"));
    let outputs = Arc::new(Count::default());
    let mut task = Task::new("bench", &program, outputs.clone()).expect("task");
    let dyn_store: Arc<dyn AlertStateStore> = store.clone();
    task.attach_alert_state(&dyn_store);
    let hosts: Vec<String> = (0..HOSTS).map(|host| format!("host{host:05}")).collect();
    // Point i goes to host i % HOSTS; each host's level flips every 10th of its points.
    let point = |i: usize| {
        let round = i / HOSTS;
        let value = if (round / 10) % 2 == 1 { 95.0 } else { 10.0 };
        Point::gauge(
            "cpu",
            [("host".to_string(), hosts[i % HOSTS].clone())].into(),
            value,
            i as i64 * 1_000,
        )
    };
    let chunks: Vec<Vec<Point>> = (0..n_points)
        .collect::<Vec<usize>>()
        .chunks(CHUNK)
        .map(|chunk| chunk.iter().map(|i| point(*i)).collect())
        .collect();
    let start = Instant::now();
    for chunk in chunks {
        task.write("db", "rp", chunk);
    }
    let processed = start.elapsed();
    store.inner.flush();
    let elapsed = start.elapsed();
    let saves = store.saves.load(Ordering::Relaxed);
    let events = outputs.events.load(Ordering::Relaxed);
    let seconds = elapsed.as_secs_f64();
    println!(
        "alert_state: {n_points} points, {events} events ({:.1}% of points), {saves} states saved; \
         points processed in {:.3} s, all saves committed after {seconds:.3} s",
        events as f64 * 100.0 / n_points as f64,
        processed.as_secs_f64(),
    );
    println!(
        "alert_state: {:.0} events persisted/s, {:.0} points/s",
        saves as f64 / seconds,
        n_points as f64 / seconds
    );
    store.inner.close();
}
