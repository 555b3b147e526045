//! `batch|query(...)`: the source of batch tasks.
//!
//! The node itself only passes on what the runtime injects. Everything else here is pure
//! and tested with explicit times: the [`Schedule`] (next run times from `every`, `align`
//! or `cron`), the [`QueryPlan`] (each run's range `[now - offset - period, now - offset]`,
//! the InfluxQL text with weir's time condition and `GROUP BY`, the PromQL step), and the
//! conversion of a result's series into batches. The I/O is behind [`QuerySource`], which
//! the binary implements (Prometheus and InfluxDB clients live in the scrapers crate); the
//! runtime's [`drive`] loop awaits it on the tokio runtime, never on the task thread.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use weir_dsl::cron::Cron;
use weir_dsl::nodes::{GroupDimensions, QueryFill, QuerySpec};

pub use weir_dsl::nodes::QueryLanguage;

use crate::message::{Batch, GroupInterner, Message};
use crate::nodes::{Context, Node};
use crate::point::{Fields, Point, Tags};

/// What one run asks a [`QuerySource`] for.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryRequest {
    /// InfluxQL (to an `[[influxdb]]` source) or PromQL (to a `[[prometheus]]` source).
    pub language: QueryLanguage,
    /// The source by name; `None` means the default one.
    pub cluster: Option<String>,
    /// The text to send: InfluxQL with weir's time condition and `GROUP BY`, or PromQL.
    pub query: String,
    /// Range start (ns since the epoch).
    pub start: i64,
    /// Range end (ns since the epoch).
    pub end: i64,
    /// PromQL resolution step (ns).
    pub step: Option<i64>,
}

/// One series of a query result: its name, its tags and its rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QuerySeries {
    /// The measurement (InfluxQL) or the `__name__` label (PromQL; empty when absent).
    pub name: String,
    /// The series tags (PromQL: every label but `__name__`).
    pub tags: Tags,
    /// `(time, fields)` rows; null columns are left out.
    pub rows: Vec<(i64, Fields)>,
}

/// A run that failed; the message is the server's when it gave one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError(pub String);

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for QueryError {}

/// The future a [`QuerySource`] returns.
pub type QueryFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<QuerySeries>, QueryError>> + Send + 'a>>;

/// Runs queries for batch tasks; the binary implements it over its configured sources.
pub trait QuerySource: Send + Sync + 'static {
    /// Run one query.
    fn query(&self, request: QueryRequest) -> QueryFuture<'_>;

    /// Whether a source for `language` named `cluster` (or a default one) exists; checked
    /// when a task starts so that a typo fails the task instead of every run.
    fn check(&self, _language: QueryLanguage, _cluster: Option<&str>) -> Result<(), QueryError> {
        Ok(())
    }
}

/// When a query runs.
#[derive(Debug, Clone)]
pub struct Schedule {
    every: i64,
    align: bool,
    cron: Option<Cron>,
    started: i64,
}

impl Schedule {
    /// The schedule of `spec` for a task started at `started` (ns since the epoch).
    pub fn new(spec: &QuerySpec, started: i64) -> Result<Schedule, String> {
        let cron = match &spec.cron {
            Some(expression) => Some(Cron::parse(expression).map_err(|error| error.0)?),
            None => None,
        };
        if cron.is_none() && spec.every.0 <= 0 {
            return Err(format!("query every must be positive, got {}", spec.every));
        }
        Ok(Schedule {
            every: spec.every.0,
            align: spec.align,
            cron,
            started,
        })
    }

    /// The first run time strictly after `after`: the next cron match; with `.align()` the
    /// next multiple of `every`; otherwise `started + k·every` (Kapacitor's ticker, whose
    /// first tick comes one `every` after the start).
    pub fn next_run(&self, after: i64) -> Option<i64> {
        if let Some(cron) = &self.cron {
            return cron.next_after(after);
        }
        let every = self.every;
        if self.align {
            return after.div_euclid(every).checked_add(1)?.checked_mul(every);
        }
        if after < self.started {
            return self.started.checked_add(every);
        }
        let elapsed = after - self.started;
        self.started.checked_add(
            elapsed
                .div_euclid(every)
                .checked_add(1)?
                .checked_mul(every)?,
        )
    }
}

/// Everything a run needs from the spec, prepared once.
#[derive(Debug, Clone)]
pub struct QueryPlan {
    spec: QuerySpec,
    head: String,
    condition: Option<String>,
    tail: String,
    dimensions: GroupDimensions,
}

impl QueryPlan {
    /// Prepare `spec`; fails on a query the dsl would have refused.
    pub fn new(spec: &QuerySpec) -> Result<QueryPlan, String> {
        let (head, condition, tail) = match spec.language {
            QueryLanguage::InfluxQl => {
                let parts = weir_dsl::nodes::split_influxql(&spec.query)?;
                (
                    parts.head.to_owned(),
                    parts.condition.map(str::to_owned),
                    parts.tail.to_owned(),
                )
            }
            QueryLanguage::PromQl => (spec.query.clone(), None, String::new()),
        };
        let mut dimensions = spec.group_by.clone();
        if spec.language == QueryLanguage::PromQl && !dimensions.all && dimensions.tags.is_empty() {
            // Each PromQL series is its own group unless groupBy says otherwise.
            dimensions.all = true;
        }
        Ok(QueryPlan {
            spec: spec.clone(),
            head,
            condition,
            tail,
            dimensions,
        })
    }

    /// The range of the run at `run_time`: `end = run_time - offset`, `start = end - period`;
    /// for PromQL with `.align()`, `start` is rounded down to a multiple of the step.
    pub fn range(&self, run_time: i64) -> (i64, i64) {
        let end = run_time.saturating_sub(self.spec.offset.0);
        let mut start = end.saturating_sub(self.spec.period.0);
        if let (true, Some(step)) = (self.spec.align, self.step()) {
            start = start.div_euclid(step).saturating_mul(step);
        }
        (start, end)
    }

    fn step(&self) -> Option<i64> {
        self.spec
            .step
            .map(|step| step.0)
            .filter(|step| *step > 0 && self.spec.language == QueryLanguage::PromQl)
    }

    /// The request of the run at `run_time`.
    pub fn request(&self, run_time: i64) -> QueryRequest {
        let (start, end) = self.range(run_time);
        let query = match self.spec.language {
            QueryLanguage::PromQl => self.head.clone(),
            QueryLanguage::InfluxQl => self.influxql(start, end),
        };
        QueryRequest {
            language: self.spec.language,
            cluster: self.spec.cluster.clone(),
            query,
            start,
            end,
            step: self.step(),
        }
    }

    /// The InfluxQL text with `time >= start AND time < end`, `GROUP BY` and `fill`, as
    /// Kapacitor builds it. `.alignGroup()` offsets the time buckets so that one starts at
    /// `start`.
    fn influxql(&self, start: i64, end: i64) -> String {
        let mut text = self.head.clone();
        text.push_str(" WHERE ");
        if let Some(condition) = &self.condition {
            text.push('(');
            text.push_str(condition);
            text.push_str(") AND ");
        }
        text.push_str(&format!(
            "time >= '{}' AND time < '{}'",
            crate::json::format_time(start),
            crate::json::format_time(end)
        ));
        let mut dimensions = Vec::new();
        if let Some((interval, offset)) = self.spec.group_by_time {
            let offset = if self.spec.align_group && interval.0 > 0 {
                weir_dsl::Duration(start.rem_euclid(interval.0))
            } else {
                offset
            };
            if offset.0 == 0 {
                dimensions.push(format!("time({})", influxql_duration(interval.0)));
            } else {
                dimensions.push(format!(
                    "time({}, {})",
                    influxql_duration(interval.0),
                    influxql_duration(offset.0)
                ));
            }
        }
        if self.spec.group_by.all {
            dimensions.push("*".to_owned());
        } else {
            dimensions.extend(
                self.spec
                    .group_by
                    .tags
                    .iter()
                    .map(|tag| format!("\"{}\"", tag.replace('\\', "\\\\").replace('"', "\\\""))),
            );
        }
        if !dimensions.is_empty() {
            text.push_str(" GROUP BY ");
            text.push_str(&dimensions.join(", "));
        }
        if self.spec.group_by_time.is_some() {
            match self.spec.fill {
                QueryFill::Default => {}
                QueryFill::Null => text.push_str(" fill(null)"),
                QueryFill::None => text.push_str(" fill(none)"),
                QueryFill::Previous => text.push_str(" fill(previous)"),
                QueryFill::Linear => text.push_str(" fill(linear)"),
                QueryFill::Number(number) => text.push_str(&format!(" fill({number})")),
            }
        }
        if !self.tail.is_empty() {
            text.push(' ');
            text.push_str(&self.tail);
        }
        text
    }

    /// One batch per series: name from `.as` or the series, group from the dimensions,
    /// points at their own times (rows without any field are dropped). `tmax` is the
    /// newest point's time when the query is bucketed (`GROUP BY time` or a PromQL step),
    /// else the range end, as Kapacitor does.
    pub fn batches(&self, series: Vec<QuerySeries>, request: &QueryRequest) -> Vec<Batch> {
        let bucketed = self.spec.group_by_time.is_some() || request.step.is_some();
        let mut groups = GroupInterner::default();
        series
            .into_iter()
            .map(|series| {
                let name: crate::point::Name = self.spec.as_.clone().unwrap_or(series.name).into();
                let template = Point {
                    name: name.clone(),
                    tags: series.tags,
                    fields: Fields::new(),
                    time: request.end,
                };
                let group = groups.intern(&template, &self.dimensions);
                let points: Vec<Point> = series
                    .rows
                    .into_iter()
                    .filter(|(_, fields)| !fields.is_empty())
                    .map(|(time, fields)| Point {
                        name: name.clone(),
                        tags: template.tags.clone(),
                        fields,
                        time,
                    })
                    .collect();
                let tmax = match points.iter().map(|point| point.time).max() {
                    Some(newest) if bucketed => newest,
                    _ => request.end,
                };
                Batch {
                    name,
                    group,
                    tmax,
                    points,
                }
            })
            .collect()
    }
}

/// A duration as an InfluxQL literal in its largest exact unit (`10m`, `90s`, `1500ms`).
fn influxql_duration(nanos: i64) -> String {
    const UNITS: [(i64, &str); 7] = [
        (7 * 86_400 * 1_000_000_000, "w"),
        (86_400 * 1_000_000_000, "d"),
        (3_600 * 1_000_000_000, "h"),
        (60 * 1_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "u"),
    ];
    for (size, unit) in UNITS {
        if nanos != 0 && nanos % size == 0 {
            return format!("{}{unit}", nanos / size);
        }
    }
    format!("{nanos}ns")
}

/// Series from recorded points, one per measurement and tag set, for `weir test` of a
/// batch script: the recording stands for what the query returned.
pub fn series_from_points<'a>(points: impl IntoIterator<Item = &'a Point>) -> Vec<QuerySeries> {
    let mut series: Vec<QuerySeries> = Vec::new();
    let mut index: std::collections::HashMap<(crate::point::Name, Tags), usize> =
        Default::default();
    for point in points {
        let key = (point.name.clone(), point.tags.clone());
        let slot = *index.entry(key).or_insert_with(|| {
            series.push(QuerySeries {
                name: point.name.to_string(),
                tags: point.tags.clone(),
                rows: Vec::new(),
            });
            series.len() - 1
        });
        series[slot].rows.push((point.time, point.fields.clone()));
    }
    for one in &mut series {
        one.rows.sort_by_key(|(time, _)| *time);
    }
    series
}

/// The runtime `query` node: passes on the batches the runtime injects.
pub struct Query;

impl Query {
    /// Build from the spec (the work happens in [`QueryPlan`] and [`drive`]).
    pub fn new(_spec: &QuerySpec) -> Query {
        Query
    }
}

impl Node for Query {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        ctx.emit(message);
    }
}

/// What a run produced, for the task thread.
pub type RunResult = Result<Vec<Batch>, String>;

/// Run one query node's schedule until the task stops: wait for each run time (and for
/// the range end, when a negative offset puts it in the future), ask `source`, and hand the
/// batches or the error to the task through `deliver`. A failed run is logged and reported;
/// the next run still happens. Runs missed while a query was slow are skipped.
pub async fn drive<D, F>(
    task: String,
    node: String,
    plan: QueryPlan,
    schedule: Schedule,
    source: Arc<dyn QuerySource>,
    clock: fn() -> i64,
    mut deliver: D,
) where
    D: FnMut(RunResult) -> F,
    F: Future<Output = bool>,
{
    let mut after = clock();
    loop {
        let Some(run_time) = schedule.next_run(after) else {
            tracing::warn!(task = %task, node = %node, "the query schedule has no further run times");
            return;
        };
        let request = plan.request(run_time);
        let wake = run_time.max(request.end);
        let now = clock();
        if wake > now {
            tokio::time::sleep(std::time::Duration::from_nanos((wake - now) as u64)).await;
        }
        let result = match source.query(request.clone()).await {
            Ok(series) => Ok(plan.batches(series, &request)),
            Err(error) => {
                // The task logs the failure (rate-limited) when it receives it.
                tracing::debug!(task = %task, node = %node, query = %request.query, "query failed: {error}");
                Err(format!("query failed: {error}"))
            }
        };
        if !deliver(result).await {
            return;
        }
        after = run_time.max(clock());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::point::FieldValue;
    use weir_dsl::NodeSpec;

    const S: i64 = 1_000_000_000;

    fn spec(script: &str) -> QuerySpec {
        let (program, diagnostics) = weir_dsl::compile(script, &Default::default());
        let program = program.unwrap_or_else(|| panic!("{diagnostics:?}"));
        match &program.nodes[1].spec {
            NodeSpec::Query(spec) => spec.clone(),
            other => panic!("not a query: {other:?}"),
        }
    }

    #[test]
    fn every_runs_from_the_start_or_aligned() {
        let every = spec("batch|query('up').period(5m).every(1m).step(10s)");
        let schedule = Schedule::new(&every, 1_000 * S + 7).unwrap();
        assert_eq!(schedule.next_run(0), Some(1_060 * S + 7));
        assert_eq!(schedule.next_run(1_000 * S + 7), Some(1_060 * S + 7));
        assert_eq!(schedule.next_run(1_060 * S + 7), Some(1_120 * S + 7));
        assert_eq!(schedule.next_run(1_150 * S), Some(1_180 * S + 7));
        let aligned = spec("batch|query('up').period(5m).every(1m).step(10s).align()");
        let schedule = Schedule::new(&aligned, 1_000 * S + 7).unwrap();
        assert_eq!(schedule.next_run(1_000 * S + 7), Some(1_020 * S));
        assert_eq!(schedule.next_run(1_020 * S), Some(1_080 * S));
        let cron = spec("batch|query('up').period(5m).cron('*/10 * * * * * *').step(10s)");
        let schedule = Schedule::new(&cron, 0).unwrap();
        assert_eq!(schedule.next_run(1_000 * S + 7), Some(1_010 * S));
    }

    #[test]
    fn ranges_follow_offset_and_align_to_the_step() {
        let plan = QueryPlan::new(&spec(
            "batch|query('rate(x[1m])').period(5m).every(1m).offset(30s).step(7s)",
        ))
        .unwrap();
        assert_eq!(plan.range(1_000 * S), (670 * S, 970 * S));
        let request = plan.request(1_000 * S);
        assert_eq!(request.query, "rate(x[1m])");
        assert_eq!(request.step, Some(7 * S));
        assert_eq!(request.language, QueryLanguage::PromQl);
        let aligned = QueryPlan::new(&spec(
            "batch|query('up').period(5m).every(1m).offset(30s).step(7s).align()",
        ))
        .unwrap();
        // 670 rounded down to a multiple of 7 is 665; the end stays where it is.
        assert_eq!(aligned.range(1_000 * S), (665 * S, 970 * S));
        let negative = QueryPlan::new(&spec(
            "batch|query('up').period(1m).every(1m).offset(-10s).step(10s)",
        ))
        .unwrap();
        assert_eq!(negative.range(1_000 * S), (950 * S, 1_010 * S));
    }

    #[test]
    fn influxql_gets_the_time_range_group_by_and_fill() {
        let plan = QueryPlan::new(&spec(
            r#"batch|query('''SELECT mean("v") FROM "db"."rp"."cpu" WHERE "host" =~ /a|b/ LIMIT 5''').period(1h).every(10m).groupBy(time(10m), 'host', 'dc').fill(0)"#,
        ))
        .unwrap();
        let request = plan.request(1_600_000_000 * S);
        assert_eq!(
            request.query,
            r#"SELECT mean("v") FROM "db"."rp"."cpu" WHERE ("host" =~ /a|b/) AND time >= '2020-09-13T11:26:40Z' AND time < '2020-09-13T12:26:40Z' GROUP BY time(10m), "dc", "host" fill(0) LIMIT 5"#
        );
        assert_eq!(request.step, None);
        let plain = QueryPlan::new(&spec(
            "batch|query('SELECT v FROM m').period(10s).every(10s).groupBy(*).fill('none')",
        ))
        .unwrap();
        assert_eq!(
            plain.request(10 * S + 500).query,
            "SELECT v FROM m WHERE time >= '1970-01-01T00:00:00.0000005Z' AND time < '1970-01-01T00:00:10.0000005Z' GROUP BY *"
        );
        let aligned_group = QueryPlan::new(&spec(
            "batch|query('SELECT mean(v) FROM m').period(10m).every(1m).groupBy(time(5m)).alignGroup()",
        ))
        .unwrap();
        assert_eq!(
            aligned_group.request(3_720 * S).query,
            "SELECT mean(v) FROM m WHERE time >= '1970-01-01T00:52:00Z' AND time < '1970-01-01T01:02:00Z' GROUP BY time(5m, 2m)"
        );
    }

    fn row(time: i64, value: f64) -> (i64, Fields) {
        (
            time,
            Fields::from([("value".into(), FieldValue::Float(value))]),
        )
    }

    #[test]
    fn influxql_durations_use_the_largest_exact_unit() {
        assert_eq!(influxql_duration(600 * S), "10m");
        assert_eq!(influxql_duration(90 * S), "90s");
        assert_eq!(influxql_duration(1_500_000_000), "1500ms");
        assert_eq!(influxql_duration(14 * 86_400 * S), "2w");
        assert_eq!(influxql_duration(1_001), "1001ns");
    }

    #[test]
    fn series_become_batches() {
        let tags = |pairs: &[(&str, &str)]| -> Tags {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let series = vec![
            QuerySeries {
                name: "up".into(),
                tags: tags(&[("instance", "a"), ("job", "node")]),
                rows: vec![row(10 * S, 1.0), row(20 * S, 0.0), (25 * S, Fields::new())],
            },
            QuerySeries {
                name: "up".into(),
                tags: tags(&[("instance", "b"), ("job", "node")]),
                rows: vec![row(10 * S, 1.0)],
            },
        ];
        let promql =
            QueryPlan::new(&spec("batch|query('up').period(1m).every(1m).step(10s)")).unwrap();
        let request = promql.request(60 * S);
        let batches = promql.batches(series.clone(), &request);
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[0].name, "up");
        assert_eq!(batches[0].group.id, "instance=a,job=node");
        assert_eq!(batches[0].tmax, 20 * S);
        assert_eq!(
            batches[0].points.len(),
            2,
            "the row without fields is dropped"
        );
        assert_eq!(batches[1].group.id, "instance=b,job=node");
        let renamed = QueryPlan::new(&spec(
            "batch|query('up').period(1m).every(1m).step(10s).groupBy('job').as('alive')",
        ))
        .unwrap();
        let batches = renamed.batches(series.clone(), &request);
        assert_eq!(batches[0].name, "alive");
        assert_eq!(batches[0].points[0].name, "alive");
        assert_eq!(batches[0].group.id, "job=node");
        assert_eq!(batches[1].group.id, "job=node");
        let influxql = QueryPlan::new(&spec(
            "batch|query('SELECT v FROM up').period(1m).every(1m)",
        ))
        .unwrap();
        let request = influxql.request(60 * S);
        let batches = influxql.batches(series, &request);
        assert_eq!(batches[0].group.id, "nil");
        assert_eq!(
            batches[0].tmax,
            60 * S,
            "not bucketed: tmax is the range end"
        );
    }

    struct Answers(std::sync::Mutex<Vec<Result<Vec<QuerySeries>, QueryError>>>);

    impl QuerySource for Answers {
        fn query(&self, _request: QueryRequest) -> QueryFuture<'_> {
            let answer = self.0.lock().unwrap().remove(0);
            Box::pin(async move { answer })
        }
    }

    fn wall_clock() -> i64 {
        crate::runtime::wall_clock_nanos()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_engine_runs_batch_tasks_and_reports_failed_runs() {
        use crate::nodes::test_support::Recorder;
        let recorder = Arc::new(Recorder::default());
        let engine = crate::Engine::new(recorder.clone());
        let script =
            "batch|query('up').period(1m).every(20ms).step(1s)|httpPost('http://127.0.0.1:1/x')";
        let (program, diagnostics) = weir_dsl::compile(script, &Default::default());
        let program = program.unwrap_or_else(|| panic!("{diagnostics:?}"));
        let error = engine.start_task("b", program.clone()).unwrap_err();
        assert!(error.to_string().contains("need a query source"), "{error}");
        let mut answers: Vec<Result<Vec<QuerySeries>, QueryError>> =
            vec![Err(QueryError("server said no".into()))];
        answers.extend((0..200).map(|_| {
            Ok(vec![QuerySeries {
                name: "up".into(),
                tags: Tags::new(),
                rows: vec![row(S, 1.0)],
            }])
        }));
        engine.set_query_source(Arc::new(Answers(std::sync::Mutex::new(answers))));
        engine.start_task("b", program).unwrap();
        let mut posts = 0;
        for _ in 0..200 {
            posts = recorder.posts.lock().unwrap().len();
            if posts >= 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(posts >= 2, "runs after the failed one delivered batches");
        assert_eq!(
            engine.task_error("b").unwrap(),
            "",
            "a successful run clears the failed run's error"
        );
        let stats = engine.task_stats("b").unwrap();
        assert_eq!(stats.node_stats["query1"]["errors"], 1);
        engine.shutdown().await;
    }

    #[tokio::test]
    async fn a_failed_run_is_reported_and_the_next_run_still_happens() {
        let source = Arc::new(Answers(std::sync::Mutex::new(vec![
            Err(QueryError("bad_data: parse error".into())),
            Ok(vec![QuerySeries {
                name: "up".into(),
                tags: Tags::new(),
                rows: vec![row(S, 1.0)],
            }]),
        ])));
        let spec = spec("batch|query('up').period(1m).every(1ms).step(1s)");
        let plan = QueryPlan::new(&spec).unwrap();
        let schedule = Schedule::new(&spec, wall_clock()).unwrap();
        let mut results = Vec::new();
        drive(
            "t".into(),
            "query1".into(),
            plan,
            schedule,
            source,
            wall_clock,
            |result| {
                results.push(result);
                let more = results.len() < 2;
                async move { more }
            },
        )
        .await;
        assert_eq!(
            results[0],
            Err("query failed: bad_data: parse error".to_owned())
        );
        let batches = results[1].as_ref().unwrap();
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].points[0].time, S);
    }
}
