//! Remote collectors: a central `weir serve` registers and enrolls collectors and
//! restricts their machine credential; a remote `weir serve` with a `[remote]` section
//! enrolls and heartbeats.

mod common;

use common::{Weir, http, http_with};
use serde_json::Value;

const CENTRAL: &str =
    "data_dir = \"@DIR@\"\n[http]\nbind-address = \"127.0.0.1:@PORT@\"\n[load]\nenabled = false\n";

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn create(central: &Weir, name: &str) -> Value {
    let (status, body) = http(
        "POST",
        &format!("{}/weir/v1/remotes", central.url),
        Some(&format!("{{\"name\": \"{name}\"}}")),
    )
    .expect("create");
    assert_eq!(status, 201, "{body}");
    json(&body)
}

fn remote(central: &Weir, id: &str) -> Value {
    let (status, body) =
        http("GET", &format!("{}/weir/v1/remotes", central.url), None).expect("list");
    assert_eq!(status, 200, "{body}");
    json(&body)["remotes"]
        .as_array()
        .and_then(|all| all.iter().find(|r| r["id"] == id).cloned())
        .unwrap_or_else(|| panic!("{id} not listed: {body}"))
}

#[test]
fn enrollment_token_is_one_time_and_the_credential_is_confined() {
    let central = Weir::start(CENTRAL);
    let created = create(&central, "edge-1");
    assert_eq!(created["status"], "pending");
    let token = created["enrollment_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert!(created["token_expires_at"].is_string());
    let id = created["id"].as_str().expect("id").to_owned();
    // Registered names are unique.
    let (status, _) = http(
        "POST",
        &format!("{}/weir/v1/remotes", central.url),
        Some("{\"name\": \"edge-1\"}"),
    )
    .expect("create again");
    assert_eq!(status, 409);
    // The token never shows again.
    assert!(remote(&central, &id).get("enrollment_token").is_none());

    let enroll = |token: &str| {
        http_with(
            "POST",
            &format!("{}/weir/v1/collector/enroll", central.url),
            Some("{\"hostname\": \"h1\", \"os\": \"linux\", \"version\": \"0.1.0\", \"instance_id\": \"i1\"}"),
            Some(&format!("Bearer {token}")),
        )
        .expect("enroll")
    };
    let (status, body) = enroll(&token);
    assert_eq!(status, 200, "{body}");
    let enrolled = json(&body);
    assert_eq!(enrolled["id"], id.as_str());
    let credential = enrolled["credential"]
        .as_str()
        .expect("credential")
        .to_owned();
    let listed = remote(&central, &id);
    assert_eq!(listed["status"], "active");
    assert_eq!(listed["hostname"], "h1");

    // Used token: refused, saying so.
    let (status, body) = enroll(&token);
    assert_eq!(status, 401);
    assert!(body.contains("already used"), "{body}");
    // An enrolled collector gets no new token.
    let (status, _) = http(
        "POST",
        &format!("{}/weir/v1/remotes/{id}/token", central.url),
        None,
    )
    .expect("token");
    assert_eq!(status, 409);

    // A pending one does, and the old token stops working.
    let second = create(&central, "edge-2");
    let old = second["enrollment_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let second_id = second["id"].as_str().expect("id").to_owned();
    let (status, body) = http(
        "POST",
        &format!("{}/weir/v1/remotes/{second_id}/token", central.url),
        None,
    )
    .expect("token");
    assert_eq!(status, 201, "{body}");
    let (status, body) = enroll(&old);
    assert_eq!(status, 401);
    assert!(body.contains("unknown enrollment token"), "{body}");
    let fresh = fresh_token(&central, &second_id);
    let (status, body) = enroll(&fresh);
    assert_eq!(status, 200, "{body}");

    // The machine credential: collector endpoints and /write into its database only.
    let bearer = format!("Bearer {credential}");
    let call = |method: &str, path: &str, body: Option<&str>| {
        http_with(
            method,
            &format!("{}{path}", central.url),
            body,
            Some(&bearer),
        )
        .expect(path)
    };
    assert_eq!(call("GET", "/kapacitor/v1/tasks", None).0, 403);
    assert_eq!(call("GET", "/weir/v1/remotes", None).0, 403);
    assert_eq!(call("POST", "/write?db=other", Some("m v=1")).0, 403);
    assert_eq!(call("POST", "/write?db=remotes", Some("m v=1")).0, 204);
    let (status, body) = call(
        "POST",
        "/weir/v1/collector/heartbeat",
        Some(
            "{\"version\": \"0.1.0\", \"instance_id\": \"i1\", \"interval_seconds\": 10, \"queue_points\": 3, \"dropped_points\": 2, \"clock_unix_seconds\": 1}",
        ),
    );
    assert_eq!(status, 200, "{body}");
    let listed = remote(&central, &id);
    assert_eq!(listed["queue_points"], 3);
    assert_eq!(listed["dropped_points"], 2);
    assert!(listed["clock_skew_seconds"].as_f64().expect("skew") < -1.0e9);
    assert!(listed["last_seen_age_seconds"].as_f64().is_some());

    // Revoked: final, and the credential stops working.
    let (status, _) = http(
        "POST",
        &format!("{}/weir/v1/remotes/{id}/revoke", central.url),
        None,
    )
    .expect("revoke");
    assert_eq!(status, 200);
    assert_eq!(call("POST", "/write?db=remotes", Some("m v=1")).0, 403);
    assert_eq!(remote(&central, &id)["status"], "revoked");
}

/// A fresh token of a pending collector (the previous one is replaced).
fn fresh_token(central: &Weir, id: &str) -> String {
    let (_, body) = http(
        "POST",
        &format!("{}/weir/v1/remotes/{id}/token", central.url),
        None,
    )
    .expect("token");
    json(&body)["enrollment_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
