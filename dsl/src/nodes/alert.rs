//! `alert()`: classifies points into levels and sends events to handlers.
//!
//! ```tick
//! stream|from()|alert().warn(lambda: "usage" > 80.0).crit(lambda: "usage" > 95.0).stateChangesOnly().log('/tmp/alerts.log')
//! ```

use crate::lambda::Lambda;
use crate::nodes::{EdgeType, NodeSpec};
use crate::schema::{
    Arg, ArgValue, Chains, Handler, NodeBuild, NodeKind, Provides, Sig, Wants, prop,
};
use crate::value::Duration;

/// Where alert events go.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AlertHandler {
    /// Append JSON lines to a file.
    Log {
        /// File path.
        path: String,
    },
    /// POST the event JSON.
    Post {
        /// URL.
        url: String,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// Request timeout.
        timeout: Option<Duration>,
    },
    /// Send the event JSON over TCP.
    Tcp {
        /// `host:port`.
        address: String,
    },
    /// Run a command with the event JSON on stdin.
    Exec {
        /// Program and arguments.
        command: Vec<String>,
    },
    /// One of Kapacitor's services (`.slack()`, `.pagerDuty2()`, ...), sent by the daemon
    /// through its configured section.
    Service {
        /// The section and topic-handler kind (`slack`, `pagerduty2`, `smtp` for `.email()`).
        kind: String,
        /// The handler's properties as topic-handler options (`.iconEmoji(':fire:')` is
        /// `"icon-emoji": ":fire:"`).
        options: serde_json::Map<String, serde_json::Value>,
    },
}

/// The config section (and topic-handler kind) of a Kapacitor alert handler method.
pub fn service_kind(method: &str) -> Option<&'static str> {
    Some(match method {
        "alerta" => "alerta",
        "bigPanda" => "bigpanda",
        "discord" => "discord",
        "email" => "smtp",
        "hipChat" => "hipchat",
        "kafka" => "kafka",
        "mqtt" => "mqtt",
        "opsGenie" => "opsgenie",
        "opsGenie2" => "opsgenie2",
        "pagerDuty" => "pagerduty",
        "pagerDuty2" => "pagerduty2",
        "pushover" => "pushover",
        "sensu" => "sensu",
        "serviceNow" => "servicenow",
        "slack" => "slack",
        "snmpTrap" => "snmptrap",
        "talk" => "talk",
        "teams" => "teams",
        "telegram" => "telegram",
        "victorOps" => "victorops",
        "zenoss" => "zenoss",
        _ => return None,
    })
}

/// A handler property as a topic-handler option key: Kapacitor's kebab-case names
/// (`iconEmoji` → `icon-emoji`, `uRLTitle` → `url-title`, `chatId` → `chat-id`).
fn option_key(handler: &str, property: &str) -> String {
    match (handler, property) {
        ("alerta", "services") => return "service".into(),
        ("kafka", "kafkaTopic") => return "topic".into(),
        ("snmpTrap", "data") => return "data-list".into(),
        ("pagerDuty2", "link") => return "links".into(),
        _ => {}
    }
    let property = property.replace("URL", "Url").replace("uRL", "url");
    let mut key = String::new();
    for c in property.chars() {
        if c.is_ascii_uppercase() {
            if !key.is_empty() {
                key.push('-');
            }
            key.push(c.to_ascii_lowercase());
        } else {
            key.push(c);
        }
    }
    key
}

fn arg_json(value: &ArgValue) -> serde_json::Value {
    match value {
        ArgValue::Str(text) => text.clone().into(),
        ArgValue::Int(value) => (*value).into(),
        ArgValue::Float(value) => (*value).into(),
        ArgValue::Bool(value) => (*value).into(),
        ArgValue::Duration(value) => value.0.into(),
        ArgValue::Value(value) => match value {
            crate::Value::String(text) => text.clone().into(),
            crate::Value::Int(value) => (*value).into(),
            crate::Value::Float(value) => (*value).into(),
            crate::Value::Bool(value) => (*value).into(),
            crate::Value::Duration(value) => value.0.into(),
            other => format!("{other:?}").into(),
        },
        _ => serde_json::Value::Null,
    }
}

/// A third-party handler call as its service kind and topic-handler options.
fn service_handler(handler: &crate::schema::HandlerCall) -> Option<AlertHandler> {
    use serde_json::{Map, Value as Json};
    let name = handler.call.name;
    let kind = service_kind(name)?;
    let mut options = Map::new();
    // Positional arguments: `.mqtt(topic)`, `.snmpTrap(trapOid)`, `.email(to...)`.
    let args: Vec<Json> = handler.call.args.iter().map(|(v, _)| arg_json(v)).collect();
    match (name, args.first()) {
        ("mqtt", Some(topic)) => {
            options.insert("topic".into(), topic.clone());
        }
        ("snmpTrap", Some(oid)) => {
            options.insert("trap-oid".into(), oid.clone());
        }
        ("email", Some(_)) => {
            options.insert("to".into(), Json::Array(args.clone()));
        }
        _ => {}
    }
    for call in &handler.props {
        let key = option_key(name, call.name);
        let args: Vec<Json> = call.args.iter().map(|(v, _)| arg_json(v)).collect();
        match (name, call.name) {
            // Lists that grow with every call.
            ("pagerDuty2", "link") => {
                let href = args.first().cloned().unwrap_or(Json::Null);
                let text = args.get(1).cloned().unwrap_or_else(|| href.clone());
                push(
                    &mut options,
                    &key,
                    serde_json::json!({"href": href, "text": text}),
                );
            }
            ("snmpTrap", "data") => {
                let field = |i: usize| args.get(i).cloned().unwrap_or(Json::Null);
                push(
                    &mut options,
                    &key,
                    serde_json::json!({"oid": field(0), "type": field(1), "value": field(2)}),
                );
            }
            // Maps filled key by key.
            (_, "metadata" | "additionalInfo" | "customField") => {
                if let (Some(Json::String(k)), Some(v)) = (args.first(), args.get(1)) {
                    let entry = options
                        .entry(key)
                        .or_insert_with(|| Json::Object(Map::new()));
                    if let Json::Object(map) = entry {
                        map.insert(k.clone(), v.clone());
                    }
                }
            }
            // Variadic lists.
            (_, "teams" | "recipients" | "services" | "handlers" | "to") => {
                let entry = options
                    .entry(key)
                    .or_insert_with(|| Json::Array(Vec::new()));
                if let Json::Array(list) = entry {
                    list.extend(args);
                }
            }
            _ => {
                let value = match args.len() {
                    0 => Json::Bool(true),
                    1 => args.into_iter().next().unwrap_or(Json::Null),
                    _ => Json::Array(args),
                };
                options.insert(key, value);
            }
        }
    }
    Some(AlertHandler::Service {
        kind: kind.to_owned(),
        options,
    })
}

fn push(
    options: &mut serde_json::Map<String, serde_json::Value>,
    key: &str,
    item: serde_json::Value,
) {
    let entry = options
        .entry(key.to_owned())
        .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    if let serde_json::Value::Array(list) = entry {
        list.push(item);
    }
}

/// Properties of `alert()`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlertSpec {
    /// Alert id template (default `{{ .Name }}:{{ .Group }}`).
    pub id: Option<String>,
    /// Message template (default `{{ .ID }} is {{ .Level }}`).
    pub message: Option<String>,
    /// Details template (default `{{ json . }}`).
    pub details: Option<String>,
    /// INFO predicate.
    pub info: Option<Lambda>,
    /// WARNING predicate.
    pub warn: Option<Lambda>,
    /// CRITICAL predicate.
    pub crit: Option<Lambda>,
    /// INFO reset predicate.
    pub info_reset: Option<Lambda>,
    /// WARNING reset predicate.
    pub warn_reset: Option<Lambda>,
    /// CRITICAL reset predicate.
    pub crit_reset: Option<Lambda>,
    /// Only send events when the level changes (optionally re-send after an interval).
    pub state_changes_only: Option<Option<Duration>>,
    /// Flapping thresholds `(low, high)`.
    pub flapping: Option<(f64, f64)>,
    /// Level history length (default 21).
    pub history: i64,
    /// Suppress OK events.
    pub no_recoveries: bool,
    /// Keep each group's level, history and last event in the embedded store across
    /// restarts (`.persist()`, weir only; off by default).
    pub persist: bool,
    /// Batch input: every point must match.
    pub all: bool,
    /// Add the level as this tag.
    pub level_tag: Option<String>,
    /// Add the level as this field.
    pub level_field: Option<String>,
    /// Add the id as this tag.
    pub id_tag: Option<String>,
    /// Add the id as this field.
    pub id_field: Option<String>,
    /// Add the message as this field.
    pub message_field: Option<String>,
    /// Add the duration as this field.
    pub duration_field: Option<String>,
    /// Named topic.
    pub topic: Option<String>,
    /// Handlers.
    pub handlers: Vec<AlertHandler>,
    /// Do not log evaluation errors.
    pub quiet: bool,
}

const STR: Sig = Sig::exact(&[("value", Arg::Str)]);
const LAMBDA: Sig = Sig::exact(&[("predicate", Arg::Predicate)]);

pub(crate) const KIND: NodeKind = NodeKind {
    method: "alert",
    node_name: "alert",
    args: Sig::NONE,
    props: &[
        prop("id", STR),
        prop("message", STR),
        prop("details", STR),
        prop("info", LAMBDA),
        prop("warn", LAMBDA),
        prop("crit", LAMBDA),
        prop("infoReset", LAMBDA),
        prop("warnReset", LAMBDA),
        prop("critReset", LAMBDA),
        prop(
            "stateChangesOnly",
            Sig {
                params: &[("maxInterval", Arg::Duration)],
                required: 0,
                rest: None,
            },
        ),
        prop(
            "flapping",
            Sig::exact(&[("low", Arg::Float), ("high", Arg::Float)]),
        ),
        prop("history", Sig::exact(&[("count", Arg::Int)])),
        prop("noRecoveries", Sig::NONE),
        prop("all", Sig::NONE),
        prop("levelTag", STR),
        prop("levelField", STR),
        prop("idTag", STR),
        prop("idField", STR),
        prop("messageField", STR),
        prop("durationField", STR),
        prop("topic", STR),
        prop("category", STR),
        prop("persist", Sig::NONE),
        prop(
            "inhibit",
            Sig {
                params: &[("category", Arg::Str)],
                required: 1,
                rest: Some(("equalTag", Arg::Str)),
            },
        ),
    ],
    handlers: &[
        Handler {
            name: "log",
            sig: Sig::exact(&[("path", Arg::Str)]),
            props: &[prop("mode", Sig::exact(&[("mode", Arg::Int)]))],
        },
        Handler {
            name: "post",
            sig: Sig::variadic("url", Arg::Str),
            props: &[
                prop(
                    "header",
                    Sig::exact(&[("name", Arg::Str), ("value", Arg::Str)]),
                ),
                prop("timeout", Sig::exact(&[("timeout", Arg::Duration)])),
                prop("endpoint", STR),
                prop("captureResponse", Sig::NONE),
                prop("skipSSLVerification", Sig::NONE),
            ],
        },
        Handler {
            name: "tcp",
            sig: Sig::exact(&[("address", Arg::Str)]),
            props: &[],
        },
        Handler {
            name: "exec",
            sig: Sig {
                params: &[("executable", Arg::Str)],
                required: 1,
                rest: Some(("arg", Arg::Str)),
            },
            props: &[],
        },
        // Kapacitor's third-party handlers: checked with their properties, then ignored with a
        // warning (Kapacitor itself accepts them when the service is not configured).
        third_party(
            "alerta",
            Sig::NONE,
            &[
                prop("token", STR),
                prop("resource", STR),
                prop("event", STR),
                prop("environment", STR),
                prop("group", STR),
                prop("value", STR),
                prop("origin", STR),
                prop("services", Sig::variadic("service", Arg::Str)),
                prop("timeout", Sig::exact(&[("timeout", Arg::Duration)])),
            ],
        ),
        third_party(
            "bigPanda",
            Sig::NONE,
            &[
                prop("appKey", STR),
                prop("primaryProperty", STR),
                prop("secondaryProperty", STR),
            ],
        ),
        third_party(
            "discord",
            Sig::NONE,
            &[
                prop("workspace", STR),
                prop("username", STR),
                prop("avatarURL", STR),
                prop("embedTitle", STR),
                prop("timestamp", Sig::exact(&[("timestamp", Arg::Bool)])),
            ],
        ),
        third_party(
            "email",
            Sig::variadic("to", Arg::Str),
            &[prop("to", Sig::variadic("to", Arg::Str))],
        ),
        third_party(
            "hipChat",
            Sig::NONE,
            &[prop("room", STR), prop("token", STR)],
        ),
        third_party(
            "kafka",
            Sig::NONE,
            &[
                prop("cluster", STR),
                prop("kafkaTopic", STR),
                prop("template", STR),
            ],
        ),
        third_party(
            "mqtt",
            Sig::exact(&[("topic", Arg::Str)]),
            &[
                prop("brokerName", STR),
                prop("qos", Sig::exact(&[("qos", Arg::Int)])),
                prop("retained", Sig::exact(&[("retained", Arg::Bool)])),
            ],
        ),
        third_party("opsGenie", Sig::NONE, OPSGENIE),
        third_party("opsGenie2", Sig::NONE, OPSGENIE2),
        third_party("pagerDuty", Sig::NONE, &[prop("serviceKey", STR)]),
        third_party(
            "pagerDuty2",
            Sig::NONE,
            &[
                prop("routingKey", STR),
                prop(
                    "link",
                    Sig {
                        params: &[("href", Arg::Str), ("text", Arg::Str)],
                        required: 1,
                        rest: None,
                    },
                ),
            ],
        ),
        // Kapacitor capitalizes the first letter of a property name, so `uRL` and `URL` are one.
        third_party(
            "pushover",
            Sig::NONE,
            &[
                prop("userKey", STR),
                prop("device", STR),
                prop("title", STR),
                prop("uRL", STR),
                prop("URL", STR),
                prop("uRLTitle", STR),
                prop("URLTitle", STR),
                prop("sound", STR),
            ],
        ),
        third_party(
            "sensu",
            Sig::NONE,
            &[
                prop("source", STR),
                prop("handlers", Sig::variadic("handler", Arg::Str)),
                prop(
                    "metadata",
                    Sig::exact(&[("key", Arg::Str), ("value", Arg::Any)]),
                ),
            ],
        ),
        third_party(
            "serviceNow",
            Sig::NONE,
            &[
                prop("source", STR),
                prop("node", STR),
                prop("type", STR),
                prop("resource", STR),
                prop("metricName", STR),
                prop("messageKey", STR),
                prop(
                    "additionalInfo",
                    Sig::exact(&[("key", Arg::Str), ("value", Arg::Any)]),
                ),
            ],
        ),
        third_party(
            "slack",
            Sig::NONE,
            &[
                prop("workspace", STR),
                prop("channel", STR),
                prop("username", STR),
                prop("iconEmoji", STR),
            ],
        ),
        third_party(
            "snmpTrap",
            Sig::exact(&[("trapOid", Arg::Str)]),
            &[prop(
                "data",
                Sig::exact(&[("oid", Arg::Str), ("type", Arg::Str), ("value", Arg::Str)]),
            )],
        ),
        third_party("talk", Sig::NONE, &[]),
        third_party("teams", Sig::NONE, &[prop("channelURL", STR)]),
        third_party(
            "telegram",
            Sig::NONE,
            &[
                prop("chatId", STR),
                prop("parseMode", STR),
                prop("disableWebPagePreview", Sig::NONE),
                prop("disableNotification", Sig::NONE),
            ],
        ),
        third_party("victorOps", Sig::NONE, &[prop("routingKey", STR)]),
        third_party(
            "zenoss",
            Sig::NONE,
            &[
                prop("action", STR),
                prop("method", STR),
                prop("type", STR),
                prop("tid", Sig::exact(&[("tid", Arg::Int)])),
                prop("collector", STR),
                prop(
                    "customField",
                    Sig::exact(&[("key", Arg::Str), ("value", Arg::Any)]),
                ),
            ],
        ),
    ],
    wants: Wants::Any,
    provides: Provides::Fixed(EdgeType::Stream),
    chains: Chains::Common,
    build,
};

const OPSGENIE: &[crate::schema::Prop] = &[
    prop("teams", Sig::variadic("team", Arg::Str)),
    prop("recipients", Sig::variadic("recipient", Arg::Str)),
];

const OPSGENIE2: &[crate::schema::Prop] = &[
    prop("teams", Sig::variadic("team", Arg::Str)),
    prop("recipients", Sig::variadic("recipient", Arg::Str)),
    prop("recoveryAction", STR),
];

const fn third_party(
    name: &'static str,
    sig: Sig,
    props: &'static [crate::schema::Prop],
) -> Handler {
    Handler { name, sig, props }
}

/// The handlers weir delivers to without a config section.
const DELIVERED: &[&str] = &["log", "post", "tcp", "exec"];

/// The service kinds the daemon sends to when their section is configured.
pub const SENT: &[&str] = &[
    "alerta",
    "discord",
    "hipchat",
    "opsgenie",
    "opsgenie2",
    "pagerduty",
    "pagerduty2",
    "pushover",
    "sensu",
    "servicenow",
    "slack",
    "talk",
    "teams",
    "telegram",
    "victorops",
];

fn build(node: &mut NodeBuild<'_>) -> Option<NodeSpec> {
    let code = crate::codes::INVALID_PROPERTY;
    let history = node.int("history").unwrap_or(21);
    if history < 2 {
        let span = node.span_of("history");
        node.error(
            code,
            format!("alert history must be at least 2, got {history}"),
            span,
        );
        return None;
    }
    let flapping = match node
        .last("flapping")
        .map(|call| (call.args.first(), call.args.get(1)))
    {
        Some((Some((ArgValue::Float(low), _)), Some((ArgValue::Float(high), _)))) => {
            let (low, high) = (*low, *high);
            if !(0.0..=1.0).contains(&low) || !(0.0..=1.0).contains(&high) || low >= high {
                let span = node.span_of("flapping");
                node.error(code, format!("flapping thresholds must satisfy 0.0 <= low < high <= 1.0, got {low} and {high}"), span);
                return None;
            }
            Some((low, high))
        }
        _ => None,
    };
    let state_changes_only = node
        .last("stateChangesOnly")
        .map(|call| match call.args.first() {
            Some((ArgValue::Duration(interval), _)) => Some(*interval),
            _ => None,
        });
    let mut handlers = Vec::new();
    let mut errors = Vec::new();
    for handler in &node.handlers {
        let strings: Vec<String> = handler
            .call
            .args
            .iter()
            .filter_map(|(value, _)| value.as_str().map(str::to_owned))
            .collect();
        let prop = |name: &str| handler.props.iter().rev().find(|call| call.name == name);
        match handler.call.name {
            "log" => handlers.push(AlertHandler::Log {
                path: strings.first().cloned().unwrap_or_default(),
            }),
            "tcp" => handlers.push(AlertHandler::Tcp {
                address: strings.first().cloned().unwrap_or_default(),
            }),
            "exec" => handlers.push(AlertHandler::Exec { command: strings }),
            "post" => {
                if strings.is_empty() {
                    // `.post().endpoint('name')`: a `[[httppost]]` section of the daemon's.
                    if let Some(ArgValue::Str(endpoint)) = prop("endpoint")
                        .and_then(|call| call.args.first())
                        .map(|a| &a.0)
                    {
                        let mut options = serde_json::Map::new();
                        options.insert("endpoint".into(), endpoint.clone().into());
                        let headers: serde_json::Map<String, serde_json::Value> = handler
                            .props
                            .iter()
                            .filter(|call| call.name == "header")
                            .filter_map(|call| match (call.args.first(), call.args.get(1)) {
                                (Some((ArgValue::Str(k), _)), Some((ArgValue::Str(v), _))) => {
                                    Some((k.clone(), v.clone().into()))
                                }
                                _ => None,
                            })
                            .collect();
                        if !headers.is_empty() {
                            options.insert("headers".into(), headers.into());
                        }
                        handlers.push(AlertHandler::Service {
                            kind: "httppost".into(),
                            options,
                        });
                        continue;
                    }
                    errors.push((
                        handler.call.span,
                        "alert .post() needs a URL or an .endpoint()".to_owned(),
                    ));
                    continue;
                }
                let headers = handler
                    .props
                    .iter()
                    .filter(|call| call.name == "header")
                    .filter_map(|call| match (call.args.first(), call.args.get(1)) {
                        (Some((ArgValue::Str(key), _)), Some((ArgValue::Str(value), _))) => {
                            Some((key.clone(), value.clone()))
                        }
                        _ => None,
                    })
                    .collect::<Vec<_>>();
                let timeout = prop("timeout").and_then(|call| match call.args.first() {
                    Some((ArgValue::Duration(timeout), _)) => Some(*timeout),
                    _ => None,
                });
                for url in strings {
                    handlers.push(AlertHandler::Post {
                        url,
                        headers: headers.clone(),
                        timeout,
                    });
                }
            }
            _ => handlers.extend(service_handler(handler)),
        }
    }
    let third_party: Vec<_> = node
        .handlers
        .iter()
        .filter(|handler| !DELIVERED.contains(&handler.call.name))
        .filter_map(|handler| {
            Some((
                handler.call.span,
                handler.call.name,
                service_kind(handler.call.name)?,
            ))
        })
        .collect();
    for (span, name, kind) in third_party {
        let (message, note) = match node.services {
            Some(services) if services.iter().any(|s| s == kind) => continue,
            Some(_) if !SENT.contains(&kind) => (
                format!(
                    "weir does not send `.{name}()` alerts yet: the handler is accepted and ignored"
                ),
                format!(
                    "weir sends to .log, .post, .tcp, .exec and the services {}",
                    SENT.join(", ")
                ),
            ),
            Some(_) => (
                format!("`.{name}()` is not configured: add a [{kind}] section"),
                format!(
                    "without an enabled [{kind}] section in weir's config, these alerts are not sent"
                ),
            ),
            None => (
                format!(
                    "`.{name}()` alerts are sent only when the daemon's config has an enabled [{kind}] section"
                ),
                format!(
                    "weir sends to .log, .post, .tcp, .exec and the services {}",
                    SENT.join(", ")
                ),
            ),
        };
        node.diagnostics.push(
            crate::Diagnostic::warning(crate::codes::UNSUPPORTED_HANDLER, message, span)
                .with_note(note),
        );
    }
    let ignored: Vec<_> = node
        .handlers
        .iter()
        .flat_map(|handler| {
            // `.endpoint()` picks a `[[httppost]]` section only when `.post()` has no URL.
            let has_url = !handler.call.args.is_empty();
            handler.props.iter().filter(move |call| {
                matches!(
                    call.name,
                    "mode" | "captureResponse" | "skipSSLVerification"
                ) || (call.name == "endpoint" && has_url)
            })
        })
        .map(|call| (call.span, call.name))
        .collect();
    for (span, name) in ignored {
        node.diagnostics.push(crate::Diagnostic::warning(
            crate::codes::IGNORED_PROPERTY,
            format!("`.{name}()` is accepted and ignored by weir's alert handlers"),
            span,
        ));
    }
    node.ignored(
        "category",
        "weir has no alert inhibition, so categories have no effect",
    );
    node.ignored("inhibit", "weir has no alert inhibition");
    for (span, message) in errors {
        node.error(crate::codes::MISSING_PROPERTY, message, span);
    }
    Some(NodeSpec::Alert(AlertSpec {
        id: node.string("id"),
        message: node.string("message"),
        details: node.string("details"),
        info: node.lambda("info"),
        warn: node.lambda("warn"),
        crit: node.lambda("crit"),
        info_reset: node.lambda("infoReset"),
        warn_reset: node.lambda("warnReset"),
        crit_reset: node.lambda("critReset"),
        state_changes_only,
        flapping,
        history,
        no_recoveries: node.flag("noRecoveries"),
        persist: node.flag("persist"),
        all: node.flag("all"),
        level_tag: node.string("levelTag"),
        level_field: node.string("levelField"),
        id_tag: node.string("idTag"),
        id_field: node.string("idField"),
        message_field: node.string("messageField"),
        duration_field: node.string("durationField"),
        topic: node.string("topic"),
        handlers,
        quiet: node.flag("quiet"),
    }))
}
