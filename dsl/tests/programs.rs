//! End-to-end compile tests: real scripts in, the exact node graph out.

use weir_dsl::nodes::{AggregateFunction, AlertHandler, JoinFill, NodeSpec};
use weir_dsl::{CompileOptions, Duration, Program, TaskType, compile};

fn compile_ok(source: &str) -> Program {
    let (program, diagnostics) = compile(source, &CompileOptions::default());
    let errors: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.one_line(source))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    program.expect("no errors but no program")
}

fn names(program: &Program) -> Vec<&str> {
    program
        .nodes
        .iter()
        .map(|node| node.name.as_str())
        .collect()
}

fn case(name: &str) -> String {
    let path = format!(
        "{}/../../shared/kapacitor-compat/cases/{name}/task.tick",
        env!("CARGO_MANIFEST_DIR")
    );
    let fallback = format!("/work/shared/kapacitor-compat/cases/{name}/task.tick");
    std::fs::read_to_string(&path)
        .or_else(|_| std::fs::read_to_string(&fallback))
        .unwrap_or_default()
}

#[test]
fn telegraf_mean_to_influxdb() {
    let program = compile_ok(
        "stream|from().database('telegraf').measurement('cpu').groupBy('host')|window().period(10s).every(10s)|mean('usage_user')|influxDBOut().database('weir').retentionPolicy('autogen')",
    );
    assert_eq!(program.task_type, TaskType::Stream);
    assert_eq!(
        names(&program),
        ["stream0", "from1", "window2", "mean3", "influxdb_out4"]
    );
    let NodeSpec::From(from) = &program.nodes[1].spec else {
        panic!("not from")
    };
    assert_eq!(from.database.as_deref(), Some("telegraf"));
    assert_eq!(from.measurement.as_deref(), Some("cpu"));
    assert_eq!(from.group_by.tags, ["host"]);
    let NodeSpec::Window(window) = &program.nodes[2].spec else {
        panic!("not window")
    };
    assert_eq!(window.period, Some(Duration(10_000_000_000)));
    assert_eq!(window.every, Some(Duration(10_000_000_000)));
    let NodeSpec::Aggregate(mean) = &program.nodes[3].spec else {
        panic!("not mean")
    };
    assert_eq!(
        (
            mean.function.clone(),
            mean.field.as_str(),
            mean.as_.as_str()
        ),
        (AggregateFunction::Mean, "usage_user", "mean")
    );
    let NodeSpec::InfluxDbOut(out) = &program.nodes[4].spec else {
        panic!("not influxDBOut")
    };
    assert_eq!(
        (out.database.as_str(), out.retention_policy.as_str()),
        ("weir", "autogen")
    );
    assert_eq!(
        (out.buffer, out.flush_interval),
        (1000, Duration(10_000_000_000))
    );
    let parents: Vec<_> = program
        .nodes
        .iter()
        .map(|node| node.parents.clone())
        .collect();
    assert_eq!(parents, [vec![], vec![0], vec![1], vec![2], vec![3]]);
}

#[test]
fn compat_where_tags() {
    let program = compile_ok(&case("01-where-tags"));
    assert_eq!(program.dbrps, [("accept".to_owned(), "autogen".to_owned())]);
    assert_eq!(
        names(&program),
        ["stream0", "from1", "where2", "http_post3"]
    );
    let NodeSpec::From(from) = &program.nodes[1].spec else {
        panic!("not from")
    };
    assert_eq!(
        from.where_.as_ref().map(|l| l.source.as_str()),
        Some("\"dc\" == 'east'")
    );
    let NodeSpec::Where(filter) = &program.nodes[2].spec else {
        panic!("not where")
    };
    assert_eq!(filter.predicate.references(), ["host"]);
    let NodeSpec::HttpPost(post) = &program.nodes[3].spec else {
        panic!("not httpPost")
    };
    assert_eq!(post.urls, ["http://127.0.0.1:19093/01-where-tags"]);
}

#[test]
fn compat_window_tumbling_extends_a_var_twice() {
    let program = compile_ok(&case("05-window-tumbling"));
    assert_eq!(
        names(&program),
        [
            "stream0",
            "from1",
            "window2",
            "http_post3",
            "count4",
            "http_post5"
        ]
    );
    assert_eq!(program.nodes[3].parents, [2]);
    assert_eq!(program.nodes[4].parents, [2]);
    let NodeSpec::Aggregate(count) = &program.nodes[4].spec else {
        panic!("not count")
    };
    assert_eq!((count.field.as_str(), count.as_.as_str()), ("t", "count"));
}

#[test]
fn compat_join_inner() {
    let program = compile_ok(&case("23-join-inner"));
    assert_eq!(
        names(&program),
        [
            "stream0",
            "from1",
            "from2",
            "join3",
            "http_post4",
            "eval5",
            "http_post6"
        ]
    );
    assert_eq!(program.nodes[3].parents, [1, 2]);
    let NodeSpec::Join(join) = &program.nodes[3].spec else {
        panic!("not join")
    };
    assert_eq!(join.as_, ["r", "e"]);
    assert_eq!(join.tolerance, Duration(5_000_000_000));
    assert_eq!(join.stream_name.as_deref(), Some("req_err"));
    assert_eq!(
        (join.delimiter.as_str(), &join.fill),
        (".", &JoinFill::None)
    );
    let NodeSpec::Eval(eval) = &program.nodes[5].spec else {
        panic!("not eval")
    };
    assert_eq!(eval.as_, ["err_ratio"]);
    assert_eq!(eval.expressions[0].references(), ["e.n", "r.n"]);
    assert_eq!(
        program.dot("t"),
        "digraph t {\nstream0 -> from1;\nstream0 -> from2;\nfrom1 -> join3;\nfrom2 -> join3;\njoin3 -> http_post4;\nhttp_post4 -> eval5;\neval5 -> http_post6;\n}"
    );
}

#[test]
fn compat_alert_every_event() {
    let program = compile_ok(&case("28-alert-every-event"));
    assert_eq!(names(&program), ["stream0", "from1", "alert2"]);
    let NodeSpec::Alert(alert) = &program.nodes[2].spec else {
        panic!("not alert")
    };
    assert_eq!(alert.details.as_deref(), Some(""));
    assert_eq!(alert.history, 21);
    assert!(alert.info.is_some() && alert.warn.is_some() && alert.crit.is_some());
    assert_eq!(
        alert.handlers,
        [AlertHandler::Post {
            url: "http://127.0.0.1:19093/28-alert-every-event-alerts".into(),
            headers: vec![],
            timeout: None
        }]
    );
}

#[test]
fn compat_scripts_format_and_round_trip() {
    for name in [
        "01-where-tags",
        "05-window-tumbling",
        "23-join-inner",
        "28-alert-every-event",
    ] {
        let source = case(name);
        let formatted =
            weir_dsl::format(&source).unwrap_or_else(|errors| panic!("{name}: {errors:?}"));
        let (before, _) = weir_dsl::parser::parse(&source);
        let (after, errors) = weir_dsl::parser::parse(&formatted);
        assert!(errors.is_empty(), "{name}: {errors:?}");
        assert_eq!(before.dump(false), after.dump(false), "{name}");
        // Same graph: node names, parents and specs (spans differ after formatting).
        let summary = |program: Program| -> Vec<(String, Vec<usize>, String)> {
            program
                .nodes
                .into_iter()
                .map(|node| (node.name, node.parents, format!("{:?}", node.spec)))
                .collect()
        };
        assert_eq!(
            summary(compile_ok(&formatted)),
            summary(compile_ok(&source)),
            "{name}"
        );
    }
}

#[test]
fn service_handlers_carry_their_options_and_w605_names_what_is_not_configured() {
    let script = "stream|from()|alert().crit(lambda: \"x\" > 1)\n    .slack().channel('#ops').iconEmoji(':fire:')\n    .pagerDuty2().link('http://a', 'A').link('http://b')\n    .opsGenie2().teams('t1', 't2').recoveryAction('close')\n    .email('a@example.com')\n";
    let options = |services: Option<Vec<String>>| CompileOptions {
        services,
        ..CompileOptions::default()
    };
    let (program, diagnostics) = compile(script, &options(Some(vec!["slack".into()])));
    let program = program.unwrap_or_else(|| panic!("{diagnostics:?}"));
    let NodeSpec::Alert(alert) = &program.nodes[2].spec else {
        panic!("not alert")
    };
    let services: Vec<(String, serde_json::Value)> = alert
        .handlers
        .iter()
        .filter_map(|handler| match handler {
            AlertHandler::Service { kind, options } => {
                Some((kind.clone(), serde_json::Value::Object(options.clone())))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        services,
        [
            (
                "slack".into(),
                serde_json::json!({"channel": "#ops", "icon-emoji": ":fire:"})
            ),
            (
                "pagerduty2".into(),
                serde_json::json!({"links": [{"href": "http://a", "text": "A"}, {"href": "http://b", "text": "http://b"}]})
            ),
            (
                "opsgenie2".into(),
                serde_json::json!({"teams": ["t1", "t2"], "recovery-action": "close"})
            ),
            ("smtp".into(), serde_json::json!({"to": ["a@example.com"]})),
        ]
    );
    let w605: Vec<&str> = diagnostics
        .iter()
        .filter(|d| d.code == "W605")
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(
        w605,
        [
            "`.pagerDuty2()` is not configured: add a [pagerduty2] section",
            "`.opsGenie2()` is not configured: add a [opsgenie2] section",
            "weir does not send `.email()` alerts yet: the handler is accepted and ignored",
        ]
    );
}
