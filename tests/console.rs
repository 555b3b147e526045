//! The web console in a real browser: Debian's chromium, driven through chromedriver
//! (WebDriver, the `chromium` peer of tests/peers/peers.sh) by fantoccini, against a running
//! weir with real local targets. Each test saves a screenshot under
//! `$CARGO_TARGET_TMPDIR/console/`; with `WEIR_UPDATE_SCREENSHOTS=1` the collectors test also
//! writes the README's `docs/console-collectors.png`.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Weir, eventually, free_port, http, http_with, peer};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

/// A headless chromium session.
struct Browser {
    runtime: tokio::runtime::Runtime,
    client: Option<Client>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A fresh browser (its own profile), or `None` when the chromium peer is not running.
    fn start() -> Option<Browser> {
        let driver = peer("CHROMEDRIVER_URL")?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let profile = tempfile::tempdir().expect("profile dir");
        let binary = std::env::var("CHROMIUM_BIN").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,1700",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = runtime
            .block_on(
                ClientBuilder::new(connector)
                    .capabilities(capabilities)
                    .connect(&driver),
            )
            .unwrap_or_else(|e| panic!("a chromium session through {driver}: {e}"));
        Some(Browser {
            runtime,
            client: Some(client),
            _profile: profile,
        })
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("open until dropped")
    }

    fn goto(&self, url: &str) {
        self.runtime
            .block_on(self.client().goto(url))
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Run `script` in the page; its return value.
    fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.runtime
            .block_on(self.client().execute(script, args))
            .unwrap_or_else(|e| panic!("script {script}: {e}"))
    }

    /// The text of the first element matching `css`, if any.
    fn text(&self, css: &str) -> Option<String> {
        self.js(
            "const el = document.querySelector(arguments[0]); return el ? el.textContent : null;",
            vec![json!(css)],
        )
        .as_str()
        .map(|text| text.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    /// An attribute of the first element matching `css`.
    fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.js(
            "const el = document.querySelector(arguments[0]); return el ? el.getAttribute(arguments[1]) : null;",
            vec![json!(css), json!(name)],
        )
        .as_str()
        .map(str::to_owned)
    }

    /// Wait until the text of `css` satisfies `check`; the text.
    fn wait_text(&self, css: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
        eventually(WAIT, || self.text(css).filter(|text| check(text))).unwrap_or_else(|| {
            panic!(
                "{what}: `{css}` is {:?}; page:\n{}",
                self.text(css),
                self.text("main").unwrap_or_default()
            )
        })
    }

    /// Click the element matching `css` as a user would (WebDriver's click), retrying while
    /// the page re-renders it.
    fn click(&self, css: &str) {
        eventually(WAIT, || {
            self.runtime
                .block_on(async {
                    let element = self.client().find(Locator::Css(css)).await?;
                    element.click().await
                })
                .ok()
        })
        .unwrap_or_else(|| panic!("could not click `{css}`"));
    }

    fn type_into(&self, css: &str, text: &str) {
        self.runtime
            .block_on(async {
                let element = self.client().find(Locator::Css(css)).await?;
                element.send_keys(text).await
            })
            .unwrap_or_else(|e| panic!("type into `{css}`: {e}"));
    }

    /// Save a PNG of the window as `$CARGO_TARGET_TMPDIR/console/<name>.png`; its path.
    fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .runtime
            .block_on(self.client().screenshot())
            .expect("screenshot");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, &png).expect("write screenshot");
        eprintln!("screenshot: {}", path.display());
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.runtime.block_on(client.close());
        }
    }
}

/// A local Prometheus target: answers `/metrics` until told to stop, then closes every
/// connection at once.
struct Target {
    address: String,
    answering: Arc<AtomicBool>,
}

impl Target {
    fn start() -> Target {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind target");
        let address = listener.local_addr().expect("address").to_string();
        let answering = Arc::new(AtomicBool::new(true));
        let flag = answering.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                if !flag.load(Ordering::SeqCst) {
                    continue; // dropped: the scrape fails
                }
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let body = "# TYPE console_test_up gauge\nconsole_test_up 1\n# TYPE console_test_requests counter\nconsole_test_requests_total 42\n";
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Target { address, answering }
    }

    fn stop_answering(&self) {
        self.answering.store(false, Ordering::SeqCst);
    }
}

fn scraper(name: &str, interval: &str) -> String {
    format!(
        r#"
[[static-discovery]]
id = "{name}"
targets = ["@TARGET_{name}@"]
[[scraper]]
enabled = true
name = "{name}"
db = "prom"
rp = "autogen"
scrape-interval = "{interval}"
scrape-timeout = "500ms"
discoverer-id = "{name}"
discoverer-service = "static-discovery"
[scraper.health]
failures-before-open = 2
open-duration = "1m"
"#
    )
}

fn get_json(weir: &Weir, path: &str) -> Value {
    let (_, body) = http("GET", &format!("{}{path}", weir.url), None).unwrap_or_default();
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

fn scraper_status(weir: &Weir, name: &str) -> Value {
    get_json(weir, "/weir/v1/scrapers")["scrapers"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["name"] == name).cloned())
        .unwrap_or(Value::Null)
}

#[test]
fn collectors_page_shows_circuit_open_live_collect_now_and_disable() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let flaky = Target::start();
    let steady = Target::start();
    let config = format!(
        "data_dir = \"@DIR@/data\"\n[http]\nbind-address = \"127.0.0.1:@PORT@\"\n{}{}",
        scraper("flaky", "1s"),
        scraper("steady", "10m")
    )
    .replace("@TARGET_flaky@", &flaky.address)
    .replace("@TARGET_steady@", &steady.address);
    let dir = tempfile::tempdir().expect("tempdir").keep();
    let port = free_port();
    let weir = Weir::start_in(&dir, &config, port);
    browser.goto(&format!("{}/", weir.url));

    let flaky_row = format!(
        "[data-scraper=\"flaky\"] tr[data-target-url*=\"{}\"] .badge",
        flaky.address
    );
    browser.wait_text(&flaky_row, "the flaky target scrapes", |t| t == "Healthy");
    // Marks this page load: a reload would lose it.
    browser.js("window.__sameLoad = true; return null;", vec![]);
    flaky.stop_answering();
    browser.wait_text(&flaky_row, "the target that stopped answering", |t| {
        t == "Circuit Open"
    });
    assert_eq!(
        browser.js("return window.__sameLoad === true;", vec![]),
        json!(true),
        "the page changed without a reload"
    );
    browser.wait_text(
        "[data-scraper=\"flaky\"] .failures",
        "the failure is listed",
        |t| t.contains(&flaky.address),
    );

    // Collect now: the steady scraper's last collection moves to now.
    let last = "[data-scraper=\"steady\"] [data-field=\"last-collection\"]";
    browser.wait_text("[data-scraper=\"steady\"] h2", "the steady card", |t| {
        t == "steady"
    });
    let before = browser.attr(last, "datetime");
    let clicked_at = std::time::SystemTime::now();
    browser.click("[data-scraper=\"steady\"] button[data-action=\"collect\"]");
    browser.wait_text(
        "[data-scraper=\"steady\"] .result",
        "Collect now confirms",
        |t| t.starts_with("Collected steady: 1 target"),
    );
    let after = eventually(WAIT, || {
        browser
            .attr(last, "datetime")
            .filter(|now| Some(now) != before.as_ref())
    })
    .unwrap_or_else(|| panic!("the last collection stayed {before:?}"));
    let after_time =
        humantime::parse_rfc3339_weak(after.trim_end_matches('Z')).expect("an RFC 3339 datetime");
    assert!(
        after_time + Duration::from_secs(2) >= clicked_at,
        "the last collection ({after}) is the one Collect now made"
    );
    browser.wait_text(last, "the age restarts", |t| {
        t.ends_with("s ago") && t.split(' ').next().and_then(|n| n.parse::<u64>().ok()) < Some(30)
    });
    browser.screenshot("collectors");
    if std::env::var("WEIR_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        let png = browser
            .runtime
            .block_on(browser.client().screenshot())
            .expect("screenshot");
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/console-collectors.png");
        std::fs::write(&path, png).expect("write the README's screenshot");
    }

    // Disable: the card says so, and so does the API.
    browser.click("[data-scraper=\"steady\"] button[data-action=\"toggle-scraper\"]");
    browser.wait_text(
        "[data-scraper=\"steady\"] .card-state",
        "the disabled scraper",
        |t| t == "Disabled",
    );
    browser.wait_text(
        "[data-scraper=\"steady\"] .result",
        "Disable confirms",
        |t| t.starts_with("Scraper steady disabled."),
    );
    assert_eq!(scraper_status(&weir, "steady")["enabled"], json!(false));
    browser.screenshot("collectors-disabled");

    // Discovery sources have the same buttons.
    browser.click("[data-source=\"flaky\"] button[data-action=\"refresh-source\"]");
    browser.wait_text(
        "[data-source=\"flaky\"] .result",
        "Refresh now confirms",
        |t| t.starts_with("Discovery source flaky refreshed."),
    );
    browser.click("[data-source=\"flaky\"] button[data-action=\"toggle-source\"]");
    browser.wait_text(
        "[data-source=\"flaky\"] h3 .badge",
        "the disabled source",
        |t| t == "Disabled",
    );
    let sources = get_json(&weir, "/weir/v1/discoverers");
    let flaky_source = sources["discoverers"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["id"] == "flaky"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(flaky_source["enabled"], json!(false), "{flaky_source}");

    // After a restart the page shows what weir kept: Disabled once enable/disable is persisted
    // (issue 18), the config's `enabled = true` before that.
    weir.stop();
    let weir = Weir::start_in(&dir, &config, port);
    let enabled = scraper_status(&weir, "steady")["enabled"].clone();
    browser.goto(&format!("{}/", weir.url));
    let persisted = enabled == json!(false);
    if !persisted {
        eprintln!("this weir does not persist enable/disable yet: the page must show it enabled");
    }
    browser.wait_text(
        "[data-scraper=\"steady\"] .card-state",
        "the state after a restart",
        |t| (t == "Disabled") == persisted,
    );
    browser.wait_text(
        "[data-scraper=\"steady\"] button[data-action=\"toggle-scraper\"]",
        "the button offers the other state",
        |t| t == if persisted { "Enable" } else { "Disable" },
    );
    browser.screenshot("collectors-restarted");
}

#[test]
fn task_page_draws_the_graph_with_counts() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let weir =
        Weir::start("data_dir = \"@DIR@/data\"\n[http]\nbind-address = \"127.0.0.1:@PORT@\"\n");
    let script = "// the mean of cpu per host\nstream\n    |from()\n        .measurement('cpu')\n    |window()\n        .period(10s)\n        .every(10s)\n    |mean('value')\n    |httpOut('mean')\n";
    let task = json!({"id": "cpu_mean", "type": "stream", "dbrps": [{"db": "telegraf", "rp": "autogen"}],
        "script": script, "status": "enabled"});
    let (status, body) = http(
        "POST",
        &format!("{}/kapacitor/v1/tasks", weir.url),
        Some(&task.to_string()),
    )
    .expect("define the task");
    assert_eq!(status, 200, "{body}");
    let lines: String = (0..20)
        .map(|i| format!("cpu,host=h{} value={i} {}\n", i % 2, 1_700_000_000 + i))
        .collect();
    let (status, body) = http(
        "POST",
        &format!("{}/write?db=telegraf&rp=autogen&precision=s", weir.url),
        Some(&lines),
    )
    .expect("write");
    assert_eq!(status, 204, "{body}");
    let collected = eventually(WAIT, || {
        let stats = get_json(&weir, "/kapacitor/v1/tasks/cpu_mean");
        let n = stats["stats"]["node-stats"]["from1"]["collected"].as_u64()?;
        (n == 20).then_some(n)
    })
    .expect("the task saw the points");

    // The list shows it with its status and throughput, and links to its page.
    browser.goto(&format!("{}/#/tasks", weir.url));
    let cells = || {
        browser.js(
            "return Array.from(document.querySelectorAll('#task-rows tr[data-task=cpu_mean] td')).map(td => td.textContent.trim());",
            vec![],
        )
    };
    let row = eventually(WAIT, || Some(cells()).filter(|row| row[0] == "cpu_mean"))
        .unwrap_or_else(|| panic!("the task list: {}", cells()));
    assert_eq!(
        (&row[1], &row[2], &row[3]),
        (&json!("stream"), &json!("Enabled"), &json!("yes")),
        "{row}"
    );
    assert!(
        row[4].as_str().is_some_and(|t| t.ends_with("points/s")),
        "{row}"
    );
    browser.click("#task-rows a[href=\"#/tasks/cpu_mean\"]");
    for node in ["stream0", "from1", "window2", "mean3", "http_out4"] {
        browser.wait_text(
            &format!("#task-graph svg .gnode[data-node=\"{node}\"] .name"),
            "every node is drawn",
            |t| t == node,
        );
    }
    assert_eq!(
        browser.js(
            "return document.querySelectorAll('#task-graph svg path.edge').length;",
            vec![]
        ),
        json!(4),
        "one edge per link of the pipeline"
    );
    browser.wait_text(
        "#task-graph .gnode[data-node=\"from1\"] [data-stat=\"collected\"]",
        "the node's count",
        |t| t == format!("collected {collected}"),
    );
    let cells = eventually(WAIT, || {
        let cells = browser.js(
            "return Array.from(document.querySelectorAll('#task-nodes tr[data-node=window2] td')).map(td => td.textContent);",
            vec![],
        );
        (cells == json!(["window2", "20", "1", "0"])).then_some(cells)
    });
    assert!(
        cells.is_some(),
        "the counts table: window2 collected 20, emitted 1, no errors"
    );
    let keywords = browser.js(
        "return Array.from(document.querySelectorAll('#task-script .tk-node')).map(e => e.textContent.replace(/\\s+/g, ''));",
        vec![],
    );
    assert_eq!(
        keywords,
        json!(["|from", "|window", "|mean", "|httpOut"]),
        "the script is highlighted"
    );
    browser.wait_text("#task-head", "the status", |t| t.contains("Enabled"));
    browser.screenshot("task");

    // Disable from the page.
    browser.click("button[data-action=\"toggle-task\"]");
    browser.wait_text("#task-head .badge", "the disabled task", |t| {
        t == "Disabled"
    });
    let task = get_json(&weir, "/kapacitor/v1/tasks/cpu_mean");
    assert_eq!(task["status"], "disabled");
}

fn node(name: &str, ip: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
           "status": {"addresses": [{"type": "InternalIP", "address": ip}],
                      "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}})
}

fn pod(node: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "web-0", "namespace": "default", "labels": {"app": "web"}},
           "spec": {"nodeName": node, "containers": [{"name": "app", "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}]},
           "status": {"phase": "Running", "podIP": "10.2.0.7", "hostIP": "10.1.0.6",
                      "conditions": [{"type": "Ready", "status": "True"}]}})
}

fn fragment(id: &str) -> String {
    form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

#[test]
fn ci_page_shows_the_change_and_links_to_related_items() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let kube_port = free_port();
    let Some(_fake) = common::start_kube(kube_port) else {
        return;
    };
    let api = format!("http://127.0.0.1:{kube_port}");
    common::kube_send(
        "POST",
        &format!("{api}/api/v1/nodes"),
        &node("node-1", "10.1.0.5"),
    );
    common::kube_send(
        "POST",
        &format!("{api}/api/v1/nodes"),
        &node("node-22", "10.1.0.6"),
    );
    common::kube_send(
        "POST",
        &format!("{api}/api/v1/namespaces/default/pods"),
        &pod("node-1"),
    );
    let weir = Weir::start(&format!(
        "data_dir = \"@DIR@/data\"\n[http]\nbind-address = \"127.0.0.1:@PORT@\"\n\
         [[kubernetes]]\nid = \"pods\"\napi-servers = [\"{api}\"]\nresource = \"pod\"\n\
         [[kubernetes]]\nid = \"nodes\"\napi-servers = [\"{api}\"]\nresource = \"node\"\n"
    ));
    let pod_id = eventually(WAIT, || {
        let cis = get_json(&weir, "/weir/v1/cis?kind=kubernetes.pod");
        cis["cis"][0]["id"].as_str().map(str::to_owned)
    })
    .unwrap_or_else(|| panic!("the pod never became a CI; log:\n{}", weir.log()));
    common::kube_send(
        "PUT",
        &format!("{api}/api/v1/namespaces/default/pods/web-0"),
        &pod("node-22"),
    );
    eventually(WAIT, || {
        let changes = get_json(&weir, &format!("/weir/v1/changes?ci={}", fragment(&pod_id)));
        changes["changes"]
            .as_array()?
            .iter()
            .any(|c| c["change"] == "updated")
            .then_some(())
    })
    .unwrap_or_else(|| panic!("no update recorded; log:\n{}", weir.log()));

    // Search finds it by address, then its page shows the diff.
    browser.goto(&format!("{}/#/cis", weir.url));
    browser.wait_text("#ci-summary", "the list", |t| t.contains("matching"));
    browser.type_into("#ci-address", "10.2.0.7");
    browser.wait_text("#ci-rows", "search by address", |t| {
        t.contains("default/web-0") && !t.contains("node-22")
    });
    browser.click(&format!(
        "#ci-rows a[href=\"#/cis/{}\"]",
        fragment_js(&pod_id)
    ));
    let diff = "#ci-changes li[data-change=\"updated\"] .diff[data-attribute=\"pod_node_name\"]";
    browser.wait_text(diff, "the field-level diff", |t| {
        t == "pod_node_name: node-1 → node-22"
    });
    assert_eq!(
        browser.text(&format!("{diff} del")).as_deref(),
        Some("node-1")
    );
    assert_eq!(
        browser.text(&format!("{diff} ins")).as_deref(),
        Some("node-22")
    );
    browser.wait_text(
        "#ci-detail tr[data-attribute=\"pod_node_name\"]",
        "the current attribute",
        |t| t.contains("node-22"),
    );
    browser.screenshot("ci-pod");

    // Its relationship to the node it runs on is a link to the node's page.
    let link = "#ci-detail svg a[data-ci-link^=\"kubernetes.node:node-22@\"]";
    browser.wait_text(link, "the relationship graph", |t| t.contains("node-22"));
    browser.click(link);
    browser.wait_text("#ci-detail h1", "the node's page", |t| {
        t == "kubernetes.node node-22"
    });
    browser.wait_text("#ci-detail .rels", "the pod runs on it", |t| {
        t.contains("kubernetes.pod:default/web-0@kubernetes/pods runs-on → this")
    });
    browser.screenshot("ci-node");
}

/// `id` as the console writes it into a link (`encodeURIComponent`).
fn fragment_js(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'~'
            | b'*'
            | b'\''
            | b'('
            | b')' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[test]
fn with_auth_the_console_asks_for_credentials_and_refuses_cross_site_actions() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let target = Target::start();
    let config = format!(
        "data_dir = \"@DIR@/data\"\n[http]\nbind-address = \"127.0.0.1:@PORT@\"\nauth-enabled = true\n\
         [[http.users]]\nusername = \"ops\"\npassword-sha256 = \"{}\"\n{}",
        common::sha256_hex("s3cret"),
        scraper("app", "10m")
    )
    .replace("@TARGET_app@", &target.address);
    let weir = Weir::start(&config);
    let collect = format!("{}/weir/v1/scrapers/app/collect", weir.url);
    let basic = format!("Basic {}", base64_encode("ops:s3cret"));

    // Without credentials the console shows only its sign-in form, and actions are refused.
    browser.goto(&format!("{}/", weir.url));
    eventually(WAIT, || {
        (browser.js(
            "return !document.querySelector('#login').hidden && document.querySelector('#main').hidden;",
            vec![],
        ) == json!(true))
        .then_some(())
    })
    .expect("the console asks for credentials");
    let status = browser
        .runtime
        .block_on(browser.client().execute_async(
            "const done = arguments[arguments.length - 1]; fetch(arguments[0], {method: 'POST', headers: {'X-Weir-Console': '1'}}).then(r => done(r.status), e => done(String(e)));",
            vec![json!(collect)],
        ))
        .expect("fetch");
    assert_eq!(status, json!(401), "an action without credentials");
    assert_eq!(http("POST", &collect, None).expect("post").0, 401);
    browser.screenshot("auth-sign-in");

    // A POST from another site is refused even with good credentials.
    let (status, body) = post_from(&collect, &basic, "http://evil.example");
    assert_eq!(status, 403, "{body}");
    let (status, _) = http_with("POST", &collect, None, Some(&basic)).expect("post");
    assert_eq!(
        status, 200,
        "the same POST from the console's origin or a CLI"
    );
    // And from a real page of another origin (localhost is not 127.0.0.1): a form POST.
    let port = weir.url.rsplit(':').next().unwrap_or_default().to_owned();
    browser.goto(&format!("http://localhost:{port}/"));
    browser.js(
        "const form = document.createElement('form'); form.method = 'POST'; form.action = arguments[0]; document.body.appendChild(form); form.submit(); return null;",
        vec![json!(collect)],
    );
    let answer = eventually(WAIT, || {
        browser
            .text("body")
            .filter(|text| text.contains("cross-site request refused"))
    });
    assert!(
        answer.is_some(),
        "the cross-site form POST was not refused: {:?}",
        browser.text("body")
    );
    browser.screenshot("auth-cross-site");

    // Signing in shows the collectors, and Collect now works.
    browser.goto(&format!("{}/", weir.url));
    eventually(WAIT, || {
        (browser.js("return !document.querySelector('#login').hidden;", vec![]) == json!(true))
            .then_some(())
    })
    .expect("the sign-in form");
    browser.type_into("#login-user", "ops");
    browser.type_into("#login-password", "wrong");
    browser.click("#login button[type=\"submit\"]");
    browser.wait_text("#login-error", "a wrong password", |t| {
        t.contains("refused")
    });
    browser.runtime.block_on(async {
        let field = browser
            .client()
            .find(Locator::Css("#login-password"))
            .await
            .expect("password field");
        field.clear().await.expect("clear");
        field.send_keys("s3cret").await.expect("type");
    });
    browser.click("#login button[type=\"submit\"]");
    browser.wait_text("[data-scraper=\"app\"] h2", "the collectors", |t| {
        t == "app"
    });
    browser.click("[data-scraper=\"app\"] button[data-action=\"collect\"]");
    browser.wait_text("[data-scraper=\"app\"] .result", "Collect now", |t| {
        t.starts_with("Collected app: 1 target")
    });
    browser.screenshot("auth-signed-in");
}

/// A POST with credentials that says it comes from a page of `origin`.
fn post_from(url: &str, authorization: &str, origin: &str) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(url)
            .header("Authorization", authorization)
            .header("Origin", origin)
            .send()
            .await
            .expect("post");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    })
}

fn base64_encode(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[test]
fn targets_page_pages_and_filters_ten_thousand_targets() {
    let Some(browser) = Browser::start() else {
        return;
    };
    // Ten thousand targets that refuse connections, scraped once an hour (spread over it).
    let targets: Vec<String> = (0..10_000)
        .map(|i| format!("\"127.0.0.3:{}\"", 20_000 + i))
        .collect();
    let weir = Weir::start(&format!(
        "data_dir = \"@DIR@/data\"\n[http]\nbind-address = \"127.0.0.1:@PORT@\"\n\
         [[static-discovery]]\nid = \"many\"\ntargets = [{}]\n\
         [[scraper]]\nenabled = true\nname = \"many\"\ndb = \"prom\"\nrp = \"autogen\"\n\
         scrape-interval = \"1h\"\nscrape-timeout = \"500ms\"\ndiscoverer-id = \"many\"\n\
         discoverer-service = \"static-discovery\"\n",
        targets.join(", ")
    ));
    eventually(WAIT, || {
        let page = get_json(&weir, "/weir/v1/console/targets?limit=1");
        (page["total"] == 10_000).then_some(())
    })
    .unwrap_or_else(|| panic!("the targets are not all there; log:\n{}", weir.log()));
    let asked = std::time::Instant::now();
    let page = get_json(&weir, "/weir/v1/console/targets?limit=100&q=127.0.0.3");
    eprintln!("one page of 10,000 targets: {:?}", asked.elapsed());
    assert_eq!(page["targets"].as_array().map(Vec::len), Some(100));

    let opened = std::time::Instant::now();
    browser.goto(&format!("{}/#/targets", weir.url));
    browser.wait_text("#target-page", "the first page", |t| {
        t == "Showing 1–100 of 10,000"
    });
    let shown = opened.elapsed();
    eprintln!("the targets page showed 10,000 targets after {shown:?}");
    assert!(
        shown < Duration::from_secs(10),
        "the first page took {shown:?}"
    );
    let rows = "return document.querySelectorAll('#target-rows tr[data-target-url]').length;";
    assert_eq!(browser.js(rows, vec![]), json!(100), "one page of rows");
    let first = browser.attr("#target-rows tr[data-target-url]", "data-target-url");
    browser.click("button[data-action=\"next\"]");
    browser.wait_text("#target-page", "the second page", |t| {
        t == "Showing 101–200 of 10,000"
    });
    assert_ne!(
        browser.attr("#target-rows tr[data-target-url]", "data-target-url"),
        first
    );
    browser.type_into("#target-q", "127.0.0.3:20042");
    browser.wait_text("#target-summary", "the filter", |t| {
        t.starts_with("1 matching")
    });
    browser.wait_text("#target-rows", "the one target", |t| {
        t.contains("127.0.0.3:20042")
    });
    assert_eq!(browser.js(rows, vec![]), json!(1));
    browser.screenshot("targets");
}

#[test]
fn sinks_and_config_page_shows_queues_and_the_rejected_config() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let dead = format!("http://127.0.0.1:{}", free_port());
    let weir = Weir::start(&format!(
        "data_dir = \"@DIR@/data\"\n[http]\nbind-address = \"127.0.0.1:@PORT@\"\n\
         [[influxdb]]\nname = \"tsdb\"\ndefault = true\nurls = [\"{dead}\"]\n\
         flush-interval = \"100ms\"\ntimeout = \"1s\"\nbuffer = \"disk\"\n"
    ));
    let script = "dbrp \"app\".\"autogen\"\nstream\n    |from()\n        .measurement('req')\n    |influxDBOut()\n        .database('out')\n        .retentionPolicy('autogen')\n";
    let define = json!({"id": "copy", "type": "stream", "script": script, "status": "enabled"});
    let (status, body) = http(
        "POST",
        &format!("{}/kapacitor/v1/tasks", weir.url),
        Some(&define.to_string()),
    )
    .expect("define");
    assert_eq!(status, 200, "{body}");
    let lines: String = (0..50)
        .map(|i| format!("req latency={i} {}\n", 1_700_000_000 + i))
        .collect();
    let (status, body) = http(
        "POST",
        &format!("{}/write?db=app&rp=autogen&precision=s", weir.url),
        Some(&lines),
    )
    .expect("write");
    assert_eq!(status, 204, "{body}");

    browser.goto(&format!("{}/#/sinks", weir.url));
    let cells = || {
        browser.js(
            "return Array.from(document.querySelectorAll('#sink-table tr[data-sink=tsdb] td')).map(td => td.textContent.trim());",
            vec![],
        )
    };
    let row = eventually(WAIT, || {
        let row = cells();
        (row[2] == "50" && row[8].as_str().is_some_and(|e| e.contains(&dead))).then_some(row)
    })
    .unwrap_or_else(|| panic!("the sink's queue and error: {}", cells()));
    assert_eq!(row[1], "disk", "{row}");

    // A broken config is rejected; the page names the reason and the revision that runs.
    let good = std::fs::read_to_string(&weir.config).expect("config");
    let broken = good
        .clone()
        .replace("flush-interval = \"100ms\"", "flush-interval = ");
    std::fs::write(&weir.config, broken).expect("write config");
    let (status, body) =
        http("POST", &format!("{}/weir/v1/config/reload", weir.url), None).expect("reload");
    assert_eq!(status, 400, "{body}");
    browser.wait_text(
        "#config-status [data-field=\"rejected-reason\"]",
        "the rejected config",
        |t| t.contains("weir.toml:") && t.contains("revision 1 keeps running"),
    );
    assert_eq!(
        browser
            .text("#config-status [data-field=\"running-revision\"]")
            .as_deref(),
        Some("1")
    );
    browser.screenshot("sinks-config");

    // A good config applied afterwards runs, and the rejected one stays on the page.
    std::fs::write(&weir.config, good).expect("write config");
    let (status, body) =
        http("POST", &format!("{}/weir/v1/config/reload", weir.url), None).expect("reload");
    assert_eq!(status, 200, "{body}");
    // (weir also reloads by itself when the file changes: a later revision than 2 may run.)
    let revision = browser.wait_text(
        "#config-status [data-field=\"running-revision\"]",
        "the applied revision",
        |t| t.parse::<u64>().is_ok_and(|revision| revision >= 2),
    );
    browser.wait_text(
        "#config-status [data-field=\"rejected-reason\"]",
        "the rejected config after a good one",
        |t| {
            t.contains("weir.toml:")
                && t.contains(&format!("revision {revision} was applied since"))
        },
    );
}
