//! Topics: collection, match, publish, aggregate, persistence.

use std::sync::Mutex;

use serde_json::json;
use weir_dsl::nodes::AlertHandler;

use super::*;
use crate::runtime::{CiWrite, HttpRequest, InfluxDbWrite};

#[derive(Default)]
struct Sent(Mutex<Vec<(String, Json)>>);

impl Outputs for Sent {
    fn http_post(&self, _: HttpRequest) {}
    fn influxdb_out(&self, _: InfluxDbWrite) {}
    fn ci_out(&self, _: CiWrite) {}
    fn alert(&self, handler: &AlertHandler, event_json: Vec<u8>) {
        let target = match handler {
            AlertHandler::Post { url, .. } => url.clone(),
            AlertHandler::Tcp { address } => address.clone(),
            other => format!("{other:?}"),
        };
        let body = serde_json::from_slice(&event_json).unwrap();
        self.0.lock().unwrap().push((target, body));
    }
}

impl Sent {
    fn take(&self) -> Vec<(String, Json)> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

#[derive(Default)]
struct Memory {
    events: Mutex<BTreeMap<(String, String), EventState>>,
    handlers: Mutex<BTreeMap<(String, String), HandlerSpec>>,
}

impl TopicStore for Memory {
    fn load_events(&self) -> Vec<(String, EventState)> {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .map(|((topic, _), state)| (topic.clone(), state.clone()))
            .collect()
    }
    fn load_handlers(&self) -> Vec<HandlerSpec> {
        self.handlers.lock().unwrap().values().cloned().collect()
    }
    fn save_event(&self, topic: &str, state: &EventState) {
        self.events
            .lock()
            .unwrap()
            .insert((topic.into(), state.id.clone()), state.clone());
    }
    fn delete_topic(&self, topic: &str) {
        self.events.lock().unwrap().retain(|(t, _), _| t != topic);
    }
    fn put_handler(&self, spec: &HandlerSpec) -> Result<(), String> {
        self.handlers
            .lock()
            .unwrap()
            .insert((spec.topic.clone(), spec.id.clone()), spec.clone());
        Ok(())
    }
    fn delete_handler(&self, topic: &str, id: &str) -> Result<(), String> {
        self.handlers
            .lock()
            .unwrap()
            .remove(&(topic.to_owned(), id.to_owned()));
        Ok(())
    }
}

fn spec(topic: &str, id: &str, kind: &str, options: Json, matcher: &str) -> HandlerSpec {
    HandlerSpec {
        topic: topic.into(),
        id: id.into(),
        kind: kind.into(),
        options: options.as_object().cloned().unwrap_or_default(),
        match_expression: matcher.into(),
    }
}

/// The handler corpus' scenario: the five events of `.topic('cpu')`.
fn raise(topics: &Topics, outputs: &dyn Outputs, handlers: &[AlertHandler]) {
    let events = [
        ("a", 2, 75, 2, 0),
        ("b", 2, 80, 3, 0),
        ("a", 2, 78, 4, 2),
        ("a", 3, 95, 5, 3),
        ("a", 0, 15, 6, 4),
    ];
    for (host, level, usage, second, duration) in events {
        let id = format!("cpu.{host}");
        let message = format!(
            "{id} is {}: usage={usage} host={host}",
            LEVEL_NAMES[level as usize]
        );
        let tags: Tags = [("host".to_owned(), host.to_owned())].into();
        let body = json!({"id": id, "message": message, "level": LEVEL_NAMES[level as usize],
            "data": {"series": [{"name": "cpu", "values": [[second, usage]]}]}});
        topics.collect_alert(
            &AlertEvent {
                task: "t",
                node: "alert2",
                topic: Some("cpu"),
                handlers,
                state: EventState {
                    id,
                    message,
                    details: String::new(),
                    time: (1_609_459_200 + second) * 1_000_000_000,
                    duration: duration * 1_000_000_000,
                    level,
                },
                name: "cpu",
                tags: &tags,
                json: body.to_string().into_bytes(),
            },
            outputs,
        );
    }
}

#[test]
fn match_publish_and_levels_follow_kapacitor() {
    let topics = Topics::in_memory();
    let sent = Sent::default();
    let changes = json!({"url": "http://changes"});
    topics
        .put_handler(
            spec(
                "cpu",
                "changes",
                "post",
                changes,
                "changed() == TRUE AND \"host\" == 'a'",
            ),
            false,
        )
        .unwrap();
    let publish = json!({"topics": ["cpu-pub", "cpu-pub2"]});
    topics
        .put_handler(spec("cpu", "publish", "publish", publish, ""), false)
        .unwrap();
    topics
        .put_handler(
            spec("cpu-pub2", "tcp", "tcp", json!({"address": "tcp:1"}), ""),
            false,
        )
        .unwrap();
    let again = topics.put_handler(
        spec("cpu", "publish", "publish", json!({"topics": ["x"]}), ""),
        false,
    );
    assert!(matches!(again, Err(TopicError::Invalid(m)) if m.contains("already exists")));
    raise(&topics, &sent, &[]);
    let sent = sent.take();
    let levels = |target: &str| -> Vec<String> {
        sent.iter()
            .filter(|(t, _)| t == target)
            .map(|(_, body)| {
                format!(
                    "{} {}",
                    body["id"].as_str().unwrap(),
                    body["level"].as_str().unwrap()
                )
            })
            .collect()
    };
    // Only host a's level changes pass the match; the repeat WARNING does not.
    assert_eq!(
        levels("http://changes"),
        ["cpu.a WARNING", "cpu.a CRITICAL", "cpu.a OK"]
    );
    assert_eq!(levels("tcp:1").len(), 5);
    let listed = topics.topics_json(None, 0, "/kapacitor/v1/alerts/topics");
    let summary: Vec<(String, String, u64)> = listed["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap().into(),
                t["level"].as_str().unwrap().into(),
                t["collected"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("cpu".into(), "WARNING".into(), 5),
            ("cpu-pub".into(), "WARNING".into(), 5),
            ("cpu-pub2".into(), "WARNING".into(), 5),
        ]
    );
    let warning = topics.topics_json(Some("cpu-*"), 3, "x");
    assert_eq!(warning["topics"], json!([]));
    let events = topics.events_json("cpu", 0).unwrap();
    let ids: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["cpu.b", "cpu.a"], "highest level first");
    let a = topics.event_json("cpu", "cpu.a").unwrap();
    assert_eq!(a["state"]["duration"], "4s");
    assert_eq!(a["state"]["time"], "2021-01-01T00:00:06Z");
    assert_eq!(
        topics.event_json("cpu", "nosuch").unwrap_err().to_string(),
        "unknown event \"nosuch\" in topic \"cpu\""
    );
    assert_eq!(topics.topic_json("nosuch").unwrap_err().status(), 404);
}

#[test]
fn aggregate_combines_one_interval_of_events() {
    let topics = Topics::in_memory();
    let sent = Sent::default();
    let options = json!({"id": "cpu-aggregate-event", "interval": 2_000_000_000i64,
        "message": "{{ .Count }} cpu events in {{ .Interval }}", "topic": "cpu-agg"});
    topics
        .put_handler(spec("cpu", "agg", "aggregate", options, ""), false)
        .unwrap();
    topics
        .put_handler(
            spec("cpu-agg", "post", "post", json!({"url": "http://agg"}), ""),
            false,
        )
        .unwrap();
    let start = Instant::now();
    // The first tick only arms the interval.
    topics.flush_aggregates(start, &sent);
    raise(&topics, &sent, &[]);
    topics.flush_aggregates(start + Duration::from_secs(1), &sent);
    assert!(sent.take().is_empty(), "not yet due");
    topics.flush_aggregates(start + Duration::from_secs(2), &sent);
    let sent_now = sent.take();
    assert_eq!(sent_now.len(), 1, "{sent_now:?}");
    let body = &sent_now[0].1;
    assert_eq!(body["id"], "cpu-aggregate-event");
    assert_eq!(body["message"], "5 cpu events in 2s");
    assert_eq!(body["level"], "CRITICAL");
    assert_eq!(body["time"], "2021-01-01T00:00:06Z");
    assert_eq!(body["duration"], 4_000_000_000i64);
    assert_eq!(body["previousLevel"], "OK");
    assert_eq!(body["recoverable"], false);
    assert_eq!(body["data"]["series"].as_array().unwrap().len(), 5);
    assert!(
        body["details"]
            .as_str()
            .unwrap()
            .starts_with("cpu.a is WARNING: usage=75 host=a\ncpu.b")
    );
    let agg = topics.topic_json("cpu-agg").unwrap();
    assert_eq!(
        (agg["level"].as_str(), agg["collected"].as_u64()),
        (Some("CRITICAL"), Some(1))
    );
    // Nothing new: nothing sent at the next tick.
    topics.flush_aggregates(start + Duration::from_secs(4), &sent);
    assert!(sent.take().is_empty());
}

#[test]
fn state_and_handlers_survive_a_restart_and_topics_can_be_deleted() {
    let memory = Arc::new(Memory::default());
    let sent = Sent::default();
    {
        let topics = Topics::open(memory.clone(), Vec::new());
        topics
            .put_handler(
                spec("cpu", "tcp", "tcp", json!({"address": "tcp:1"}), ""),
                false,
            )
            .unwrap();
        let inline = [AlertHandler::Tcp {
            address: "inline:1".into(),
        }];
        raise(&topics, &sent, &inline);
        assert!(
            topics.topic_json("main:t:alert2").is_ok(),
            "anonymous topic"
        );
    }
    let topics = Topics::open(memory.clone(), Vec::new());
    let cpu = topics.topic_json("cpu").unwrap();
    assert_eq!(cpu["level"], "WARNING");
    assert_eq!(cpu["collected"], 0, "collected counts this run");
    assert_eq!(
        topics.handlers_json("cpu", None, "x")["handlers"][0]["id"],
        "tcp"
    );
    topics.delete_task_topics("t");
    assert!(topics.topic_json("main:t:alert2").is_err());
    topics.delete_topic("cpu");
    // Its handler keeps the topic listed, empty.
    assert_eq!(topics.topic_json("cpu").unwrap()["level"], "OK");
    assert!(
        topics.events_json("cpu", 0).unwrap()["events"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    topics.delete_handler("cpu", "tcp").unwrap();
    let topics = Topics::open(memory, Vec::new());
    assert!(topics.topic_json("cpu").is_err());
    assert_eq!(parse_level("warning"), Ok(2));
    assert!(parse_level("LOUD").is_err());
}
