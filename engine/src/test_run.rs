//! `weir test`: run one program over recorded points on a virtual clock (the data's own
//! times) and return everything the task emitted.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use weir_dsl::Program;
use weir_dsl::nodes::AlertHandler;

use crate::json::format_time;
use crate::point::{FieldValue, Point};
use crate::runtime::{CiWrite, HttpRequest, InfluxDbWrite, Outputs};
use crate::stats::TaskStats;
use crate::task::{Clock, Task};

/// The task id used by [`run_test`].
pub const TEST_TASK_ID: &str = "test";

/// One `httpPost` request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestHttpPost {
    /// Destination.
    pub url: String,
    /// The JSON body.
    pub body: serde_json::Value,
}

/// One alert event delivered to one handler.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestAlert {
    /// `log:PATH`, `post:URL`, `tcp:ADDRESS` or `exec:COMMAND`.
    pub handler: String,
    /// Kapacitor's `alert.Data` JSON.
    pub event: serde_json::Value,
}

/// A point as JSON (`time` in RFC 3339).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestPoint {
    /// Measurement.
    pub name: String,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Fields.
    pub fields: BTreeMap<String, serde_json::Value>,
    /// RFC 3339 time.
    pub time: String,
}

impl From<&Point> for TestPoint {
    fn from(point: &Point) -> TestPoint {
        TestPoint {
            name: point.name.to_string(),
            tags: point.tags.to_btree(),
            fields: point
                .fields
                .iter()
                .map(|(key, value)| (key.to_string(), crate::json::field_json(value)))
                .collect(),
            time: format_time(point.time),
        }
    }
}

/// One `influxDBOut` write.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestInfluxDbWrite {
    /// Sink name, when set.
    pub cluster: Option<String>,
    /// Database.
    pub database: String,
    /// Retention policy.
    pub retention_policy: String,
    /// The points.
    pub points: Vec<TestPoint>,
}

/// One `ciOut` observation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestCiObservation {
    /// Item kind.
    pub kind: String,
    /// Item key.
    pub key: String,
    /// Tracked configuration.
    pub config: BTreeMap<String, String>,
    /// Latest metrics.
    pub metrics: BTreeMap<String, f64>,
    /// RFC 3339 time of the point observed.
    pub time: String,
}

/// Everything a test run emitted, in emission order per output kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TestOutput {
    /// `httpPost` requests.
    pub http_posts: Vec<TestHttpPost>,
    /// Alert events per handler.
    pub alerts: Vec<TestAlert>,
    /// `influxDBOut` writes.
    pub influxdb_writes: Vec<TestInfluxDbWrite>,
    /// `ciOut` observations.
    pub ci_observations: Vec<TestCiObservation>,
    /// Final `httpOut` results per endpoint.
    pub http_out: BTreeMap<String, serde_json::Value>,
    /// Node statistics at the end.
    pub stats: TaskStats,
    /// Why the program could not run, if it could not.
    pub error: Option<String>,
}

#[derive(Default)]
struct Recording {
    output: Mutex<TestOutput>,
}

impl Recording {
    fn with<R>(&self, f: impl FnOnce(&mut TestOutput) -> R) -> R {
        f(&mut self.output.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

fn handler_name(handler: &AlertHandler) -> String {
    match handler {
        AlertHandler::Log { path } => format!("log:{path}"),
        AlertHandler::Post { url, .. } => format!("post:{url}"),
        AlertHandler::Tcp { address } => format!("tcp:{address}"),
        AlertHandler::Exec { command } => format!("exec:{}", command.join(" ")),
        AlertHandler::Service { kind, .. } => kind.clone(),
        other => format!("{other:?}"),
    }
}

fn json_body(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(body).into_owned()))
}

impl Outputs for Recording {
    fn http_post(&self, request: HttpRequest) {
        let post = TestHttpPost {
            url: request.url,
            body: json_body(&request.body),
        };
        self.with(|output| output.http_posts.push(post));
    }

    fn influxdb_out(&self, write: InfluxDbWrite) {
        let write = TestInfluxDbWrite {
            cluster: write.cluster,
            database: write.database,
            retention_policy: write.retention_policy,
            points: write.points.iter().map(TestPoint::from).collect(),
        };
        self.with(|output| output.influxdb_writes.push(write));
    }

    fn alert(&self, handler: &AlertHandler, event_json: Vec<u8>) {
        let alert = TestAlert {
            handler: handler_name(handler),
            event: json_body(&event_json),
        };
        self.with(|output| output.alerts.push(alert));
    }

    fn ci_out(&self, write: CiWrite) {
        let observations = write
            .observations
            .into_iter()
            .map(|observation| TestCiObservation {
                kind: observation.kind,
                key: observation.key,
                config: observation.config,
                metrics: observation.metrics,
                time: format_time(observation.time),
            });
        self.with(|output| output.ci_observations.extend(observations));
    }
}

/// Run `program` over `points` (database, retention policy, point) and stop it (flushing
/// joins and unions). Points whose database and retention policy the program does not read
/// are skipped; a program without `dbrp` statements reads everything.
pub fn run_test(program: &Program, points: Vec<(String, String, Point)>) -> TestOutput {
    run_test_with_id(TEST_TASK_ID, program, points)
}

/// [`run_test`] with a chosen task id (what `{{ .TaskName }}` renders).
pub fn run_test_with_id(
    task_id: &str,
    program: &Program,
    points: Vec<(String, String, Point)>,
) -> TestOutput {
    let recording = Arc::new(Recording::default());
    let shared = match replay(task_id, program, points, recording.clone(), None) {
        Ok(shared) => shared,
        Err(error) => {
            return TestOutput {
                error: Some(error),
                ..TestOutput::default()
            };
        }
    };
    recording.with(|output| {
        output.stats = shared.stats();
        for endpoint in shared.http_out_endpoints() {
            if let Some(value) = shared.http_out(&endpoint) {
                output.http_out.insert(endpoint, value);
            }
        }
        std::mem::take(output)
    })
}

/// Run `program` over recorded points on the data's clock, its outputs going to `outputs`,
/// and stop it: what `weir test` and Kapacitor's replays (`kapacitor replay`) share. With
/// `pace`, points are written one timestamp at a time and `pace(time)` is called before each
/// (a replay on the real clock sleeps there). Answers the task's statistics and `httpOut`s.
pub fn replay(
    task_id: &str,
    program: &Program,
    points: Vec<(String, String, Point)>,
    outputs: Arc<dyn Outputs>,
    mut pace: Option<&mut dyn FnMut(i64)>,
) -> Result<Arc<crate::task::TaskShared>, String> {
    let mut task = Task::new(task_id, program, outputs).map_err(|error| error.to_string())?;
    task.set_clock(Clock::Data);
    let points = replay_queries(&mut task, points)?;
    let reads = |database: &str, retention_policy: &str| {
        program.dbrps.is_empty()
            || program
                .dbrps
                .iter()
                .any(|(db, rp)| db == database && rp == retention_policy)
    };
    let mut run: Vec<Point> = Vec::new();
    let mut run_key: Option<(String, String, i64)> = None;
    for (database, retention_policy, point) in points {
        if !reads(&database, &retention_policy) {
            continue;
        }
        // Without pacing a run spans every point of one dbrp; with it, one timestamp.
        let same = run_key.as_ref().is_some_and(|(db, rp, time)| {
            *db == database && *rp == retention_policy && (pace.is_none() || *time == point.time)
        });
        if !same {
            if let Some((db, rp, _)) = run_key.take() {
                task.write(&db, &rp, std::mem::take(&mut run));
            }
            if let Some(pace) = pace.as_mut() {
                pace(point.time);
            }
            run_key = Some((database, retention_policy, point.time));
        }
        run.push(point);
    }
    if let Some((db, rp, _)) = run_key {
        task.write(&db, &rp, run);
    }
    task.stop();
    Ok(task.shared())
}

/// One run of a batch recording: what the `query` node at `query` (its position among the
/// task's `query` nodes, as Kapacitor numbers a batch recording's sources) returned for the
/// run at `run_time`.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRun {
    /// Position of the `query` node among the task's `query` nodes.
    pub query: usize,
    /// The run's time (ns); the range is the query's period ending there.
    pub run_time: i64,
    /// The rows the query returned, as points.
    pub points: Vec<Point>,
}

/// The runs of a batch recording (`kapacitor record batch` or `record query -type batch`):
/// line protocol in sections that each start with `# query=N run=NS` (other directives as in
/// [`parse_directed`]). `None` when the text is a stream recording (no such section).
pub fn parse_batch_recording(text: &str) -> Result<Option<Vec<BatchRun>>, String> {
    let mut runs: Vec<BatchRun> = Vec::new();
    let mut section = String::new();
    let mut header: Option<(usize, i64)> = None;
    let mut flush = |header: Option<(usize, i64)>, section: &mut String| -> Result<(), String> {
        if let Some((query, run_time)) = header {
            let points = parse_directed(section, (String::new(), String::new()))?
                .into_iter()
                .map(|(_, _, point)| point)
                .collect();
            runs.push(BatchRun {
                query,
                run_time,
                points,
            });
        }
        section.clear();
        Ok(())
    };
    for (index, line) in text.lines().enumerate() {
        let directives = line.trim().strip_prefix('#').map(str::split_whitespace);
        let mut query = None;
        let mut run_time = None;
        for directive in directives.into_iter().flatten() {
            match directive.split_once('=') {
                Some(("query", value)) => query = value.parse::<usize>().ok(),
                Some(("run", value)) => run_time = value.parse::<i64>().ok(),
                _ => {}
            }
        }
        if let (Some(query), Some(run_time)) = (query, run_time) {
            flush(header.take(), &mut section).map_err(|e| {
                format!("the recording does not parse near line {}: {e}", index + 1)
            })?;
            header = Some((query, run_time));
        }
        section.push_str(line);
        section.push('\n');
    }
    if header.is_none() {
        return Ok(None);
    }
    flush(header, &mut section).map_err(|e| format!("the recording does not parse: {e}"))?;
    Ok(Some(runs))
}

/// Run a batch task over recorded runs on the data's clock: each run's rows become the
/// batches of its `query` node (one per series, as a live run makes them). With `pace`, it is
/// called with each run's time before the run.
pub fn replay_batches(
    task_id: &str,
    program: &Program,
    mut runs: Vec<BatchRun>,
    outputs: Arc<dyn Outputs>,
    mut pace: Option<&mut dyn FnMut(i64)>,
) -> Result<Arc<crate::task::TaskShared>, String> {
    let mut task = Task::new(task_id, program, outputs).map_err(|error| error.to_string())?;
    task.set_clock(Clock::Data);
    let queries = task.queries();
    if queries.is_empty() {
        return Err(format!(
            "task {task_id} has no query node: replay a batch recording into a batch task"
        ));
    }
    let mut plans = Vec::with_capacity(queries.len());
    for (node, name, spec) in &queries {
        let plan = crate::nodes::query::QueryPlan::new(spec).map_err(|e| format!("{name}: {e}"))?;
        plans.push((*node, plan));
    }
    runs.sort_by_key(|run| run.run_time);
    for run in runs {
        let Some((node, plan)) = plans.get(run.query) else {
            return Err(format!(
                "the recording has runs of query {} but task {task_id} has {} query node(s)",
                run.query + 1,
                plans.len()
            ));
        };
        if let Some(pace) = pace.as_mut() {
            pace(run.run_time);
        }
        let request = plan.request(run.run_time);
        let series = crate::nodes::query::series_from_points(&run.points);
        task.write_batches(*node, plan.batches(series, &request));
    }
    task.stop();
    Ok(task.shared())
}

/// Replay a recording into `program`: a stream recording (line protocol with directives,
/// [`parse_directed`]) is written to the task, a batch recording ([`parse_batch_recording`])
/// is handed to its `query` nodes run by run. The data is shifted to start now (its spacing
/// kept) unless `recording_time`, and paced by the wall clock when `real_clock`. Answers the
/// task's statistics and what its `httpOut` nodes hold at the end.
pub fn replay_recording(
    task_id: &str,
    program: &Program,
    recording: &str,
    outputs: Arc<dyn Outputs>,
    recording_time: bool,
    real_clock: bool,
) -> Result<(TaskStats, BTreeMap<String, serde_json::Value>), String> {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    let wall = std::time::Instant::now();
    let wait = |base: i64, time: i64| {
        let due = std::time::Duration::from_nanos(u64::try_from(time - base).unwrap_or(0));
        if let Some(left) = due.checked_sub(wall.elapsed()) {
            std::thread::sleep(left);
        }
    };
    let shared = if let Some(mut runs) = parse_batch_recording(recording)? {
        let first = runs.iter().map(|run| run.run_time).min().unwrap_or(0);
        if !recording_time {
            let shift = started.saturating_sub(first);
            for run in &mut runs {
                run.run_time = run.run_time.saturating_add(shift);
                for point in &mut run.points {
                    point.time = point.time.saturating_add(shift);
                }
            }
        }
        let base = if recording_time { first } else { started };
        let mut paced = |time: i64| wait(base, time);
        let pace: Option<&mut dyn FnMut(i64)> = if real_clock { Some(&mut paced) } else { None };
        replay_batches(task_id, program, runs, outputs, pace)?
    } else {
        let mut points = parse_directed(recording, (String::new(), String::new()))
            .map_err(|e| format!("the recording does not parse: line {e}"))?;
        let first = points.iter().map(|(_, _, p)| p.time).min().unwrap_or(0);
        if !recording_time {
            for (_, _, point) in &mut points {
                point.time = started.saturating_add(point.time - first);
            }
        }
        let base = if recording_time { first } else { started };
        let mut paced = |time: i64| wait(base, time);
        let pace: Option<&mut dyn FnMut(i64)> = if real_clock { Some(&mut paced) } else { None };
        replay(task_id, program, points, outputs, pace)?
    };
    let http_out = shared
        .http_out_endpoints()
        .into_iter()
        .filter_map(|endpoint| shared.http_out(&endpoint).map(|value| (endpoint, value)))
        .collect();
    Ok((shared.stats(), http_out))
}

/// Points of line protocol with directives in comments (`# db=NAME rp=NAME precision=s`;
/// precision defaults to seconds, as in Kapacitor's recordings): `weir test` data files and
/// weir's stream recordings. Errors name the line.
pub fn parse_directed(
    text: &str,
    default_dbrp: (String, String),
) -> Result<Vec<(String, String, Point)>, String> {
    use crate::line_protocol::{self, Precision};
    let (mut database, mut retention_policy) = default_dbrp;
    let mut precision = Precision::Seconds;
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(comment) = trimmed.strip_prefix('#') {
            for directive in comment.split_whitespace() {
                match directive.split_once('=') {
                    Some(("db", value)) => database = value.to_owned(),
                    Some(("rp", value)) => retention_policy = value.to_owned(),
                    Some(("precision", value)) => {
                        precision = Precision::from_query(value)
                            .ok_or_else(|| format!("{}: unknown precision {value:?}", index + 1))?;
                    }
                    _ => {}
                }
            }
            continue;
        }
        if trimmed.is_empty() {
            continue;
        }
        let (points, errors) = line_protocol::parse(trimmed, precision, 0);
        if let Some(error) = errors.first() {
            return Err(format!("{}: {}", index + 1, error.message));
        }
        out.extend(
            points
                .into_iter()
                .map(|p| (database.clone(), retention_policy.clone(), p)),
        );
    }
    Ok(out)
}

/// A batch task's `query` nodes get the recorded points as their result: one run each,
/// one batch per series, ending at the newest point (Kapacitor replays batch recordings
/// the same way). Stream tasks get the points back to write.
fn replay_queries(
    task: &mut Task,
    points: Vec<(String, String, Point)>,
) -> Result<Vec<(String, String, Point)>, String> {
    let queries = task.queries();
    if queries.is_empty() {
        return Ok(points);
    }
    let newest = points
        .iter()
        .map(|(_, _, point)| point.time)
        .max()
        .unwrap_or(0);
    for (node, name, spec) in queries {
        let plan = crate::nodes::query::QueryPlan::new(&spec)
            .map_err(|error| format!("{name}: {error}"))?;
        let request = plan.request(newest.saturating_add(spec.offset.0));
        let series =
            crate::nodes::query::series_from_points(points.iter().map(|(_, _, point)| point));
        task.write_batches(node, plan.batches(series, &request));
    }
    Ok(Vec::new())
}

/// A field value from JSON, for callers reading recorded points.
pub fn field_from_json(value: &serde_json::Value) -> Option<FieldValue> {
    match value {
        serde_json::Value::Bool(value) => Some(FieldValue::Bool(*value)),
        serde_json::Value::String(value) => Some(FieldValue::String(value.clone())),
        serde_json::Value::Number(number) => match number.as_i64() {
            Some(value) => Some(FieldValue::Int(value)),
            None => number.as_f64().map(FieldValue::Float),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_dsl::nodes::{
        AggregateFunction, AggregateSpec, FromSpec, HttpOutSpec, InfluxDbOutSpec, WindowSpec,
    };
    use weir_dsl::{Duration, NodeSpec, ProgramNode};

    fn node(name: &str, spec: NodeSpec, parents: &[usize]) -> ProgramNode {
        ProgramNode {
            name: name.into(),
            spec,
            parents: parents.to_vec(),
            span: Default::default(),
        }
    }

    #[test]
    fn collects_every_output_kind() {
        let program = Program {
            task_type: weir_dsl::TaskType::Stream,
            dbrps: vec![("db".into(), "autogen".into())],
            nodes: vec![
                node("stream0", NodeSpec::Stream, &[]),
                node("from1", NodeSpec::From(FromSpec::default()), &[0]),
                node(
                    "window2",
                    NodeSpec::Window(WindowSpec {
                        period: Some(Duration(10)),
                        every: Some(Duration(10)),
                        ..Default::default()
                    }),
                    &[1],
                ),
                node(
                    "sum3",
                    NodeSpec::Aggregate(AggregateSpec {
                        function: AggregateFunction::Sum,
                        field: "value".into(),
                        as_: "sum".into(),
                        use_point_times: false,
                    }),
                    &[2],
                ),
                node(
                    "http_out4",
                    NodeSpec::HttpOut(HttpOutSpec {
                        endpoint: "sums".into(),
                    }),
                    &[3],
                ),
                node(
                    "influxdb_out5",
                    NodeSpec::InfluxDbOut(InfluxDbOutSpec {
                        database: "out".into(),
                        buffer: 1000,
                        ..Default::default()
                    }),
                    &[4],
                ),
            ],
        };
        let points = (0..25)
            .map(|t| {
                (
                    "db".to_string(),
                    "autogen".to_string(),
                    Point::gauge("m", Default::default(), 1.0, t),
                )
            })
            .chain(std::iter::once((
                "elsewhere".to_string(),
                "autogen".to_string(),
                Point::gauge("m", Default::default(), 100.0, 26),
            )))
            .collect();
        let output = run_test(&program, points);
        assert_eq!(output.error, None);
        assert_eq!(output.influxdb_writes.len(), 1);
        let sums: Vec<&serde_json::Value> = output.influxdb_writes[0]
            .points
            .iter()
            .map(|p| &p.fields["sum"])
            .collect();
        assert_eq!(sums, [10.0, 10.0]);
        assert_eq!(output.http_out["sums"]["series"][0]["values"][0][1], 10.0);
        assert_eq!(output.stats.node_stats["from1"]["collected"], 25);
        let json = serde_json::to_string(&output).unwrap();
        assert!(json.contains("\"node-stats\""));
    }

    #[test]
    fn batch_scripts_take_the_points_as_their_query_result() {
        let script = "batch|query('up').period(1m).every(1m).step(10s)|max('value')|httpOut('max')";
        let (program, diagnostics) = weir_dsl::compile(script, &Default::default());
        let program = program.unwrap_or_else(|| panic!("{diagnostics:?}"));
        let tags = |instance: &str| [("instance".to_owned(), instance.to_owned())].into();
        let points = [("a", 1.0, 10), ("a", 3.0, 20), ("b", 2.0, 20)]
            .into_iter()
            .map(|(instance, value, secs)| {
                let point = Point::gauge("up", tags(instance), value, secs * 1_000_000_000);
                ("prom".to_owned(), "autogen".to_owned(), point)
            })
            .collect();
        let output = run_test(&program, points);
        assert_eq!(output.error, None);
        let series = output.http_out["max"]["series"].as_array().unwrap();
        assert_eq!(series.len(), 2, "{series:?}");
        assert_eq!(series[0]["tags"]["instance"], "a");
        assert_eq!(series[0]["values"][0][1], 3.0);
        assert_eq!(series[1]["values"][0][1], 2.0);
    }

    #[test]
    fn reports_programs_it_cannot_run() {
        let program = Program {
            task_type: weir_dsl::TaskType::Batch,
            dbrps: vec![],
            nodes: vec![
                node("batch0", NodeSpec::Batch, &[]),
                node("from1", NodeSpec::From(Default::default()), &[0]),
            ],
        };
        assert!(run_test(&program, Vec::new()).error.is_some());
        assert_eq!(
            field_from_json(&serde_json::json!(2)),
            Some(FieldValue::Int(2))
        );
    }

    #[test]
    fn recordings_replay_on_shifted_or_recorded_time_and_the_real_clock() {
        let (program, diagnostics) = weir_dsl::compile(
            "dbrp \"db\".\"rp\"\nstream|from().measurement('cpu')|httpOut('o')",
            &Default::default(),
        );
        let program = program.unwrap_or_else(|| panic!("{diagnostics:?}"));
        let recording = "# db=db rp=rp precision=ms\ncpu value=1 10000\n# db=other rp=rp\ncpu value=9 10100\n# db=db rp=rp\ncpu value=2 10250\n";
        let outputs = Arc::new(Recording::default());
        let (stats, out) =
            replay_recording("t", &program, recording, outputs.clone(), true, false).unwrap();
        assert_eq!(
            out["o"]["series"][0]["values"][0][0],
            "1970-01-01T00:00:10.25Z"
        );
        assert_eq!(out["o"]["series"][0]["values"][0][1], 2.0);
        assert_eq!(
            stats.node_stats["from1"]["collected"], 2,
            "other dbrps are skipped"
        );
        let started = std::time::Instant::now();
        let (_, out) = replay_recording("t", &program, recording, outputs, false, true).unwrap();
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(250),
            "paced"
        );
        let shifted = out["o"]["series"][0]["values"][0][0]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(shifted.as_str() > "2020", "shifted to now: {shifted}");
        let error = replay_recording(
            "t",
            &program,
            "cpu value=",
            Arc::new(Recording::default()),
            true,
            false,
        )
        .unwrap_err();
        assert!(
            error.starts_with("the recording does not parse: line 1:"),
            "{error}"
        );
    }
}
