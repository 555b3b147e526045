//! Config loading tests: Kapacitor keys, unknown keys, positions, validation, env overrides.

use std::collections::BTreeMap;

use super::*;

fn parse_ok(text: &str) -> Loaded {
    match parse(text, "weir.toml", &BTreeMap::new()) {
        Ok(loaded) => loaded,
        Err(errors) => panic!("config rejected: {errors}"),
    }
}

#[test]
fn embedded_default_is_valid_and_warning_free() {
    let loaded = parse_ok(EMBEDDED_DEFAULT);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.config.http.bind_address, "127.0.0.1:9092");
    assert_eq!(loaded.config.scraper.len(), 1);
    assert_eq!(loaded.config.static_discovery.len(), 1);
}

#[test]
fn reference_parses_back_and_its_defaults_are_the_parsers() {
    let printed = render(false).unwrap();
    let loaded = parse_ok(&printed);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.config, parse_ok("").config, "defaults differ");
    assert!(
        printed.contains("\n  bind-address = \":9092\"\n"),
        "{printed}"
    );
    assert!(
        printed.contains("#   failures-before-open = 3\n"),
        "{printed}"
    );
    // With every array section and example live, the parser accepts every printed key.
    let live = render(true).unwrap();
    let config: Config = toml::from_str(&live).unwrap_or_else(|e| panic!("{e}\n{live}"));
    assert_eq!(config.scraper[0].relabel_configs.len(), 1);
    assert_eq!(config.scraper[0].metric_relabel_configs.len(), 1);
    assert_eq!(config.http.users.len(), 1);
}

/// docs/config.toml, which the README links to, is what `weir config` prints (bless it with
/// `UPDATE_EXPECT=1`).
#[test]
fn committed_reference_is_current() {
    if !cfg!(all(feature = "kubernetes", feature = "ec2")) {
        return; // the committed file lists the sections of the default features
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/config.toml");
    let printed = render(false).unwrap();
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(path, &printed).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == printed,
        "{path} is stale: run with UPDATE_EXPECT=1"
    );
}

/// The field names serde's derive hands to `deserialize_struct` for `T`.
fn fields<'de, T: Deserialize<'de>>() -> Vec<&'static str> {
    use serde::de::{Error as _, Visitor, value::Error};
    struct Tracer<'a>(&'a mut Vec<&'static str>);
    impl<'de> serde::Deserializer<'de> for Tracer<'_> {
        type Error = Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
            Err(Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Error> {
            self.0.extend(fields);
            Err(Error::custom("traced"))
        }
        serde::forward_to_deserialize_any! { bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32
        f64 char str string bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any }
    }
    let mut names = Vec::new();
    let _ = T::deserialize(Tracer(&mut names));
    names
}

#[test]
fn reference_lists_every_section_and_key_of_the_parser() {
    use weir_discoverers as d;
    let relabel = fields::<weir_engine::relabel::RelabelConfig>;
    let mut types = vec![
        ("", fields::<Config>()),
        ("http", fields::<HttpConfig>()),
        ("http.users", fields::<UserConfig>()),
        ("exec", fields::<ExecConfig>()),
        ("ingress", fields::<IngressConfig>()),
        ("logging", fields::<LoggingConfig>()),
        ("load", fields::<LoadConfig>()),
        ("remote", fields::<crate::remote::RemoteConfig>()),
        ("task", fields::<TaskEntry>()),
        ("ci", fields::<crate::ci::CiConfig>()),
        ("files", fields::<FileSinkConfig>()),
        ("influxdb", fields::<weir_sinks::InfluxDbConfig>()),
        ("scraper", fields::<weir_scrapers::ScraperConfig>()),
        ("scraper.health", fields::<weir_scrapers::HealthConfig>()),
        ("scraper.relabel-configs", relabel()),
        ("scraper.metric-relabel-configs", relabel()),
        (
            "prometheus",
            fields::<weir_scrapers::batch::PrometheusConfig>(),
        ),
        (
            "static-discovery",
            fields::<d::static_discovery::StaticConfig>(),
        ),
        ("file-discovery", fields::<d::file::FileConfig>()),
        ("dns", fields::<d::DnsConfig>()),
        ("consul", fields::<d::ConsulConfig>()),
        (
            "http-discovery",
            fields::<d::http_discovery::HttpDiscoveryConfig>(),
        ),
        ("marathon", fields::<d::marathon::MarathonConfig>()),
        ("triton", fields::<d::triton::TritonConfig>()),
        ("nerve", fields::<d::nerve::NerveConfig>()),
        ("serverset", fields::<d::serverset::ServersetConfig>()),
        ("azure", fields::<d::azure::AzureConfig>()),
        ("gce", fields::<d::gce::GceConfig>()),
        ("alerta", fields::<crate::services::alerta::Config>()),
        ("discord", fields::<crate::services::discord::Config>()),
        ("hipchat", fields::<crate::services::hipchat::Config>()),
        ("httppost", fields::<crate::services::httppost::Config>()),
        ("opsgenie", fields::<crate::services::opsgenie::Config>()),
        ("opsgenie2", fields::<crate::services::opsgenie2::Config>()),
        ("pagerduty", fields::<crate::services::pagerduty::Config>()),
        (
            "pagerduty2",
            fields::<crate::services::pagerduty2::Config>(),
        ),
        ("pushover", fields::<crate::services::pushover::Config>()),
        ("sensu", fields::<crate::services::sensu::Config>()),
        (
            "servicenow",
            fields::<crate::services::servicenow::Config>(),
        ),
        ("slack", fields::<crate::services::slack::Config>()),
        ("talk", fields::<crate::services::talk::Config>()),
        ("teams", fields::<crate::services::teams::Config>()),
        ("telegram", fields::<crate::services::telegram::Config>()),
        ("victorops", fields::<crate::services::victorops::Config>()),
    ];
    #[cfg(feature = "kubernetes")]
    types.push(("kubernetes", fields::<d::kubernetes::KubernetesConfig>()));
    #[cfg(feature = "ec2")]
    types.extend([
        ("ec2", fields::<d::ec2::Ec2Config>()),
        ("ec2.filters", fields::<d::ec2::Ec2Filter>()),
    ]);
    let sections = keys::sections();
    let paths: Vec<&str> = sections.iter().map(|s| s.path).collect();
    assert_eq!(paths, types.iter().map(|t| t.0).collect::<Vec<_>>());
    for (section, (path, fields)) in sections.iter().zip(&types) {
        let mut listed: Vec<&str> = section.keys.iter().map(|k| k.name).collect();
        let children: Vec<(&str, &str)> = sections
            .iter()
            .filter_map(|s| {
                let rest = s.path.strip_prefix(*path)?;
                let rest = if path.is_empty() {
                    rest
                } else {
                    rest.strip_prefix('.')?
                };
                (!rest.is_empty() && !rest.contains('.')).then_some((rest, s.comment))
            })
            .collect();
        listed.extend(children.iter().map(|c| c.0));
        // Aliases the parser also accepts, named in the comments as "(alias NAME)".
        let comments = section.keys.iter().map(|k| k.comment);
        let comments = comments.chain(children.iter().map(|c| c.1));
        listed.extend(comments.filter_map(|c| c.split("(alias ").nth(1)?.split(')').next()));
        listed.sort_unstable();
        listed.dedup();
        let (mut listed, mut fields) = (listed, fields.clone());
        listed.sort_unstable();
        fields.sort_unstable();
        assert_eq!(listed, fields, "[{path}]");
    }
}

#[test]
fn every_key_has_an_environment_override() {
    for section in keys::sections() {
        let mut prefix = Vec::new();
        for segment in section.path.split('.').filter(|s| !s.is_empty()) {
            prefix.push(segment.to_owned());
            if keys::sections()
                .iter()
                .any(|s| s.array && s.path == prefix.join("."))
            {
                prefix.push("0".to_owned());
            }
        }
        if section.array && section.path.contains('.') {
            continue; // a list inside an element is set whole, as its parent's key
        }
        for key in &section.keys {
            let mut path = prefix.clone();
            path.push(key.name.to_owned());
            let rest = path.join("_").replace('-', "_");
            let steps = keys::resolve_env(&rest).unwrap_or_else(|| panic!("WEIR_{rest}"));
            let resolved: Vec<String> = steps
                .iter()
                .map(|step| match step {
                    keys::Step::Key(key) => key.clone(),
                    keys::Step::Index(index) => index.to_string(),
                })
                .collect();
            assert_eq!(resolved, path, "WEIR_{}", rest.to_ascii_uppercase());
        }
    }
}

#[test]
fn kapacitor_keys_are_read() {
    let loaded = parse_ok(
        r#"
hostname = "box"
data_dir = "/var/lib/weir"
[http]
  bind-address = ":9999"
[[static-discovery]]
  id = "local"
  targets = ["127.0.0.1:9100"]
  labels = { env = "test" }
[[scraper]]
  enabled = true
  name = "node"
  db = "prom"
  rp = "autogen"
  scrape-interval = "1m0s"
  scrape-timeout = "10s"
  metrics-path = "/metrics"
  discoverer-id = "local"
  discoverer-service = "static-discovery"
[[influxdb]]
  name = "main"
  enabled = true
  default = true
  urls = ["http://127.0.0.1:8086"]
[[task]]
  id = "cpu"
  path = "cpu.tick"
  dbrps = ["prom.autogen"]
"#,
    );
    let config = loaded.config;
    assert_eq!(config.hostname, "box");
    assert_eq!(config.data_dir, PathBuf::from("/var/lib/weir"));
    assert_eq!(config.http.bind_address, ":9999");
    assert_eq!(config.scraper[0].name, "node");
    assert_eq!(config.influxdb[0].name, "main");
    assert_eq!(config.task[0].dbrps, vec!["prom.autogen"]);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn unknown_keys_warn_with_position_and_suggestion() {
    let loaded = parse_ok("[http]\nbind-adress = \":1\"\n\n[collectd]\nurl = \"x\"\n");
    let messages: Vec<_> = loaded.warnings.iter().map(|w| w.message.clone()).collect();
    assert!(
        messages.iter().any(
            |m| m.starts_with("weir.toml:2:1: unknown key `bind-adress`")
                && m.contains("did you mean `bind-address`?")
        ),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("unknown section `collectd`")),
        "{messages:?}"
    );
    assert_eq!(loaded.config.http.bind_address, DEFAULT_BIND_ADDRESS);
}

#[test]
fn typos_that_change_what_is_collected_are_errors() {
    let text = "[[scraper]]\nname = \"n\"\ndb = \"d\"\nrp = \"r\"\nscrape-intervall = \"5s\"\n\
        [[consul]]\nid = \"c\"\nservice = [\"web\"]\n[scraper.health]\nopen-durration = \"1s\"\n";
    let errors = parse(text, "weir.toml", &BTreeMap::new())
        .unwrap_err()
        .errors;
    let expected = [
        "weir.toml:5:1: unknown key `scrape-intervall` in [[scraper]]; did you mean `scrape-interval`?",
        "weir.toml:8:1: unknown key `service` in [[consul]]; did you mean `services`?",
        "weir.toml:10:1: unknown key `open-durration` in [scraper.health]; did you mean `open-duration`?",
    ];
    assert_eq!(errors, expected);
    let text = "[[scraper]]\nname = \"n\"\ndb = \"d\"\nrp = \"r\"\n\
        relabel_configs = [{ source_labels = [\"a\"], target_lable = \"b\" }]\n";
    let errors = parse(text, "weir.toml", &BTreeMap::new())
        .unwrap_err()
        .errors;
    let expected =
        "weir.toml:5:45: unknown key `target_lable` in [[scraper]]; did you mean `target_label`?";
    assert_eq!(errors, [expected]);
    // Prometheus' spellings of the relabelling keys are the same keys.
    let loaded = parse_ok(
        "[[scraper]]\nname = \"n\"\ndb = \"d\"\nrp = \"r\"\nenabled = true\n\
         relabel_configs = [{ source_labels = [\"a\"], target_label = \"b\" }]\n\
         [[scraper.metric_relabel_configs]]\nsource-labels = [\"x\"]\naction = \"drop\"\n",
    );
    assert_eq!(
        loaded.config.scraper[0].relabel_configs[0].target_label,
        "b"
    );
    assert_eq!(loaded.config.scraper[0].metric_relabel_configs.len(), 1);
}

#[test]
fn disabled_scrapers_are_pointed_out() {
    let loaded = parse_ok("[[scraper]]\nname = \"x\"\ndb = \"d\"\nrp = \"r\"\n");
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.message.contains("add `enabled = true`")),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn syntax_errors_name_line_and_column() {
    let errors = parse("[http]\nbind-address = \n", "weir.toml", &BTreeMap::new()).unwrap_err();
    assert!(errors.errors[0].starts_with("weir.toml:2:"), "{errors}");
}

#[test]
fn type_errors_name_line_and_column() {
    let errors = parse(
        "[http]\nauth-enabled = \"yes\"\n",
        "weir.toml",
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert!(errors.errors[0].starts_with("weir.toml:2:"), "{errors}");
}

#[test]
fn semantic_errors_are_all_reported() {
    let errors = parse(
        "[logging]\nlevel = \"LOUD\"\n[[task]]\nid = \"a\"\npath = \"a.tick\"\ndbrps = [\"nodot\"]\n",
        "weir.toml",
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert_eq!(errors.errors.len(), 2, "{errors}");
}

#[test]
fn environment_overrides_apply() {
    let mut env = BTreeMap::new();
    env.insert(
        "WEIR_HTTP_BIND_ADDRESS".to_owned(),
        "127.0.0.1:7".to_owned(),
    );
    let loaded = parse("", "weir.toml", &env).unwrap();
    assert_eq!(loaded.config.http.bind_address, "127.0.0.1:7");
}

#[test]
fn unrelated_environment_variables_are_ignored() {
    let mut env = BTreeMap::new();
    env.insert("WEIR_ADDR".to_owned(), "127.0.0.1:1".to_owned());
    env.insert("WEIR_HTTP_AUTH_ENABLED".to_owned(), "maybe".to_owned());
    let errors = parse("", "weir.toml", &env).unwrap_err();
    assert!(
        errors.errors[0].contains("WEIR_HTTP_AUTH_ENABLED"),
        "{errors}"
    );
    env.remove("WEIR_HTTP_AUTH_ENABLED");
    let loaded = parse("", "weir.toml", &env).unwrap();
    assert!(
        loaded.warnings[0].message.contains("WEIR_ADDR"),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn dbrps_split_at_the_first_dot() {
    assert_eq!(
        parse_dbrp("db.rp"),
        Some(("db".to_owned(), "rp".to_owned()))
    );
    assert_eq!(
        parse_dbrp("\"db\".\"rp\""),
        Some(("db".to_owned(), "rp".to_owned()))
    );
    assert_eq!(parse_dbrp("db"), None);
}

#[test]
fn prometheus_sources_are_validated_together() {
    let text = "[[prometheus]]\nname = \"p\"\nurl = \"http://127.0.0.1:9090\"\ndefault = true\n\
        [[prometheus]]\nname = \"p\"\nurl = \"ftp://x\"\ndefault = true\ntimeout = \"0s\"\n";
    let errors = parse(text, "weir.toml", &BTreeMap::new()).unwrap_err();
    let text_of = errors.to_string();
    assert_eq!(errors.errors.len(), 4, "{text_of}");
    assert!(
        text_of.contains("[prometheus] \"p\": url \"ftp://x\" must be http or https"),
        "{text_of}"
    );
    assert!(
        text_of.contains("[prometheus] duplicate name \"p\""),
        "{text_of}"
    );
    assert!(
        text_of.contains("more than one source has default = true"),
        "{text_of}"
    );
    let loaded = parse(
        "[[prometheus]]\nname = \"p\"\nurl = \"http://127.0.0.1:9090\"\napi-key = \"k\"\n",
        "weir.toml",
        &BTreeMap::new(),
    )
    .unwrap();
    assert_eq!(
        loaded.config.prometheus[0].timeout,
        std::time::Duration::from_secs(10)
    );
    assert!(
        !format!("{:?}", loaded.config.prometheus[0]).contains("\"k\""),
        "the key is redacted"
    );
}

/// Issue 18: a section weir does not implement is never skipped silently.
#[test]
fn unsupported_sections_warn_when_disabled_and_fail_when_enabled() {
    // As Kapacitor's generated config lists them: disabled services, and the three it enables.
    let loaded = parse_ok(
        "[collectd]\n  enabled = false\n  bind-address = \":25826\"\n\
         [opentsdb]\n  enabled = false\n\
         [[udp]]\n  enabled = false\n  bind-address = \":9100\"\n\
         [stats]\n  enabled = true\n  stats-interval = \"10s\"\n\
         [reporting]\n  enabled = true\n\
         [config-override]\n  enabled = true\n\
         [http]\n  bind-address = \":9999\"\n",
    );
    let messages: Vec<&str> = loaded.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(messages.len(), 6, "{messages:#?}");
    let has = |text: &str| messages.iter().any(|m| m.contains(text));
    assert!(
        messages.contains(
            &"weir.toml:1:2: section [collectd] is not supported by weir (disabled, ignored)"
        ),
        "{messages:#?}"
    );
    assert!(has("section [opentsdb] is not supported by weir (disabled"));
    assert!(has("section [[udp]] is not supported by weir (disabled"));
    assert!(has(
        "[stats] is not supported by weir (ignored): weir serves"
    ));
    assert!(has(
        "[reporting] is not supported by weir (ignored): weir never reports"
    ));
    assert!(has("[config-override] is not supported by weir (ignored)"));
    assert!(messages.iter().all(|m| !m.contains('\n')));
    assert_eq!(loaded.config.http.bind_address, ":9999");

    // Enabled: every one is an error, with a suggestion or the supported sections.
    let errors = parse(
        "[[consull]]\n  enabled = true\n  id = \"c\"\n[[kafka]]\n  enabled = true\n  id = \"k\"\n",
        "weir.toml",
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert_eq!(errors.errors.len(), 2, "{errors}");
    assert!(
        errors.errors[0].starts_with(
            "weir.toml:1:3: section [[consull]] is enabled but weir does not support it"
        ) && errors.errors[0].ends_with("(did you mean `consul`?)"),
        "{errors}"
    );
    assert!(
        errors.errors[1].starts_with("weir.toml:4:3: section [[kafka]] is enabled")
            && errors.errors[1].contains("weir supports http, exec,")
            && errors.errors[1].contains("http-discovery"),
        "{errors}"
    );
}

/// Issue 18: the thirteen discoverer kinds load, are wired as scrapers' `discoverer-service`,
/// and `weir config` names every one of them.
#[test]
fn all_thirteen_discoverer_kinds_load() {
    let loaded = parse_ok(
        r#"
[[static-discovery]]
  id = "a"
  targets = ["127.0.0.1:9100"]
[[file-discovery]]
  id = "a"
  files = ["/tmp/sd/*.json"]
[[http-discovery]]
  id = "a"
  url = "http://127.0.0.1:8000/sd"
[[dns]]
  id = "a"
  record-names = ["_http._tcp.example"]
[[consul]]
  id = "a"
[[kubernetes]]
  id = "a"
  resource = "pod"
  api-servers = ["http://127.0.0.1:8001"]
[[ec2]]
  id = "a"
  region = "us-east-1"
[[azure]]
  id = "a"
  subscription-id = "s"
  tenant-id = "t"
  client-id = "c"
  client-secret = "x"
[[gce]]
  id = "a"
  project = "p"
  zone = "z"
[[marathon]]
  id = "a"
  servers = ["http://127.0.0.1:8080"]
[[nerve]]
  id = "a"
  servers = ["127.0.0.1:2181"]
  paths = ["/nerve"]
[[serverset]]
  id = "a"
  servers = ["127.0.0.1:2181"]
  paths = ["/aurora"]
[[triton]]
  id = "a"
  account = "a"
  dns-suffix = "d"
  endpoint = "e"
"#,
    );
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let sources = loaded.config.discovery_sources();
    assert_eq!(sources.len(), 13, "{sources:?}");
    for (service, id) in &sources {
        assert!(discoverer_exists(&loaded.config, service, id), "{service}");
        assert!(
            keys::sections()
                .iter()
                .any(|section| section.path == service),
            "`weir config` names [[{service}]]"
        );
    }
    loaded.config.discovery().validate().unwrap();
}
