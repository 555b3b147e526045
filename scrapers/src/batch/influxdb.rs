//! An `[[influxdb]]` source for InfluxQL batch queries: `/query` with `epoch=ns`.
//!
//! The `[[influxdb]]` section belongs to the sinks; the binary hands its connection keys
//! over as an [`InfluxQueryConfig`], so this crate does not depend on the sinks crate.

use std::time::Duration;

use serde::Deserialize;
use weir_engine::{FieldValue, Fields, QueryError, QueryRequest, QuerySeries, Tags};

use super::prometheus::error_chain;

/// The connection keys of one `[[influxdb]]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct InfluxQueryConfig {
    /// Section name; `query(...).cluster(name)` selects it.
    pub name: String,
    /// The source used when a query names none.
    pub default: bool,
    /// Base URLs, tried in order when one cannot be reached.
    pub urls: Vec<String>,
    /// Basic-auth user.
    pub username: String,
    /// Basic-auth password.
    pub password: String,
    /// Per-query timeout.
    pub timeout: Duration,
    /// Skip TLS certificate verification.
    pub insecure_skip_verify: bool,
}

/// A client for one InfluxDB source.
#[derive(Debug, Clone)]
pub struct InfluxQuerySource {
    config: InfluxQueryConfig,
    client: reqwest::Client,
}

impl InfluxQuerySource {
    /// Build the client.
    pub fn new(config: InfluxQueryConfig) -> Result<InfluxQuerySource, String> {
        let timeout = if config.timeout.is_zero() {
            Duration::from_secs(30)
        } else {
            config.timeout
        };
        let client = reqwest::Client::builder()
            .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")))
            .gzip(true)
            .timeout(timeout)
            .danger_accept_invalid_certs(config.insecure_skip_verify)
            .build()
            .map_err(|error| format!("influxdb {:?}: {error}", config.name))?;
        Ok(InfluxQuerySource { config, client })
    }

    /// The config it was built from.
    pub fn config(&self) -> &InfluxQueryConfig {
        &self.config
    }

    /// Run `request.query` (weir already added the time range and `GROUP BY`).
    pub async fn query(&self, request: &QueryRequest) -> Result<Vec<QuerySeries>, QueryError> {
        let name = &self.config.name;
        let mut last_error = format!("influxdb {name:?} has no urls");
        for base in &self.config.urls {
            let url = format!("{}/query", base.trim_end_matches('/'));
            let form = [("q", request.query.as_str()), ("epoch", "ns")];
            let mut builder = self.client.post(&url).form(&form);
            if !self.config.username.is_empty() {
                builder = builder.basic_auth(&self.config.username, Some(&self.config.password));
            }
            let response = match builder.send().await {
                Ok(response) => response,
                Err(error) => {
                    // Unreachable: try the next URL.
                    last_error = format!("influxdb {name:?} at {url}: {}", error_chain(&error));
                    continue;
                }
            };
            let status = response.status();
            let body = response.bytes().await.map_err(|error| {
                QueryError(format!("influxdb {name:?}: reading the answer: {error}"))
            })?;
            return parse_query(&body).map_err(|why| {
                if status.is_success() {
                    QueryError(format!("influxdb {name:?}: {why}"))
                } else {
                    QueryError(format!(
                        "influxdb {name:?} returned {}: {why}",
                        status.as_u16()
                    ))
                }
            });
        }
        Err(QueryError(last_error))
    }
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    results: Vec<StatementResult>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct StatementResult {
    #[serde(default)]
    series: Vec<Series>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Series {
    name: String,
    #[serde(default)]
    tags: Tags,
    columns: Vec<String>,
    #[serde(default)]
    values: Vec<Vec<serde_json::Value>>,
}

/// A `/query?epoch=ns` answer → series. Numbers become floats and null columns are left
/// out, as Kapacitor does; an error anywhere in the answer is the run's error.
pub fn parse_query(body: &[u8]) -> Result<Vec<QuerySeries>, String> {
    let answer: Answer = serde_json::from_slice(body).map_err(|error| {
        let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        format!("not an InfluxDB answer ({error}): {text}")
    })?;
    if let Some(error) = answer.error {
        return Err(error);
    }
    let mut all = Vec::new();
    for result in answer.results {
        if let Some(error) = result.error {
            return Err(error);
        }
        for series in result.series {
            let time_column = series
                .columns
                .iter()
                .position(|column| column == "time")
                .ok_or_else(|| format!("series {:?} has no time column", series.name))?;
            let mut rows = Vec::with_capacity(series.values.len());
            for row in series.values {
                let time = row
                    .get(time_column)
                    .and_then(serde_json::Value::as_i64)
                    .ok_or_else(|| {
                        format!("series {:?}: a row without an integer time", series.name)
                    })?;
                let mut fields = Vec::with_capacity(series.columns.len());
                for (column, value) in series.columns.iter().zip(&row) {
                    if column == "time" {
                        continue;
                    }
                    let value = match value {
                        serde_json::Value::Number(number) => number.as_f64().map(FieldValue::Float),
                        serde_json::Value::String(text) => Some(FieldValue::String(text.clone())),
                        serde_json::Value::Bool(flag) => Some(FieldValue::Bool(*flag)),
                        _ => None,
                    };
                    if let Some(value) = value {
                        fields.push((column.as_str().into(), value));
                    }
                }
                rows.push((time, fields.into_iter().collect::<Fields>()));
            }
            all.push(QuerySeries {
                name: series.name,
                tags: series.tags,
                rows,
            });
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_rows_and_nulls() {
        let body = br#"{"results":[{"statement_id":0,"series":[
            {"name":"cpu","tags":{"host":"a"},"columns":["time","mean","msg"],
             "values":[[1700000000000000000,0.64,null],[1700000010000000000,null,null],[1700000020000000000,3,"hi"]]}]}]}"#;
        let series = parse_query(body).unwrap();
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].name, "cpu");
        assert_eq!(series[0].tags["host"], "a");
        assert_eq!(series[0].rows.len(), 3);
        assert_eq!(series[0].rows[0].1.len(), 1);
        assert!(series[0].rows[1].1.is_empty());
        assert_eq!(series[0].rows[2].1["mean"], FieldValue::Float(3.0));
        assert_eq!(series[0].rows[2].1["msg"], FieldValue::String("hi".into()));
    }

    #[test]
    fn errors_carry_the_server_message() {
        assert_eq!(
            parse_query(br#"{"results":[{"statement_id":0,"error":"database not found: nodb"}]}"#)
                .unwrap_err(),
            "database not found: nodb"
        );
        assert_eq!(
            parse_query(br#"{"error":"error parsing query: found EOF"}"#).unwrap_err(),
            "error parsing query: found EOF"
        );
        assert!(
            parse_query(br#"{"results":[{"statement_id":0}]}"#)
                .unwrap()
                .is_empty()
        );
    }
}
