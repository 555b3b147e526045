//! `[[gce]]` against a fake of Google's OAuth token endpoint and the Compute Engine API,
//! served by the test: the service-account JWT is checked (RS256 signature with the key's
//! public half, audience, scope, grant type), the token is reused, `filter` and page tokens
//! are sent, and the labels are Prometheus'.
//!
//! Prometheus' gce SD cannot be pointed at a fake (its Compute client always calls Google's
//! endpoint with Google's default credentials), so instead of a side-by-side run the label
//! names are compared with the list Prometheus 2.42 documents for `gce_sd_config`.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use common::http_server::{Request, Response, Server};
use serde_json::json;
use weir_discoverers::{DiscoveryConfig, DiscoveryManager};

/// The labels Prometheus 2.42 documents for gce_sd_config (`<name>` parts filled in for the
/// fake's instance), plus `__address__`.
const DOCUMENTED: [&str; 16] = [
    "__address__",
    "__meta_gce_instance_id",
    "__meta_gce_instance_name",
    "__meta_gce_instance_status",
    "__meta_gce_label_team_name",
    "__meta_gce_machine_type",
    "__meta_gce_metadata_startup_script",
    "__meta_gce_network",
    "__meta_gce_private_ip",
    "__meta_gce_interface_ipv4_nic0",
    "__meta_gce_interface_ipv4_nic1",
    "__meta_gce_project",
    "__meta_gce_public_ip",
    "__meta_gce_subnetwork",
    "__meta_gce_tags",
    "__meta_gce_zone",
];

fn openssl_key(dir: &std::path::Path) -> Option<String> {
    let path = dir.join("sa.pem");
    let status = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&path)
        .stderr(std::process::Stdio::null())
        .status();
    if !status.is_ok_and(|s| s.success()) {
        assert!(
            !common::require_peers(),
            "openssl is needed to make a test key"
        );
        println!("skipped: openssl not available");
        return None;
    }
    std::fs::read_to_string(path).ok()
}

/// Whether `jwt` is an RS256 JWT signed by `key_pem` for this audience and scope.
fn valid_assertion(jwt: &str, key_pem: &str, audience: &str) -> bool {
    use aws_lc_rs::signature::{self, KeyPair};
    use rustls_pki_types::pem::PemObject;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let Some((signed, signature_b64)) = jwt.rsplit_once('.') else {
        return false;
    };
    let Some((_, claims_b64)) = signed.split_once('.') else {
        return false;
    };
    let key = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let pair = signature::RsaKeyPair::from_pkcs8(key.secret_pkcs8_der()).unwrap();
    let public = signature::UnparsedPublicKey::new(
        &signature::RSA_PKCS1_2048_8192_SHA256,
        pair.public_key().as_ref(),
    );
    let Ok(signature_bytes) = b64.decode(signature_b64) else {
        return false;
    };
    if public.verify(signed.as_bytes(), &signature_bytes).is_err() {
        return false;
    }
    let claims: serde_json::Value =
        serde_json::from_slice(&b64.decode(claims_b64).unwrap()).unwrap();
    claims["aud"] == audience
        && claims["iss"] == "weir-sd@proj.iam.gserviceaccount.com"
        && claims["scope"] == "https://www.googleapis.com/auth/compute.readonly"
        && claims["exp"].as_u64() > claims["iat"].as_u64()
}

fn instances(request: &Request) -> Response {
    let page2 = request.query("pageToken").as_deref() == Some("p2");
    let items = if page2 {
        json!([{"id": "2", "name": "db-1", "status": "TERMINATED",
                "zone": "https://www.googleapis.com/compute/v1/projects/proj/zones/us-east1-b",
                "machineType": "https://www.googleapis.com/compute/v1/projects/proj/zones/us-east1-b/machineTypes/n2-standard-4",
                "networkInterfaces": [{"name": "nic0", "network": "n", "networkIP": "10.0.0.3"}]},
               {"id": "3", "name": "no-network"}])
    } else {
        json!([{"id": "8390239404304393131", "name": "web-1", "status": "RUNNING",
                "zone": "https://www.googleapis.com/compute/v1/projects/proj/zones/us-east1-b",
                "machineType": "https://www.googleapis.com/compute/v1/projects/proj/zones/us-east1-b/machineTypes/e2-small",
                "tags": {"items": ["http-server", "prod"], "fingerprint": "x"},
                "labels": {"team-name": "infra"},
                "metadata": {"items": [{"key": "startup-script", "value": "#!/bin/sh"}]},
                "networkInterfaces": [
                  {"name": "nic0", "network": "https://www.googleapis.com/compute/v1/projects/proj/global/networks/default",
                   "subnetwork": "https://www.googleapis.com/compute/v1/projects/proj/regions/us-east1/subnetworks/default",
                   "networkIP": "10.0.0.2",
                   "accessConfigs": [{"type": "ONE_TO_ONE_NAT", "name": "External NAT", "natIP": "34.1.2.3"}]},
                  {"name": "nic1", "network": "n2", "networkIP": "10.1.0.2"}]}])
    };
    let mut page = json!({"kind": "compute#instanceList", "items": items});
    if !page2 {
        page["nextPageToken"] = json!("p2");
    }
    Response::json(&page)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_account_token_pages_and_prometheus_labels() {
    let dir = tempfile::tempdir().unwrap();
    let Some(key_pem) = openssl_key(dir.path()) else {
        return;
    };
    let base = Arc::new(Mutex::new(String::new()));
    let shared = base.clone();
    let key = key_pem.clone();
    let server = Server::start(move |request| {
        let base = shared.lock().unwrap().clone();
        match (request.method.as_str(), request.path()) {
            ("POST", "/token") => {
                let ok = request.form("grant_type").as_deref()
                    == Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
                    && request
                        .form("assertion")
                        .is_some_and(|jwt| valid_assertion(&jwt, &key, &format!("{base}/token")));
                if ok {
                    Response::json(&json!({"access_token": "ya29.fake", "expires_in": 3599,
                                           "token_type": "Bearer"}))
                } else {
                    Response::with_type(400, "application/json", r#"{"error": "invalid_grant"}"#)
                }
            }
            ("GET", "/compute/v1/projects/proj/zones/us-east1-b/instances") => {
                if request.header("authorization") != Some("Bearer ya29.fake") {
                    return Response::with_type(
                        401,
                        "application/json",
                        r#"{"error": {"code": 401}}"#,
                    );
                }
                instances(request)
            }
            _ => Response::status(404, "not found"),
        }
    })
    .await;
    *base.lock().unwrap() = server.url.clone();
    let credentials = dir.path().join("sa.json");
    std::fs::write(
        &credentials,
        json!({"type": "service_account", "project_id": "proj", "private_key_id": "k1",
               "private_key": key_pem, "client_email": "weir-sd@proj.iam.gserviceaccount.com",
               "client_id": "1", "token_uri": format!("{}/token", server.url)})
        .to_string(),
    )
    .unwrap();
    let config: DiscoveryConfig = toml::from_str(&format!(
        "[[gce]]\nid = \"g\"\nproject = \"proj\"\nzone = \"us-east1-b\"\nport = 9100\n\
         filter = \"labels.team-name = infra\"\nrefresh-interval = \"1s\"\n\
         credentials-file = \"{}\"\nendpoint = \"{}/compute/v1/\"\n",
        credentials.display(),
        server.url
    ))
    .unwrap();
    config.validate().unwrap();
    let manager = DiscoveryManager::new();
    let mut groups = manager.subscribe("gce", "g");
    manager.apply(&config);
    common::wait_for(&mut groups, Duration::from_secs(10), |groups| {
        common::addresses(groups) == ["10.0.0.2:9100", "10.0.0.3:9100"]
    })
    .await;
    assert_eq!(groups.borrow()[0].source, "GCE_proj_us-east1-b");
    let targets = common::targets(&groups.borrow());
    let web = &targets[0];
    let names: BTreeSet<&str> = web.keys().map(String::as_str).collect();
    let documented: BTreeSet<&str> = DOCUMENTED.into_iter().collect();
    assert_eq!(
        names, documented,
        "label names as Prometheus documents them"
    );
    assert_eq!(web["__meta_gce_tags"], ",http-server,prod,");
    assert_eq!(web["__meta_gce_public_ip"], "34.1.2.3");
    assert_eq!(web["__meta_gce_instance_id"], "8390239404304393131");
    assert_eq!(targets[1]["__meta_gce_instance_status"], "TERMINATED");
    // More rounds reuse the token; every list sends the filter.
    let count = |path: &str| {
        server
            .requests()
            .iter()
            .filter(|request| request.path().ends_with(path))
            .count()
    };
    let lists = count("/instances");
    common::eventually(Duration::from_secs(10), "more rounds", || {
        count("/instances") >= lists + 4
    })
    .await;
    assert_eq!(count("/token"), 1, "one token for every round");
    assert!(
        server
            .requests()
            .iter()
            .filter(|request| request.path().ends_with("/instances"))
            .all(|request| request.query("filter").as_deref() == Some("labels.team-name = infra"))
    );
    manager.shutdown().await;
}
