//! Unit and golden tests of the exposition parser; the differential tests against
//! `prometheus-parse` live in `scrapers/tests/exposition_differential.rs`.

use super::*;

/// Render every event of a parse as one line of text, for golden comparisons.
fn render(body: &str, format: Format) -> String {
    struct Recorder(String);
    impl Handler for Recorder {
        fn sample(&mut self, sample: &Sample<'_>) {
            let labels: Vec<String> = sample
                .labels
                .iter()
                .map(|l| format!("{}={:?}", l.name, l.value))
                .collect();
            let ts = sample
                .timestamp_ms
                .map(|ts| format!(" @{ts}"))
                .unwrap_or_default();
            self.0.push_str(&format!(
                "{}: {} {{{}}} {:?}{} ({})\n",
                sample.line,
                sample.name,
                labels.join(","),
                sample.value,
                ts,
                sample.metric_type
            ));
        }
        fn error(&mut self, line: usize, reason: &str) {
            self.0.push_str(&format!("{line}: error: {reason}\n"));
        }
        fn metadata(&mut self, family: &str, metadata: Metadata<'_>, line: usize) {
            self.0
                .push_str(&format!("{line}: meta {family} {metadata:?}\n"));
        }
    }
    let mut recorder = Recorder(String::new());
    let summary = parse_with(body.as_bytes(), format, &mut recorder);
    recorder.0.push_str(&format!(
        "lines={} samples={} errors={}\n",
        summary.lines, summary.samples, summary.errors
    ));
    recorder.0
}

#[test]
fn prometheus_text_golden() {
    let body = r#"# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds_sum 1.7560473e+07
node:cpu:rate5m{mode="idle",} NaN
neg -Inf
"#;
    let expected = r#"1: meta http_requests_total Help("The total number of HTTP requests.")
2: meta http_requests_total Type(Counter)
3: http_requests_total {method="post",code="200"} 1027.0 @1395066363000 (counter)
4: http_requests_total {method="post",code="400"} 3.0 @1395066363000 (counter)
7: msdos_file_access_time_seconds {path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1458255915.0 (untyped)
10: metric_without_timestamp_and_labels {} 12.47 (untyped)
13: something_weird {problem="division by zero"} inf @-3982045 (untyped)
15: meta http_request_duration_seconds Type(Histogram)
16: http_request_duration_seconds_bucket {le="0.05"} 24054.0 (histogram)
17: http_request_duration_seconds_bucket {le="+Inf"} 144320.0 (histogram)
18: http_request_duration_seconds_sum {} 53423.0 (histogram)
19: http_request_duration_seconds_count {} 144320.0 (histogram)
21: meta rpc_duration_seconds Type(Summary)
22: rpc_duration_seconds {quantile="0.5"} 4773.0 (summary)
23: rpc_duration_seconds_sum {} 17560473.0 (summary)
24: node:cpu:rate5m {mode="idle"} NaN (untyped)
25: neg {} -inf (untyped)
lines=25 samples=13 errors=0
"#;
    assert_eq!(render(body, Format::PrometheusText), expected);
}

#[test]
fn malformed_lines_are_skipped_and_counted_with_their_line_number() {
    let body = "ok 1\n\
                bad{a=\"1\" 2\n\
                bad{a=1} 2\n\
                bad{a=\"1\",a=\"2\"} 2\n\
                bad 1 2 3\n\
                bad abc\n\
                bad 1 1.5\n\
                1bad 1\n\
                bad-name 1\n\
                bad{1a=\"x\"} 1\n\
                bad{a=\"unterminated} 1\n\
                # TYPE x fancy\n\
                # HELP\n\
                bad\n\
                ok 2\n";
    let expected = r#"1: ok {} 1.0 (untyped)
2: error: expected ',' or '}' after label "a", found '2'
3: error: expected '"' to open the value of label "a"
4: error: duplicate label "a"
5: error: unexpected text "3" after the value
6: error: invalid value "abc"
7: error: invalid timestamp "1.5"
8: error: invalid metric name
9: error: invalid character '-' in metric name
10: error: invalid label name at column 5
11: error: unterminated value of label "a"
12: error: unknown metric type "fancy" for x
13: error: # HELP without a metric name
14: error: expected a value after the metric name
15: ok {} 2.0 (untyped)
lines=15 samples=2 errors=13
"#;
    assert_eq!(render(body, Format::PrometheusText), expected);
}

#[test]
fn escapes_in_help_and_unknown_escapes_are_kept() {
    let body = "# HELP a Line one\\nline \\\\two \\\"q\\\" \\t\na{x=\"a\\tb\\\\c\\\"d\\n\"} 1\n";
    let expected = "1: meta a Help(\"Line one\\nline \\\\two \\\\\\\"q\\\\\\\" \\\\t\")\n\
                    2: a {x=\"a\\\\tb\\\\c\\\"d\\n\"} 1.0 (untyped)\n\
                    lines=2 samples=1 errors=0\n";
    assert_eq!(render(body, Format::PrometheusText), expected);
}

#[test]
fn tolerates_crlf_blanks_and_spaces_inside_braces() {
    let body = "  a { x = \"1\" , y=\"2\" } 3\r\n\t\r\nb\t4\t5\r\n";
    let expected = "1: a {x=\"1\",y=\"2\"} 3.0 (untyped)\n\
                    3: b {} 4.0 @5 (untyped)\n\
                    lines=3 samples=2 errors=0\n";
    assert_eq!(render(body, Format::PrometheusText), expected);
}

#[test]
fn invalid_utf8_loses_only_its_line() {
    let mut body = b"a 1\nb{x=\"".to_vec();
    body.extend_from_slice(&[0xff, 0xfe]);
    body.extend_from_slice(b"\"} 2\nc 3");
    let mut seen = Vec::new();
    let mut errors = Vec::new();
    parse(
        &body,
        Format::PrometheusText,
        |s| seen.push(s.name.to_owned()),
        |line, reason| errors.push((line, reason.to_owned())),
    );
    assert_eq!(seen, ["a", "c"]);
    assert_eq!(errors, [(2, "invalid utf-8".to_owned())]);
}

#[test]
fn openmetrics_golden() {
    let body = r#"# TYPE acme_http_router_request_seconds summary
# UNIT acme_http_router_request_seconds seconds
# HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.
acme_http_router_request_seconds_sum{path="/api/v1",method="GET"} 9036.32
acme_http_router_request_seconds_count{path="/api/v1",method="GET"} 807283.0
acme_http_router_request_seconds_created{path="/api/v1",method="GET"} 1605281325.0
# TYPE foo counter
foo_total 17.0 1520879607.789 # {id="counter-test"} 5
foo_created 1520430000.123
# TYPE hist histogram
hist_bucket{le="0.01"} 0 # {trace_id="KOO5S4vxi0o"} 0.67
hist_bucket{le="+Inf"} 17
# TYPE st stateset
st{st="a"} 1
# TYPE build info
build_info{version="1.0"} 1
# HELP q say \"hi\"
# EOF
"#;
    let expected = r#"1: meta acme_http_router_request_seconds Type(Summary)
2: meta acme_http_router_request_seconds Unit("seconds")
3: meta acme_http_router_request_seconds Help("Latency though all of ACME's HTTP request router.")
4: acme_http_router_request_seconds_sum {path="/api/v1",method="GET"} 9036.32 (summary)
5: acme_http_router_request_seconds_count {path="/api/v1",method="GET"} 807283.0 (summary)
6: acme_http_router_request_seconds_created {path="/api/v1",method="GET"} 1605281325.0 (summary)
7: meta foo Type(Counter)
8: foo_total {} 17.0 @1520879607789 (counter)
9: foo_created {} 1520430000.123 (counter)
10: meta hist Type(Histogram)
11: hist_bucket {le="0.01"} 0.0 (histogram)
12: hist_bucket {le="+Inf"} 17.0 (histogram)
13: meta st Type(StateSet)
14: st {st="a"} 1.0 (stateset)
15: meta build Type(Info)
16: build_info {version="1.0"} 1.0 (info)
17: meta q Help("say \"hi\"")
lines=18 samples=9 errors=0
"#;
    assert_eq!(render(body, Format::OpenMetrics), expected);
}

#[test]
fn openmetrics_eof_rules() {
    assert_eq!(
        render("a 1\n", Format::OpenMetrics),
        "1: a {} 1.0 (untyped)\n2: error: missing # EOF\nlines=1 samples=1 errors=1\n"
    );
    assert_eq!(
        render("a 1\n# EOF\nb 2\n", Format::OpenMetrics),
        "1: a {} 1.0 (untyped)\n3: error: content after # EOF\nlines=2 samples=1 errors=1\n"
    );
    // In the Prometheus text format `# EOF` is an ordinary comment.
    assert_eq!(
        render("# EOF\nb 2\n", Format::PrometheusText),
        "2: b {} 2.0 (untyped)\nlines=2 samples=1 errors=0\n"
    );
    // Exemplars are errors outside OpenMetrics.
    assert_eq!(
        render("a 1 # {x=\"y\"} 1\n", Format::PrometheusText),
        "1: error: invalid timestamp \"#\"\nlines=1 samples=0 errors=1\n"
    );
}

#[test]
fn openmetrics_types_are_rejected_in_prometheus_text() {
    assert_eq!(
        render("# TYPE a stateset\n", Format::PrometheusText),
        "1: error: unknown metric type \"stateset\" for a\nlines=1 samples=0 errors=1\n"
    );
    assert_eq!(
        render("# TYPE a unknown\n# EOF\n", Format::OpenMetrics),
        "1: meta a Type(Untyped)\nlines=2 samples=0 errors=0\n"
    );
}

#[test]
fn content_type_selects_the_format() {
    assert_eq!(Format::from_content_type(None), Format::PrometheusText);
    assert_eq!(
        Format::from_content_type(Some("text/plain; version=0.0.4; charset=utf-8")),
        Format::PrometheusText
    );
    assert_eq!(
        Format::from_content_type(Some("application/openmetrics-text; version=1.0.0")),
        Format::OpenMetrics
    );
    assert_eq!(
        Format::from_content_type(Some("Application/OpenMetrics-Text")),
        Format::OpenMetrics
    );
}

#[test]
fn sample_label_lookup_and_borrowing() {
    let body = b"a{x=\"plain\",y=\"esc\\\"aped\"} 1\n";
    let mut checked = 0;
    parse(
        body,
        Format::PrometheusText,
        |sample| {
            assert_eq!(sample.label("x"), Some("plain"));
            assert_eq!(sample.label("y"), Some("esc\"aped"));
            assert_eq!(sample.label("z"), None);
            assert!(matches!(sample.labels[0].value, Cow::Borrowed(_)));
            assert!(matches!(sample.labels[1].value, Cow::Owned(_)));
            checked += 1;
        },
        |line, reason| panic!("line {line}: {reason}"),
    );
    assert_eq!(checked, 1);
}

/// A tiny deterministic generator, so the no-panic property test needs no dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The `cargo test` stand-in for the fuzz target: random mutations of valid bodies and
/// random bytes never panic, and the counts stay consistent.
#[test]
fn random_inputs_never_panic() {
    let seeds: [&[u8]; 3] = [
        b"# HELP a h\\n\n# TYPE a histogram\na_bucket{le=\"1\",x=\"\\\\\\\"\"} 1 2\na_sum 3\n",
        b"# TYPE foo counter\nfoo_total 17.0 1520879607.789 # {id=\"x\"} 5\n# EOF\n",
        b"x{a=\"b\",} NaN\ny -Inf 1\n\xff\xfe\n",
    ];
    let alphabet = b"{}=\",# \\\n\tabc:_019.eE+-InfNa\xc3\xa9\xff";
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for round in 0..20_000 {
        let mut body = seeds[round % seeds.len()].to_vec();
        let n_mutations = 1 + (rng.next() % 8) as usize;
        for _ in 0..n_mutations {
            let op = rng.next() % 3;
            let pos = if body.is_empty() {
                0
            } else {
                (rng.next() as usize) % body.len()
            };
            let byte = alphabet[(rng.next() as usize) % alphabet.len()];
            match op {
                0 if !body.is_empty() => body[pos] = byte,
                1 => body.insert(pos, byte),
                _ if !body.is_empty() => {
                    body.remove(pos);
                }
                _ => body.push(byte),
            }
        }
        for format in [Format::PrometheusText, Format::OpenMetrics] {
            let mut n_samples = 0;
            let mut n_errors = 0;
            let summary = parse(&body, format, |_| n_samples += 1, |_, _| n_errors += 1);
            assert_eq!(summary.samples, n_samples);
            assert_eq!(summary.errors, n_errors);
            assert!(summary.lines <= body.len() + 1);
        }
    }
}
