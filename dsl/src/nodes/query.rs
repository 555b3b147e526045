//! `batch|query(...)`: runs a query on a schedule and emits its result as batches.
//!
//! A query that starts with `SELECT` is InfluxQL and runs against an `[[influxdb]]` source;
//! weir adds the time range and the `GROUP BY` from the properties, as Kapacitor does.
//! Anything else is PromQL and runs against a `[[prometheus]]` source through
//! `/api/v1/query_range`, one point every `.step` (or `.groupBy(time(d))`).
//!
//! ```tick
//! batch|query('SELECT mean("usage_user") AS usage FROM "telegraf"."autogen"."cpu"').period(5m).every(1m).groupBy(time(1m), 'host')
//! ```
//!
//! ```tick
//! batch|query('rate(node_cpu_seconds_total{mode="idle"}[1m])').period(5m).every(1m).step(15s).align().as('idle_rate')
//! ```

use crate::nodes::{EdgeType, NodeSpec};
use crate::schema::{Arg, ArgValue, Chains, NodeBuild, NodeKind, Provides, Sig, Wants, prop};
use crate::value::{Duration, Value};

/// How empty `GROUP BY time()` buckets are filled.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum QueryFill {
    /// No `fill()` clause (InfluxDB's default, `null`).
    #[default]
    Default,
    /// `fill(null)`.
    Null,
    /// `fill(none)`.
    None,
    /// `fill(previous)`.
    Previous,
    /// `fill(linear)`.
    Linear,
    /// `fill(<number>)`.
    Number(f64),
}

/// The query language, chosen by the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryLanguage {
    /// InfluxQL (`SELECT ...`) against an `[[influxdb]]` source.
    #[default]
    InfluxQl,
    /// PromQL against a `[[prometheus]]` source.
    PromQl,
}

/// Properties of `query()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QuerySpec {
    /// The query: an InfluxQL `SELECT` without a `GROUP BY` (a time condition of its own is
    /// ANDed with the range, as in Kapacitor), or PromQL.
    pub query: String,
    /// Which language `query` is in.
    pub language: QueryLanguage,
    /// Time range of each query (`now() - period` to `now()`).
    pub period: Duration,
    /// How often the query runs (zero when `cron` schedules it).
    pub every: Duration,
    /// A cron expression scheduling the runs instead of `every` (see [`crate::cron`]).
    pub cron: Option<String>,
    /// Shift the range into the past by this much.
    pub offset: Duration,
    /// Align run times to multiples of `every`; for PromQL, also round the range start down
    /// to a multiple of the step.
    pub align: bool,
    /// Align `GROUP BY time()` buckets with the query start (InfluxQL).
    pub align_group: bool,
    /// `GROUP BY time(every, offset)`, when requested.
    pub group_by_time: Option<(Duration, Duration)>,
    /// PromQL: the resolution step (`.step(d)` or `.groupBy(time(d))`).
    pub step: Option<Duration>,
    /// `GROUP BY` tags (`*` for all); for PromQL, the group dimensions of each batch
    /// (without any, each series is its own group).
    pub group_by: crate::nodes::GroupDimensions,
    /// Fill policy.
    pub fill: QueryFill,
    /// The source by name (none: the default one).
    pub cluster: Option<String>,
    /// The batch name instead of the series name (`.as('name')`).
    pub as_: Option<String>,
}

pub(crate) const KIND: NodeKind = NodeKind {
    method: "query",
    node_name: "query",
    args: Sig::exact(&[("query", Arg::Str)]),
    props: &[
        prop("period", Sig::exact(&[("period", Arg::Duration)])),
        prop("every", Sig::exact(&[("every", Arg::Duration)])),
        prop("cron", Sig::exact(&[("cron", Arg::Str)])),
        prop("offset", Sig::exact(&[("offset", Arg::Duration)])),
        prop("align", Sig::NONE),
        prop("alignGroup", Sig::NONE),
        prop("groupBy", Sig::variadic("dimension", Arg::StrOrTime)),
        prop("groupByMeasurement", Sig::NONE),
        prop("fill", Sig::exact(&[("fill", Arg::Any)])),
        prop("step", Sig::exact(&[("step", Arg::Duration)])),
        prop("cluster", Sig::exact(&[("cluster", Arg::Str)])),
        prop("as", Sig::exact(&[("name", Arg::Str)])),
    ],
    handlers: &[],
    wants: Wants::Batch,
    provides: Provides::Fixed(EdgeType::Batch),
    chains: Chains::Common,
    build,
};

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let code = crate::codes::INVALID_PROPERTY;
    let query = node.arg_str(0);
    let mut ok = true;
    let language = if query
        .trim_start()
        .get(..6)
        .is_some_and(|word| word.eq_ignore_ascii_case("SELECT"))
    {
        QueryLanguage::InfluxQl
    } else {
        QueryLanguage::PromQl
    };
    if query.trim().is_empty() {
        let span = node.call.span;
        node.error(
            code,
            "query() needs an InfluxQL SELECT statement or a PromQL expression",
            span,
        );
        ok = false;
    } else if language == QueryLanguage::InfluxQl {
        match split_influxql(&query) {
            Err(why) => {
                let span = node.call.span;
                node.error(code, why, span);
                ok = false;
            }
            Ok(parts) if parts.has_group_by => {
                let span = node.call.span;
                node.error(
                    code,
                    "the query must not have a GROUP BY clause: weir adds it from .groupBy(...)",
                    span,
                );
                ok = false;
            }
            Ok(parts) if parts.condition.is_some_and(mentions_time) => {
                // Kapacitor ANDs the query's own condition with the range; so does weir.
                let span = node.call.span;
                node.diagnostics.push(crate::Diagnostic::warning(
                    crate::codes::QUERY_TIME_CONDITION,
                    "the query has its own time condition: it is ANDed with the range from .period(...) and .offset(...), so each run sees only their overlap",
                    span,
                ));
            }
            Ok(_) => {}
        }
    }
    let Some(period) = node.duration("period") else {
        node.missing("period", ".period(5m)");
        return None;
    };
    if period.0 <= 0 {
        // end = now - offset and start = end - period: start would not be before end.
        let span = node.span_of("period");
        node.error(
            code,
            format!("query period must be positive (the range start must be before its end), got {period}"),
            span,
        );
        ok = false;
    }
    let every = node.duration("every");
    let cron = node.string("cron");
    match (&every, &cron) {
        (None, None) => {
            node.missing("every", ".every(1m)");
            return None;
        }
        (Some(_), Some(_)) => {
            let span = node.span_of("cron");
            node.error(code, "query every and cron cannot both be set", span);
            ok = false;
        }
        (Some(every), None) if every.0 <= 0 => {
            let span = node.span_of("every");
            node.error(
                code,
                format!("query every must be positive, got {every}"),
                span,
            );
            ok = false;
        }
        (None, Some(expression)) => {
            if let Err(error) = crate::cron::Cron::parse(expression) {
                let span = node.span_of("cron");
                node.error(code, error.0, span);
                ok = false;
            }
        }
        _ => {}
    }
    let mut group_by_time = None;
    let mut tags = Vec::new();
    if let Some(call) = node.last("groupBy") {
        for (value, _) in &call.args {
            match value {
                ArgValue::Time(interval, offset) => group_by_time = Some((*interval, *offset)),
                other => tags.push(other.clone()),
            }
        }
    }
    if let Some((interval, _)) = group_by_time {
        if interval.0 <= 0 {
            let span = node.span_of("groupBy");
            node.error(
                code,
                format!("groupBy time interval must be positive, got {interval}"),
                span,
            );
            ok = false;
        }
    }
    let mut group_by = crate::nodes::GroupDimensions::from_args(tags.iter());
    group_by.by_measurement = node.flag("groupByMeasurement");
    let fill = match node.value("fill") {
        None => QueryFill::Default,
        Some(ArgValue::Value(Value::String(text))) => {
            match text.as_str() {
                "null" => QueryFill::Null,
                "none" => QueryFill::None,
                "previous" => QueryFill::Previous,
                "linear" => QueryFill::Linear,
                other => {
                    let span = node.span_of("fill");
                    node.error(
                    code,
                    format!("invalid fill {other:?}, expected null, none, previous, linear or a number"),
                    span,
                );
                    return None;
                }
            }
        }
        Some(ArgValue::Value(Value::Float(number))) => QueryFill::Number(*number),
        Some(ArgValue::Value(Value::Int(number))) => QueryFill::Number(*number as f64),
        Some(_) => {
            let span = node.span_of("fill");
            node.error(
                code,
                "query fill must be 'null', 'none', 'previous', 'linear' or a number",
                span,
            );
            return None;
        }
    };
    let mut step = node.duration("step");
    match language {
        QueryLanguage::InfluxQl => {
            if group_by_time.is_none() {
                node.ignored("fill", "it applies to .groupBy(time(...)) buckets");
            }
            if step.is_some() {
                let span = node.span_of("step");
                node.error(
                    code,
                    "step is for PromQL queries; InfluxQL uses .groupBy(time(d))",
                    span,
                );
                ok = false;
            }
        }
        QueryLanguage::PromQl => {
            if node.flag("fill") {
                let span = node.span_of("fill");
                node.error(code, "fill applies to InfluxQL queries, not PromQL", span);
                ok = false;
            }
            if let Some((interval, offset)) = group_by_time {
                if step.is_some_and(|step| step != interval) {
                    let span = node.span_of("step");
                    node.error(
                        code,
                        format!(
                            "step {} and groupBy(time({interval})) disagree",
                            step.unwrap_or_default()
                        ),
                        span,
                    );
                    ok = false;
                }
                if offset.0 != 0 {
                    let span = node.span_of("groupBy");
                    node.error(code, "PromQL queries take no groupBy time offset", span);
                    ok = false;
                }
                step = Some(interval);
            }
            match step {
                None => {
                    node.missing("step", ".step(1m)");
                    return None;
                }
                Some(step) if step.0 < 1_000_000 => {
                    // Prometheus truncates the step to milliseconds and refuses zero.
                    let span = node.span_of("step");
                    node.error(
                        code,
                        format!("query step must be at least 1ms, got {step}"),
                        span,
                    );
                    ok = false;
                }
                Some(_) => {}
            }
        }
    }
    if !ok {
        return None;
    }
    let align_group = node.flag("alignGroup");
    Some(NodeSpec::Query(QuerySpec {
        query,
        language,
        period,
        every: every.unwrap_or_default(),
        cron,
        offset: node.duration("offset").unwrap_or_default(),
        align: node.flag("align") || (align_group && language == QueryLanguage::PromQl),
        align_group,
        group_by_time: group_by_time.filter(|_| language == QueryLanguage::InfluxQl),
        step: step.filter(|_| language == QueryLanguage::PromQl),
        group_by,
        fill,
        cluster: node.string("cluster"),
        as_: node.string("as"),
    }))
}

/// An InfluxQL `SELECT` cut where weir inserts its clauses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfluxQlParts<'a> {
    /// `SELECT ... FROM ...`, up to the `WHERE` (or the first later clause).
    pub head: &'a str,
    /// The `WHERE` condition, without the keyword.
    pub condition: Option<&'a str>,
    /// Whether a `GROUP BY` clause is present.
    pub has_group_by: bool,
    /// Everything after the condition (`ORDER BY`, `LIMIT`, `SLIMIT`, `tz()`...).
    pub tail: &'a str,
}

/// Split an InfluxQL `SELECT` at its top-level `WHERE` and the clauses after it, skipping
/// strings, quoted identifiers, regular expressions and parenthesised subqueries.
pub fn split_influxql(query: &str) -> Result<InfluxQlParts<'_>, String> {
    let query = query.trim().trim_end_matches(';').trim_end();
    let bytes = query.as_bytes();
    let mut depth = 0i32;
    let mut idx = 0;
    let mut where_at = None;
    let mut clause_at = None;
    let mut has_group_by = false;
    let mut previous_word = String::new();
    let mut previous_symbol = 0u8;
    while idx < bytes.len() {
        let byte = bytes[idx];
        match byte {
            b'\'' | b'"' => {
                idx = skip_quoted(bytes, idx, byte).ok_or_else(|| {
                    format!(
                        "unterminated {} in the query",
                        if byte == b'\'' {
                            "string"
                        } else {
                            "identifier"
                        }
                    )
                })?;
                previous_word.clear();
                previous_symbol = byte;
                continue;
            }
            b'/' if previous_symbol == b'~'
                || previous_symbol == b','
                || previous_word.eq_ignore_ascii_case("FROM") =>
            {
                idx = skip_quoted(bytes, idx, b'/')
                    .ok_or_else(|| "unterminated regular expression in the query".to_owned())?;
                previous_word.clear();
                previous_symbol = b'/';
                continue;
            }
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth < 0 {
                    return Err("unbalanced parentheses in the query".to_owned());
                }
            }
            _ => {}
        }
        if byte.is_ascii_alphabetic() || byte == b'_' {
            let end = bytes[idx..]
                .iter()
                .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
                .map_or(bytes.len(), |len| idx + len);
            let word = &query[idx..end];
            if depth == 0 {
                let upper = word.to_ascii_uppercase();
                match upper.as_str() {
                    "WHERE" if where_at.is_none() && clause_at.is_none() => where_at = Some(idx),
                    "GROUP" | "ORDER" | "LIMIT" | "OFFSET" | "SLIMIT" | "SOFFSET" | "TZ"
                    | "FILL"
                        if clause_at.is_none() =>
                    {
                        clause_at = Some(idx);
                        has_group_by |= upper == "GROUP";
                    }
                    "GROUP" => has_group_by = true,
                    _ => {}
                }
            }
            previous_word = word.to_owned();
            previous_symbol = 0;
            idx = end;
            continue;
        }
        if !byte.is_ascii_whitespace() {
            previous_word.clear();
            previous_symbol = byte;
        }
        idx += 1;
    }
    if depth != 0 {
        return Err("unbalanced parentheses in the query".to_owned());
    }
    let clause_at = clause_at.unwrap_or(query.len());
    let (head, condition) = match where_at {
        Some(at) => (
            query[..at].trim_end(),
            Some(query[at + "WHERE".len()..clause_at].trim()),
        ),
        None => (query[..clause_at].trim_end(), None),
    };
    if condition.is_some_and(str::is_empty) {
        return Err("the query's WHERE clause is empty".to_owned());
    }
    Ok(InfluxQlParts {
        head,
        condition,
        has_group_by,
        tail: query[clause_at..].trim(),
    })
}

/// Index after the closing `quote` of the quoted text starting at `start`.
fn skip_quoted(bytes: &[u8], start: usize, quote: u8) -> Option<usize> {
    let mut idx = start + 1;
    while idx < bytes.len() {
        match bytes[idx] {
            b'\\' => idx += 2,
            byte if byte == quote => return Some(idx + 1),
            _ => idx += 1,
        }
    }
    None
}

/// Whether a condition refers to `time` (outside strings).
fn mentions_time(condition: &str) -> bool {
    let bytes = condition.as_bytes();
    let mut idx = 0;
    while idx < bytes.len() {
        match bytes[idx] {
            b'\'' => idx = skip_quoted(bytes, idx, b'\'').unwrap_or(bytes.len()),
            b'"' => {
                let end = skip_quoted(bytes, idx, b'"').unwrap_or(bytes.len());
                if condition[idx..end].eq_ignore_ascii_case("\"time\"") {
                    return true;
                }
                idx = end;
            }
            byte if byte.is_ascii_alphabetic() || byte == b'_' => {
                let end = bytes[idx..]
                    .iter()
                    .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
                    .map_or(bytes.len(), |len| idx + len);
                if condition[idx..end].eq_ignore_ascii_case("time") {
                    return true;
                }
                idx = end;
            }
            _ => idx += 1,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_influxql_at_its_clauses() {
        let parts = split_influxql(
            r#"SELECT mean("value") FROM "db"."rp"."cpu" WHERE "host" = 'a where b' AND x =~ /GROUP/ LIMIT 10;"#,
        )
        .unwrap();
        assert_eq!(parts.head, r#"SELECT mean("value") FROM "db"."rp"."cpu""#);
        assert_eq!(
            parts.condition,
            Some(r#""host" = 'a where b' AND x =~ /GROUP/"#)
        );
        assert_eq!(parts.tail, "LIMIT 10");
        assert!(!parts.has_group_by);
        let parts =
            split_influxql("select a / 2 from (select b from c where d = 1) group by e").unwrap();
        assert_eq!(
            parts.head,
            "select a / 2 from (select b from c where d = 1)"
        );
        assert_eq!(parts.condition, None);
        assert!(parts.has_group_by);
        let parts = split_influxql("SELECT v FROM /cpu.*/ WHERE a = 'b'").unwrap();
        assert_eq!(parts.head, "SELECT v FROM /cpu.*/");
        assert!(split_influxql("SELECT v FROM m WHERE").is_err());
        assert!(split_influxql("SELECT v FROM m WHERE a = 'b").is_err());
        assert!(mentions_time("\"time\" > now() - 1h"));
        assert!(mentions_time("a = 1 AND time > 0"));
        assert!(!mentions_time("host = 'time' AND timeout = 1"));
    }
}
