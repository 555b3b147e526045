//! Batch sources: the queries of `batch|query(...)` tasks, run against `[[prometheus]]`
//! (PromQL, `/api/v1/query_range`) and `[[influxdb]]` (InfluxQL, `/query`) sources.
//!
//! [`BatchSources`] implements the engine's [`QuerySource`]; the binary builds one, hands it
//! to the engine, and calls [`BatchSources::apply`] with every config (re)load.

pub mod influxdb;
pub mod prometheus;

use std::sync::{Arc, PoisonError, RwLock};

use weir_engine::{QueryError, QueryFuture, QueryLanguage, QueryRequest, QuerySource};

pub use influxdb::{InfluxQueryConfig, InfluxQuerySource};
pub use prometheus::{PrometheusConfig, PrometheusSource};

#[derive(Default)]
struct Sources {
    prometheus: Vec<PrometheusSource>,
    influxdb: Vec<InfluxQuerySource>,
}

/// Every configured query source, by name; swapped whole on reload.
#[derive(Default)]
pub struct BatchSources {
    sources: RwLock<Arc<Sources>>,
}

impl BatchSources {
    /// No sources yet.
    pub fn new() -> BatchSources {
        BatchSources::default()
    }

    /// Use these sources from the next query on (disabled `[[prometheus]]` entries are
    /// left out). Returns the sources that could not be built, with why.
    pub fn apply(
        &self,
        prometheus: Vec<PrometheusConfig>,
        influxdb: Vec<InfluxQueryConfig>,
    ) -> Vec<String> {
        let mut errors = Vec::new();
        let mut sources = Sources::default();
        for config in prometheus.into_iter().filter(|config| config.enabled) {
            match PrometheusSource::new(config) {
                Ok(source) => sources.prometheus.push(source),
                Err(error) => errors.push(error),
            }
        }
        for config in influxdb {
            match InfluxQuerySource::new(config) {
                Ok(source) => sources.influxdb.push(source),
                Err(error) => errors.push(error),
            }
        }
        *self.sources.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(sources);
        errors
    }

    fn current(&self) -> Arc<Sources> {
        self.sources
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Sources {
    fn prometheus(&self, cluster: Option<&str>) -> Result<&PrometheusSource, QueryError> {
        let found = match cluster {
            Some(name) => self.prometheus.iter().find(|s| s.config().name == name),
            None => self
                .prometheus
                .iter()
                .find(|s| s.config().default)
                .or(self.prometheus.first()),
        };
        found.ok_or_else(|| match cluster {
            Some(name) => QueryError(format!(
                "no enabled [[prometheus]] source named {name:?} (configured: {})",
                names(self.prometheus.iter().map(|s| s.config().name.as_str()))
            )),
            None => QueryError(
                "PromQL queries need a [[prometheus]] source; none is configured".to_owned(),
            ),
        })
    }

    fn influxdb(&self, cluster: Option<&str>) -> Result<&InfluxQuerySource, QueryError> {
        let found = match cluster {
            Some(name) => self.influxdb.iter().find(|s| s.config().name == name),
            None => self
                .influxdb
                .iter()
                .find(|s| s.config().default)
                .or(self.influxdb.first()),
        };
        found.ok_or_else(|| match cluster {
            Some(name) => QueryError(format!(
                "no enabled [[influxdb]] source named {name:?} (configured: {})",
                names(self.influxdb.iter().map(|s| s.config().name.as_str()))
            )),
            None => QueryError(
                "InfluxQL queries need an [[influxdb]] source; none is configured".to_owned(),
            ),
        })
    }
}

fn names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(|name| format!("{name:?}")).collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

impl QuerySource for BatchSources {
    fn query(&self, request: QueryRequest) -> QueryFuture<'_> {
        let sources = self.current();
        Box::pin(async move {
            match request.language {
                QueryLanguage::PromQl => {
                    sources
                        .prometheus(request.cluster.as_deref())?
                        .query_range(&request)
                        .await
                }
                QueryLanguage::InfluxQl => {
                    sources
                        .influxdb(request.cluster.as_deref())?
                        .query(&request)
                        .await
                }
            }
        })
    }

    fn check(&self, language: QueryLanguage, cluster: Option<&str>) -> Result<(), QueryError> {
        let sources = self.current();
        match language {
            QueryLanguage::PromQl => sources.prometheus(cluster).map(|_| ()),
            QueryLanguage::InfluxQl => sources.influxdb(cluster).map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_found_by_name_or_default() {
        let sources = BatchSources::new();
        let error = sources.check(QueryLanguage::PromQl, None).unwrap_err();
        assert!(error.0.contains("none is configured"), "{error}");
        let mut second = PrometheusConfig::new("second", "http://127.0.0.1:2");
        second.default = true;
        let mut disabled = PrometheusConfig::new("off", "http://127.0.0.1:3");
        disabled.enabled = false;
        let errors = sources.apply(
            vec![
                PrometheusConfig::new("first", "http://127.0.0.1:1"),
                second,
                disabled,
            ],
            Vec::new(),
        );
        assert!(errors.is_empty(), "{errors:?}");
        let current = sources.current();
        assert_eq!(current.prometheus(None).unwrap().config().name, "second");
        assert_eq!(
            current.prometheus(Some("first")).unwrap().config().name,
            "first"
        );
        let error = sources
            .check(QueryLanguage::PromQl, Some("off"))
            .unwrap_err();
        assert_eq!(
            error.0,
            "no enabled [[prometheus]] source named \"off\" (configured: \"first\", \"second\")"
        );
        assert!(sources.check(QueryLanguage::InfluxQl, None).is_err());
    }
}
