//! Tests of body → points conversion and the synthetic series.

use super::*;
use crate::target::build_targets;
use weir_engine::{FieldValue, TargetGroup};

const SCRAPE_TIME: i64 = 1_700_000_000_000_000_000;

/// The exporter body of the Kapacitor 1.5.7 check in kapacitor.md §3.4.
const KAPACITOR_CHECK_BODY: &str = r#"# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027
http_requests_total{method="post",code="400"} 3
# TYPE temp_celsius gauge
temp_celsius 21.5
# TYPE req_duration_seconds histogram
req_duration_seconds_bucket{le="0.1"} 5
req_duration_seconds_bucket{le="0.5"} 8
req_duration_seconds_bucket{le="+Inf"} 9
req_duration_seconds_sum 2.5
req_duration_seconds_count 9
# TYPE rpc_latency_seconds summary
rpc_latency_seconds{quantile="0.5"} 0.1
rpc_latency_seconds{quantile="0.99"} 0.9
rpc_latency_seconds_sum 10
rpc_latency_seconds_count 40
# TYPE nan_gauge gauge
nan_gauge NaN
"#;

fn target(config: &ScraperConfig) -> TargetSpec {
    let group = TargetGroup {
        source: "static".to_owned(),
        targets: vec![Labels::from([(
            "__address__".to_owned(),
            "127.0.0.1:9100".to_owned(),
        )])],
        labels: Labels::from([("env".to_owned(), "test".to_owned())]),
    };
    build_targets(config, &[group]).targets.remove(0)
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn value(point: &Point) -> f64 {
    match point.fields.get("value") {
        Some(FieldValue::Float(value)) => *value,
        other => panic!("unexpected field {other:?}"),
    }
}

#[test]
fn kapacitor_compat_reproduces_kapacitors_points() {
    let mut config = ScraperConfig::new("testjob", "prom", "autogen");
    config.compat = Compat::Kapacitor;
    let target = target(&config);
    let converted = convert(
        &config,
        &target,
        KAPACITOR_CHECK_BODY.as_bytes(),
        Format::PrometheusText,
        SCRAPE_TIME,
    )
    .unwrap();
    // 13 samples scraped (the NaN one included), 12 points (NaN dropped).
    assert_eq!(converted.samples_scraped, 13);
    assert_eq!(converted.samples_post_relabel, 13);
    assert_eq!(converted.points.len(), 12);
    let bucket = &converted.points[5];
    assert_eq!(bucket.name, "req_duration_seconds_bucket");
    assert_eq!(
        bucket.tags,
        tags(&[
            ("__name__", "req_duration_seconds_bucket"),
            ("env", "test"),
            ("instance", "127.0.0.1:9100"),
            ("le", "+Inf"),
        ])
    );
    assert_eq!(value(bucket), 9.0);
    assert_eq!(bucket.time, SCRAPE_TIME);
    assert!(converted.points.iter().all(|p| !p.tags.contains_key("job")));
    let synthetic = synthetic_points(
        &config,
        &target,
        ScrapeReport {
            up: true,
            duration: Duration::from_millis(250),
            samples_scraped: 13,
            samples_post_relabel: 13,
            series_added: 12,
        },
        SCRAPE_TIME,
    );
    let names: Vec<&str> = synthetic.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "up",
            "scrape_duration_seconds",
            "scrape_samples_scraped",
            "scrape_samples_post_metric_relabeling",
            "scrape_series_added"
        ]
    );
    assert_eq!(
        synthetic[0].tags,
        tags(&[
            ("__name__", "up"),
            ("env", "test"),
            ("instance", "127.0.0.1:9100")
        ])
    );
    assert_eq!(value(&synthetic[1]), 0.25);
}

#[test]
fn prometheus_compat_has_job_and_renames_clashes() {
    let config = ScraperConfig::new("node", "prom", "autogen");
    let target = target(&config);
    let body = b"up_like{instance=\"inner\",job=\"other\",x=\"1\",empty=\"\"} 2 1000\n";
    let converted = convert(&config, &target, body, Format::PrometheusText, SCRAPE_TIME).unwrap();
    let point = &converted.points[0];
    assert_eq!(
        point.tags,
        tags(&[
            ("env", "test"),
            ("exported_instance", "inner"),
            ("exported_job", "other"),
            ("instance", "127.0.0.1:9100"),
            ("job", "node"),
            ("x", "1"),
        ])
    );
    // honor-timestamps is on by default: the sample's own time wins.
    assert_eq!(point.time, 1_000_000_000);

    let mut honoring = config.clone();
    honoring.honor_labels = true;
    honoring.honor_timestamps = false;
    let converted = convert(
        &honoring,
        &target,
        body,
        Format::PrometheusText,
        SCRAPE_TIME,
    )
    .unwrap();
    let point = &converted.points[0];
    assert_eq!(point.tags["instance"], "inner");
    assert_eq!(point.tags["job"], "other");
    assert_eq!(point.time, SCRAPE_TIME);
}

#[test]
fn metric_relabelling_drops_and_renames() {
    let mut config: ScraperConfig = serde_json::from_value(serde_json::json!({
        "name": "j", "db": "d", "rp": "r",
        "metric-relabel-configs": [
            {"source_labels": ["__name__"], "regex": "go_.*", "action": "drop"},
            {"source_labels": ["__name__"], "regex": "(.*)_total", "target_label": "__name__"},
            {"action": "labeldrop", "regex": "tmp"}
        ]
    }))
    .unwrap();
    config.sample_limit = 2;
    let target = target(&config);
    let body = b"go_goroutines 5\nrequests_total{tmp=\"x\",code=\"200\"} 7\ngo_threads 3\n";
    let converted = convert(&config, &target, body, Format::PrometheusText, SCRAPE_TIME).unwrap();
    assert_eq!(converted.samples_scraped, 3);
    assert_eq!(converted.samples_post_relabel, 1);
    assert_eq!(converted.points.len(), 1);
    assert_eq!(converted.points[0].name, "requests");
    assert!(!converted.points[0].tags.contains_key("tmp"));
}

#[test]
fn limits_fail_the_scrape_with_a_reason() {
    let mut config = ScraperConfig::new("j", "d", "r");
    config.sample_limit = 2;
    let target = target(&config);
    let body = b"a 1\nb 2\nc 3\nd 4\n";
    let error = convert(&config, &target, body, Format::PrometheusText, SCRAPE_TIME).unwrap_err();
    assert_eq!(
        error.to_string(),
        "http://127.0.0.1:9100/metrics: sample limit of 2 exceeded (3 samples)"
    );

    let mut config = ScraperConfig::new("j", "d", "r");
    config.label_limit = 4;
    let body = b"a{x=\"1\"} 1\nb{x=\"1\",y=\"2\"} 2\n";
    let error = convert(&config, &target, body, Format::PrometheusText, SCRAPE_TIME).unwrap_err();
    assert_eq!(
        error.to_string(),
        "http://127.0.0.1:9100/metrics: label limit of 4 exceeded by series b on line 2"
    );
}

#[test]
fn malformed_lines_are_counted_not_fatal() {
    let config = ScraperConfig::new("j", "d", "r");
    let target = target(&config);
    let body = b"a 1\nb{ 2\nc 3\n";
    let converted = convert(&config, &target, body, Format::PrometheusText, SCRAPE_TIME).unwrap();
    assert_eq!(converted.points.len(), 2);
    assert_eq!(converted.parse_errors, 1);
    assert_eq!(
        converted.first_parse_error.as_deref(),
        Some("line 2: invalid label name at column 4")
    );
    assert_eq!(converted.series.len(), 2);
}

#[test]
fn header_values() {
    assert_eq!(format_seconds(Duration::from_secs(10)), "10");
    assert_eq!(format_seconds(Duration::from_millis(1500)), "1.5");
    assert!(ACCEPT_HEADER.starts_with("application/openmetrics-text;version=1.0.0,application"));
    assert!(ACCEPT_HEADER.ends_with("text/plain;version=0.0.4;q=0.5,*/*;q=0.1"));
}

#[test]
fn series_hashes_are_stable_across_scrapes_and_tell_label_sets_apart() {
    let config = ScraperConfig::new("j", "d", "r");
    let target = target(&config);
    let first = b"a{x=\"1\"} 1\na{x=\"2\"} 2\nb 3\n";
    let second = b"a{x=\"1\"} 5\na{x=\"3\"} 6\nb 7\n";
    let first = convert(&config, &target, first, Format::PrometheusText, SCRAPE_TIME).unwrap();
    let second = convert(
        &config,
        &target,
        second,
        Format::PrometheusText,
        SCRAPE_TIME,
    )
    .unwrap();
    assert_eq!(first.series.len(), 3);
    // Values change nothing; only `a{x="3"}` is new.
    assert_eq!(second.series.difference(&first.series).count(), 1);
    // Capacity is reserved from the line count, not more than the body can hold.
    assert!(first.points.capacity() >= 3 && first.points.capacity() <= 4);
}

#[test]
fn reserved_capacity_respects_the_sample_limit() {
    let mut config = ScraperConfig::new("j", "d", "r");
    config.sample_limit = 2;
    let target = target(&config);
    let converted = convert(
        &config,
        &target,
        b"a 1\nb 2\n",
        Format::PrometheusText,
        SCRAPE_TIME,
    )
    .unwrap();
    assert_eq!(converted.points.len(), 2);
    assert_eq!(converted.points.capacity(), 2);
}
