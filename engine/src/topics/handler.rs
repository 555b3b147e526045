//! Topic handler specs (`kapacitor define-topic-handler`): Kapacitor's `id`, `kind`,
//! `options` and `match`, checked and turned into what the topic does with an event.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use weir_dsl::Lambda;
use weir_dsl::nodes::AlertHandler;

/// A topic handler as defined through the API, kept and answered as given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandlerSpec {
    /// The topic it handles.
    #[serde(default)]
    pub topic: String,
    /// Its id within the topic.
    #[serde(default)]
    pub id: String,
    /// `post`, `tcp`, `log`, `exec`, `aggregate`, `publish`, or one of Kapacitor's services.
    #[serde(default)]
    pub kind: String,
    /// Kind-specific options, as given.
    #[serde(default)]
    pub options: Map<String, Json>,
    /// A lambda over the event (`changed() == TRUE AND "host" == 'a'`); empty: every event.
    #[serde(default, rename = "match")]
    pub match_expression: String,
}

/// Kapacitor's service handler kinds: those in `weir_dsl::nodes::alert::SENT` are sent
/// through the daemon's configured section, the others stored and listed only.
pub const SERVICE_KINDS: [&str; 21] = [
    "alerta",
    "bigpanda",
    "discord",
    "hipchat",
    "kafka",
    "mqtt",
    "opsgenie",
    "opsgenie2",
    "pagerduty",
    "pagerduty2",
    "pushover",
    "sensu",
    "servicenow",
    "slack",
    "smtp",
    "snmptrap",
    "talk",
    "teams",
    "telegram",
    "victorops",
    "zenoss",
];

/// The kinds weir runs.
pub const RUN_KINDS: [&str; 6] = ["aggregate", "exec", "log", "post", "publish", "tcp"];

/// What a handler does with an event that matches.
#[derive(Debug, Clone)]
pub enum Action {
    /// Hand the event JSON to one of the alert handlers the engine's outputs run.
    Deliver(AlertHandler),
    /// Collect events and publish one combined event every interval.
    Aggregate(AggregateSpec),
    /// Collect the event into other topics.
    Publish(Vec<String>),
    /// A Kapacitor service weir does not send to (counted as an error per event).
    Service(String),
}

/// The options of an `aggregate` handler.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateSpec {
    /// The id of the combined event.
    pub id: String,
    /// Its message: text with `{{ .Count }}` and `{{ .Interval }}`.
    pub message: Vec<MessagePiece>,
    /// Nanoseconds between combined events.
    pub interval: i64,
    /// The topic the combined event goes to.
    pub topic: String,
}

/// A piece of an aggregate message template.
#[derive(Debug, Clone, PartialEq)]
pub enum MessagePiece {
    /// Literal text.
    Text(String),
    /// `{{ .Count }}`: how many events were combined.
    Count,
    /// `{{ .Interval }}`: the interval, as Go prints a duration (`2s`).
    Interval,
}

const DEFAULT_AGGREGATE_ID: &str = "aggregate";
const DEFAULT_AGGREGATE_MESSAGE: &str = "Received {{ .Count }} events in the last {{ .Interval }}.";

/// A checked handler: its spec, its compiled match and its action.
#[derive(Debug, Clone)]
pub struct Handler {
    /// The spec as given.
    pub spec: HandlerSpec,
    /// The compiled match (`None`: every event).
    pub matcher: Option<Lambda>,
    /// What it does.
    pub action: Action,
}

/// Kapacitor's rule for topic and handler ids.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

impl Handler {
    /// Check a spec and build its action; `exec_allowed` lists the programs `exec` may run.
    pub fn new(spec: HandlerSpec, exec_allowed: &[String]) -> Result<Handler, String> {
        if !valid_id(&spec.topic) {
            return Err(format!(
                "invalid handler spec: topic {:?} must be letters, digits, '-', '.' or '_'",
                spec.topic
            ));
        }
        if spec.id.is_empty() {
            return Err("invalid handler spec: must provide an id".to_owned());
        }
        if !valid_id(&spec.id) {
            return Err(format!(
                "invalid handler spec: id {:?} must be letters, digits, '-', '.' or '_'",
                spec.id
            ));
        }
        if spec.kind.is_empty() {
            return Err("invalid handler spec: must provide a kind".to_owned());
        }
        let matcher = weir_dsl::compile_match(&spec.match_expression)?;
        let action = action(&spec, exec_allowed)?;
        Ok(Handler {
            spec,
            matcher,
            action,
        })
    }
}

/// Reads the options of one kind: every key must be one the kind knows.
struct Options<'a> {
    kind: &'a str,
    options: &'a Map<String, Json>,
}

impl<'a> Options<'a> {
    fn new(kind: &'a str, options: &'a Map<String, Json>, known: &[&str]) -> Result<Self, String> {
        if let Some(unknown) = options.keys().find(|key| !known.contains(&key.as_str())) {
            return Err(format!(
                "{kind} handler: unknown option {unknown:?}; it takes {}",
                known.join(", ")
            ));
        }
        Ok(Options { kind, options })
    }

    fn string(&self, key: &str) -> Result<Option<String>, String> {
        match self.options.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(format!(
                "{} handler: option {key:?} must be a string, got {other}",
                self.kind
            )),
        }
    }

    fn required(&self, key: &str) -> Result<String, String> {
        self.string(key)?
            .filter(|text| !text.is_empty())
            .ok_or_else(|| format!("{} handler: option {key:?} is required", self.kind))
    }

    fn strings(&self, key: &str) -> Result<Vec<String>, String> {
        match self.options.get(key) {
            None | Some(Json::Null) => Ok(Vec::new()),
            Some(Json::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Json::String(text) => Ok(text.clone()),
                    other => Err(format!(
                        "{} handler: option {key:?} must be a list of strings, got {other}",
                        self.kind
                    )),
                })
                .collect(),
            Some(other) => Err(format!(
                "{} handler: option {key:?} must be a list of strings, got {other}",
                self.kind
            )),
        }
    }

    /// A duration in integer nanoseconds, as Kapacitor's options decoder takes it.
    fn nanos(&self, key: &str) -> Result<Option<i64>, String> {
        match self.options.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Number(number)) => number.as_i64().map(Some).ok_or_else(|| {
                format!(
                    "{} handler: option {key:?} must be whole nanoseconds, got {number}",
                    self.kind
                )
            }),
            Some(Json::String(text)) => Err(format!(
                "{} handler: option {key:?} must be an integer number of nanoseconds \
                 (Kapacitor rejects the string {text:?} the same way); for 2s write 2000000000",
                self.kind
            )),
            Some(other) => Err(format!(
                "{} handler: option {key:?} must be an integer number of nanoseconds, got {other}",
                self.kind
            )),
        }
    }
}

fn action(spec: &HandlerSpec, exec_allowed: &[String]) -> Result<Action, String> {
    let kind = spec.kind.as_str();
    let options = &spec.options;
    match kind {
        "post" => {
            let o = Options::new(kind, options, &["url", "headers", "timeout"])?;
            let url = o.required("url")?;
            let headers = match options.get("headers") {
                None | Some(Json::Null) => Vec::new(),
                Some(Json::Object(map)) => map
                    .iter()
                    .map(|(name, value)| match value {
                        Json::String(value) => Ok((name.clone(), value.clone())),
                        other => Err(format!(
                            "post handler: header {name:?} must be a string, got {other}"
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                Some(other) => {
                    return Err(format!(
                        "post handler: option \"headers\" must be a map of strings, got {other}"
                    ));
                }
            };
            let timeout = o.nanos("timeout")?.map(weir_dsl::Duration);
            Ok(Action::Deliver(AlertHandler::Post {
                url,
                headers,
                timeout,
            }))
        }
        "tcp" => {
            let o = Options::new(kind, options, &["address"])?;
            Ok(Action::Deliver(AlertHandler::Tcp {
                address: o.required("address")?,
            }))
        }
        "log" => {
            let o = Options::new(kind, options, &["path"])?;
            let path = o.required("path")?;
            if !path.starts_with('/') {
                return Err(format!(
                    "log handler: path must be absolute: {path} is not absolute"
                ));
            }
            Ok(Action::Deliver(AlertHandler::Log { path }))
        }
        "exec" => {
            let o = Options::new(kind, options, &["prog", "args"])?;
            let program = o.required("prog")?;
            if !exec_allowed.contains(&program) {
                return Err(format!(
                    "exec handler runs {program:?}, which is not allowed: add it to \
                     [exec] allowed-commands in the config to let handlers run it"
                ));
            }
            let mut command = vec![program];
            command.extend(o.strings("args")?);
            Ok(Action::Deliver(AlertHandler::Exec { command }))
        }
        "publish" => {
            let o = Options::new(kind, options, &["topics"])?;
            let topics = o.strings("topics")?;
            if topics.is_empty() {
                return Err("publish handler: option \"topics\" needs at least one topic".into());
            }
            if let Some(bad) = topics.iter().find(|topic| !valid_id(topic)) {
                return Err(format!(
                    "publish handler: topic {bad:?} must be letters, digits, '-', '.' or '_'"
                ));
            }
            if topics.contains(&spec.topic) {
                return Err(format!(
                    "publish handler: topic {:?} cannot publish to itself",
                    spec.topic
                ));
            }
            Ok(Action::Publish(topics))
        }
        "aggregate" => {
            let o = Options::new(kind, options, &["id", "interval", "message", "topic"])?;
            let interval = o.nanos("interval")?.ok_or_else(|| {
                "aggregate handler: option \"interval\" is required (integer nanoseconds)"
                    .to_owned()
            })?;
            if interval <= 0 {
                return Err("aggregate handler: option \"interval\" must be positive".into());
            }
            let topic = o.required("topic")?;
            if !valid_id(&topic) {
                return Err(format!(
                    "aggregate handler: topic {topic:?} must be letters, digits, '-', '.' or '_'"
                ));
            }
            if topic == spec.topic {
                return Err(format!(
                    "aggregate handler: topic {topic:?} cannot aggregate into itself"
                ));
            }
            let id = o
                .string("id")?
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| DEFAULT_AGGREGATE_ID.to_owned());
            let message = o
                .string("message")?
                .filter(|message| !message.is_empty())
                .unwrap_or_else(|| DEFAULT_AGGREGATE_MESSAGE.to_owned());
            Ok(Action::Aggregate(AggregateSpec {
                id,
                message: parse_message(&message)?,
                interval,
                topic,
            }))
        }
        service if weir_dsl::nodes::alert::SENT.contains(&service) => {
            Ok(Action::Deliver(AlertHandler::Service {
                kind: service.to_owned(),
                options: options.clone(),
            }))
        }
        service if SERVICE_KINDS.contains(&service) => Ok(Action::Service(service.to_owned())),
        other => Err(format!(
            "unsupported action kind {other:?}: weir runs {} and keeps Kapacitor's service kinds ({})",
            RUN_KINDS.join(", "),
            SERVICE_KINDS.join(", ")
        )),
    }
}

/// Parse an aggregate message: text with `{{ .Count }}` and `{{ .Interval }}` only.
fn parse_message(source: &str) -> Result<Vec<MessagePiece>, String> {
    let mut pieces = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            pieces.push(MessagePiece::Text(rest[..start].to_owned()));
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("aggregate handler: unclosed action in message {source:?}"))?;
        match after[..end].trim() {
            ".Count" => pieces.push(MessagePiece::Count),
            ".Interval" => pieces.push(MessagePiece::Interval),
            other => {
                return Err(format!(
                    "aggregate handler: message can use {{{{ .Count }}}} and {{{{ .Interval }}}}, not {{{{ {other} }}}}"
                ));
            }
        }
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        pieces.push(MessagePiece::Text(rest.to_owned()));
    }
    Ok(pieces)
}

/// Render an aggregate message.
pub fn render_message(pieces: &[MessagePiece], count: usize, interval: i64) -> String {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            MessagePiece::Text(text) => out.push_str(text),
            MessagePiece::Count => out.push_str(&count.to_string()),
            MessagePiece::Interval => out.push_str(&weir_dsl::Duration(interval).to_string()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(kind: &str, options: Json) -> HandlerSpec {
        HandlerSpec {
            topic: "cpu".into(),
            id: "h".into(),
            kind: kind.into(),
            options: options.as_object().cloned().unwrap_or_default(),
            match_expression: String::new(),
        }
    }

    #[test]
    fn options_are_checked_with_actionable_errors() {
        let aggregate = json!({"id": "agg", "interval": 2_000_000_000i64, "topic": "cpu-agg",
                               "message": "{{ .Count }} cpu events in {{ .Interval }}"});
        let handler = Handler::new(spec("aggregate", aggregate), &[]).unwrap();
        let Action::Aggregate(aggregate) = handler.action else {
            panic!("aggregate")
        };
        assert_eq!(
            render_message(&aggregate.message, 5, aggregate.interval),
            "5 cpu events in 2s"
        );
        let error = Handler::new(
            spec("aggregate", json!({"interval": "2s", "topic": "cpu-agg"})),
            &[],
        )
        .unwrap_err();
        assert!(error.contains("2000000000"), "{error}");
        let error = Handler::new(spec("post", json!({"uri": "http://x"})), &[]).unwrap_err();
        assert!(error.contains("unknown option \"uri\""), "{error}");
        let error = Handler::new(spec("exec", json!({"prog": "/bin/sh"})), &[]).unwrap_err();
        assert!(error.contains("[exec] allowed-commands"), "{error}");
        assert!(
            Handler::new(
                spec("exec", json!({"prog": "/bin/true"})),
                &["/bin/true".into()]
            )
            .is_ok()
        );
        let error = Handler::new(spec("publish", json!({"topics": ["cpu"]})), &[]).unwrap_err();
        assert!(error.contains("itself"), "{error}");
        let error = Handler::new(spec("pager", json!({})), &[]).unwrap_err();
        assert!(
            error.contains("unsupported action kind \"pager\""),
            "{error}"
        );
        // Services weir sends go to the outputs with their options; the others are kept.
        assert!(matches!(
            Handler::new(spec("slack", json!({"channel": "#ops"})), &[])
                .unwrap()
                .action,
            Action::Deliver(AlertHandler::Service { kind, options })
                if kind == "slack" && options["channel"] == "#ops"
        ));
        assert!(matches!(
            Handler::new(spec("zenoss", json!({})), &[]).unwrap().action,
            Action::Service(_)
        ));
        let mut bad_match = spec("tcp", json!({"address": "127.0.0.1:1"}));
        bad_match.match_expression = "level() >".into();
        assert!(
            Handler::new(bad_match, &[])
                .unwrap_err()
                .contains("invalid match")
        );
    }
}
