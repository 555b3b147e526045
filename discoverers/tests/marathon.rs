//! `[[marathon]]` against a Marathon fake served by the test (`GET /v2/apps/?embed=apps.tasks`
//! with a bearer token): a dead first server fails over to the second, an app scaled up shows
//! on the next refresh, and a rejected token is reported while the last targets stay.
//! The labels themselves are compared with Prometheus' in `prometheus.rs`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::http_server::{Response, Server};
use serde_json::json;
use weir_discoverers::{DiscoveryConfig, DiscoveryManager, HealthState};

fn apps(n_tasks: usize) -> serde_json::Value {
    let tasks: Vec<_> = (0..n_tasks)
        .map(|i| json!({"id": format!("api.{i}"), "host": format!("10.0.1.{i}"), "ports": [31000 + i]}))
        .collect();
    json!({"apps": [{"id": "/api", "container": {"docker": {"image": "api:3"}}, "tasks": tasks}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_over_follows_scaling_and_reports_auth_errors() {
    let n_tasks = Arc::new(Mutex::new(1));
    let served = n_tasks.clone();
    let server = Server::start(move |request| {
        if request.header("authorization") != Some("Bearer t0k") {
            return Response::status(401, "{\"message\": \"invalid token\"}");
        }
        assert_eq!(request.target, "/v2/apps/?embed=apps.tasks");
        Response::json(&apps(*served.lock().unwrap()))
    })
    .await;
    let dead = format!("http://127.0.0.1:{}", common::free_port());
    let section = |token: &str| {
        let config: DiscoveryConfig = toml::from_str(&format!(
            "[[marathon]]\nid = \"dcos\"\nservers = [\"{dead}\", \"{}\"]\n\
             refresh-interval = \"1s\"\ntimeout = \"2s\"\nbearer-token = \"{token}\"\n",
            server.url
        ))
        .unwrap();
        config.validate().unwrap();
        config
    };
    let manager = DiscoveryManager::new();
    let mut groups = manager.subscribe("marathon", "dcos");
    manager.apply(&section("t0k"));
    common::wait_for(&mut groups, Duration::from_secs(10), |groups| {
        common::addresses(groups) == ["10.0.1.0:31000"]
    })
    .await;
    assert_eq!(groups.borrow()[0].labels["__meta_marathon_image"], "api:3");
    *n_tasks.lock().unwrap() = 3;
    common::wait_for(&mut groups, Duration::from_secs(10), |groups| {
        common::addresses(groups).len() == 3
    })
    .await;
    manager.apply(&section("wrong"));
    common::eventually(Duration::from_secs(10), "the 401 is reported", || {
        let status = &manager.sources()[0];
        status.state != HealthState::Healthy
            && status.last_error.as_deref().is_some_and(|error| {
                error.contains("401") && error.contains(&dead) && error.contains(&server.url)
            })
    })
    .await;
    assert_eq!(
        common::addresses(&groups.borrow()).len(),
        3,
        "last good targets stay"
    );
    manager.shutdown().await;
}
