//! Differential tests of our exposition parser against the `prometheus-parse` crate on
//! generated bodies it handles, and golden tests on bodies it gets wrong (escapes, commas
//! and `=` in label values, `:` in metric names).

use std::collections::BTreeMap;

use weir_scrapers::exposition::{self, Format};

type Series = (String, BTreeMap<String, String>, String, Option<i64>);

/// A deterministic generator, so failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

fn normalize_float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else {
        format!("{value:?}")
    }
}

/// A body in the subset `prometheus-parse` understands: `\w+` names, label values without
/// `,`, `=`, `"`, `}` or backslashes.
fn generate_body(rng: &mut XorShift) -> String {
    const VALUES: &[&str] = &[
        "0", "1", "42", "3.25", "1.5e+06", "-7", "2.5e-05", "NaN", "+Inf", "-Inf", "1e3",
    ];
    const LABEL_VALUES: &[&str] = &[
        "prod",
        "a b",
        "GET",
        "/api/v1",
        "10.0.0.1:9100",
        "x-y_z",
        "",
        "über",
        "200",
    ];
    const LABEL_NAMES: &[&str] = &["method", "code", "path", "host", "region", "_hidden"];
    let mut body = String::new();
    let n_families = 1 + rng.below(12);
    for family_idx in 0..n_families {
        let family = format!(
            "{}_{family_idx}",
            rng.pick(&["http_requests", "temp", "lat", "x"])
        );
        let kind = rng.pick(&[
            "counter",
            "gauge",
            "untyped",
            "none",
            "histogram",
            "summary",
        ]);
        if rng.below(2) == 0 {
            body.push_str(&format!("# HELP {family} Help text for {family}.\n"));
        }
        if kind != "none" {
            body.push_str(&format!("# TYPE {family} {kind}\n"));
        }
        let n_series = 1 + rng.below(4);
        for series_idx in 0..n_series {
            let mut labels = Vec::new();
            let n_labels = rng.below(3);
            for label_idx in 0..n_labels {
                let name = LABEL_NAMES[(label_idx + series_idx) % LABEL_NAMES.len()];
                labels.push(format!("{name}=\"{}\"", rng.pick(LABEL_VALUES)));
            }
            // Keep label sets distinct within a family.
            labels.push(format!("series=\"s{series_idx}\""));
            let timestamp = if rng.below(4) == 0 {
                format!(" {}", 1_600_000_000_000u64 + rng.below(1_000_000) as u64)
            } else {
                String::new()
            };
            let joined = labels.join(",");
            match kind {
                "histogram" => {
                    for le in ["0.1", "0.5", "1", "+Inf"] {
                        let value = rng.below(1000);
                        body.push_str(&format!(
                            "{family}_bucket{{{joined},le=\"{le}\"}} {value}{timestamp}\n"
                        ));
                    }
                    body.push_str(&format!("{family}_sum{{{joined}}} {}\n", rng.pick(VALUES)));
                    body.push_str(&format!("{family}_count{{{joined}}} {}\n", rng.below(100)));
                }
                "summary" => {
                    for quantile in ["0.5", "0.9", "0.99"] {
                        body.push_str(&format!(
                            "{family}{{{joined},quantile=\"{quantile}\"}} {}{timestamp}\n",
                            rng.pick(VALUES)
                        ));
                    }
                    body.push_str(&format!("{family}_sum{{{joined}}} {}\n", rng.pick(VALUES)));
                    body.push_str(&format!("{family}_count{{{joined}}} {}\n", rng.below(100)));
                }
                _ => {
                    let braces = if rng.below(3) == 0 && n_series == 1 {
                        String::new()
                    } else {
                        format!("{{{joined}}}")
                    };
                    body.push_str(&format!(
                        "{family}{braces} {}{timestamp}\n",
                        rng.pick(VALUES)
                    ));
                }
            }
        }
        if rng.below(3) == 0 {
            body.push('\n');
        }
    }
    body
}

fn ours(body: &str) -> (Vec<Series>, BTreeMap<String, String>) {
    struct Collect(Vec<Series>, BTreeMap<String, String>);
    impl exposition::Handler for Collect {
        fn sample(&mut self, sample: &exposition::Sample<'_>) {
            let mut labels = BTreeMap::new();
            for label in sample.labels {
                let mut value = label.value.to_string();
                if label.name == "le" || label.name == "quantile" {
                    value = normalize_float(value.parse().unwrap());
                }
                labels.insert(label.name.to_owned(), value);
            }
            self.0.push((
                sample.name.to_owned(),
                labels,
                normalize_float(sample.value),
                sample.timestamp_ms,
            ));
        }
        fn error(&mut self, line: usize, reason: &str) {
            panic!("line {line}: {reason}");
        }
        fn metadata(&mut self, family: &str, metadata: exposition::Metadata<'_>, _line: usize) {
            if let exposition::Metadata::Help(text) = metadata {
                self.1.insert(family.to_owned(), text.into_owned());
            }
        }
    }
    let mut collect = Collect(Vec::new(), BTreeMap::new());
    exposition::parse_with(body.as_bytes(), Format::PrometheusText, &mut collect);
    collect
        .0
        .sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    (collect.0, collect.1)
}

fn theirs(body: &str) -> (Vec<Series>, BTreeMap<String, String>) {
    let lines = body.lines().map(|line| Ok(line.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).unwrap();
    let mut series = Vec::new();
    for sample in &scrape.samples {
        let labels: BTreeMap<String, String> = sample
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // Only explicit timestamps are comparable: without one the crate uses now().
        let timestamp = Some(sample.timestamp.timestamp_millis());
        match &sample.value {
            prometheus_parse::Value::Counter(value)
            | prometheus_parse::Value::Gauge(value)
            | prometheus_parse::Value::Untyped(value) => {
                series.push((
                    sample.metric.clone(),
                    labels,
                    normalize_float(*value),
                    timestamp,
                ));
            }
            prometheus_parse::Value::Histogram(buckets) => {
                for bucket in buckets {
                    let mut labels = labels.clone();
                    labels.insert("le".to_owned(), normalize_float(bucket.less_than));
                    let name = format!("{}_bucket", sample.metric);
                    series.push((name, labels, normalize_float(bucket.count), timestamp));
                }
            }
            prometheus_parse::Value::Summary(quantiles) => {
                for quantile in quantiles {
                    let mut labels = labels.clone();
                    labels.insert("quantile".to_owned(), normalize_float(quantile.quantile));
                    let value = normalize_float(quantile.count);
                    series.push((sample.metric.clone(), labels, value, timestamp));
                }
            }
        }
    }
    series.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    (series, scrape.docs.into_iter().collect())
}

fn assert_same(body: &str) {
    let (mut our_series, our_docs) = ours(body);
    let (their_series, their_docs) = theirs(body);
    assert_eq!(
        our_series.len(),
        their_series.len(),
        "sample counts differ for body:\n{body}"
    );
    // Copy their timestamps where ours has none (they substitute now()), then compare all.
    let mut their_sorted = their_series.clone();
    for series in our_series.iter_mut() {
        let position = their_sorted
            .iter()
            .position(|t| t.0 == series.0 && t.1 == series.1 && t.2 == series.2)
            .unwrap_or_else(|| panic!("{series:?} missing from prometheus-parse for:\n{body}"));
        let theirs = their_sorted.remove(position);
        if let Some(timestamp) = series.3 {
            assert_eq!(
                Some(timestamp),
                theirs.3,
                "timestamp of {series:?} in:\n{body}"
            );
        }
    }
    assert_eq!(our_docs, their_docs, "help texts differ for body:\n{body}");
}

#[test]
fn agrees_with_prometheus_parse_on_generated_bodies() {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let mut n_samples = 0;
    for _ in 0..500 {
        let body = generate_body(&mut rng);
        n_samples += ours(&body).0.len();
        assert_same(&body);
    }
    assert!(
        n_samples > 5_000,
        "the generator produced only {n_samples} samples"
    );
}

#[test]
fn agrees_with_prometheus_parse_on_the_text_format_example() {
    assert_same(
        "# HELP http_requests_total The total number of HTTP requests.\n\
         # TYPE http_requests_total counter\n\
         http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
         http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n\
         metric_without_timestamp_and_labels 12.47\n\
         something_weird{problem=\"division by zero\"} +Inf -3982045\n\
         # TYPE http_request_duration_seconds histogram\n\
         http_request_duration_seconds_bucket{le=\"0.05\"} 24054\n\
         http_request_duration_seconds_bucket{le=\"+Inf\"} 144320\n\
         http_request_duration_seconds_sum 53423\n\
         http_request_duration_seconds_count 144320\n",
    );
}

/// Golden: escapes, commas, `=` and `:` that prometheus-parse mangles or drops.
#[test]
fn golden_bodies_prometheus_parse_gets_wrong() {
    let body = "msdos{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1\n\
                list{items=\"a,b\",expr=\"x=1\"} 2\n\
                node:cpu:rate5m{mode=\"idle\"} 3\n\
                # HELP esc Line\\nbreak and \\\\ backslash\n";
    let (series, docs) = ours(body);
    let expected: Vec<Series> = vec![
        (
            "list".to_owned(),
            BTreeMap::from([
                ("expr".to_owned(), "x=1".to_owned()),
                ("items".to_owned(), "a,b".to_owned()),
            ]),
            "2.0".to_owned(),
            None,
        ),
        (
            "msdos".to_owned(),
            BTreeMap::from([
                (
                    "error".to_owned(),
                    "Cannot find file:\n\"FILE.TXT\"".to_owned(),
                ),
                ("path".to_owned(), "C:\\DIR\\FILE.TXT".to_owned()),
            ]),
            "1.0".to_owned(),
            None,
        ),
        (
            "node:cpu:rate5m".to_owned(),
            BTreeMap::from([("mode".to_owned(), "idle".to_owned())]),
            "3.0".to_owned(),
            None,
        ),
    ];
    assert_eq!(series, expected);
    assert_eq!(docs["esc"], "Line\nbreak and \\ backslash");

    // And prometheus-parse really does get these wrong, so the golden test is needed.
    let (their_series, their_docs) = theirs(body);
    assert!(
        their_series.iter().all(|s| s.0 != "node:cpu:rate5m"),
        "colon names are dropped"
    );
    let msdos = their_series.iter().find(|s| s.0 == "msdos").unwrap();
    assert_ne!(
        msdos.1.get("path").map(String::as_str),
        Some("C:\\DIR\\FILE.TXT")
    );
    let list = their_series.iter().find(|s| s.0 == "list").unwrap();
    assert_ne!(list.1.get("items").map(String::as_str), Some("a,b"));
    assert_ne!(their_docs["esc"], "Line\nbreak and \\ backslash");
}
