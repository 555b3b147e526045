//! What `[[nerve]]` and `[[serverset]]` share: their config (Kapacitor's `servers`, `paths`,
//! `timeout`) and a ZooKeeper reader that turns every node under the paths into a target.
//!
//! As Prometheus' tree cache: every node under each path (the path itself included, at any
//! depth) whose data parses as a member is one target group, its source the node's path; a
//! node that does not parse has no target. A persistent recursive watch on each path wakes the
//! refresh loop on any change; each round reads the whole tree again, so what is published is
//! always a complete, consistent set. A failed session is dropped and a new one made next
//! round.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use weir_engine::{DiscoverError, Discoverer, Labels, TargetGroup};
use zookeeper_client as zk;

use crate::config::{ConfigError, Problems, SourceKind, default_true, is_host_port};
use crate::refresh::Source;

/// One `[[nerve]]` or `[[serverset]]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ZookeeperConfig {
    /// Whether the source runs (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The id scrapers name in `discoverer-id`.
    pub id: String,
    /// ZooKeeper servers, `host:port`.
    #[serde(default)]
    pub servers: Vec<String>,
    /// The paths whose nodes are members; each must begin with `/`.
    #[serde(default)]
    pub paths: Vec<String>,
    /// The ZooKeeper session timeout (default 10s).
    #[serde(default = "default_timeout", with = "weir_engine::duration::serde")]
    pub timeout: Duration,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

impl ZookeeperConfig {
    /// Check the servers, paths and timeout of a section of kind `kind`.
    pub fn validate_as(&self, kind: SourceKind) -> Result<(), Vec<ConfigError>> {
        let mut problems = Problems::new(kind, &self.id);
        if self.servers.is_empty() {
            problems.push("`servers` must list at least one ZooKeeper server");
        }
        for server in &self.servers {
            if !is_host_port(server) {
                problems.push(format!("server {server:?} is not host:port"));
            }
        }
        if self.paths.is_empty() {
            problems.push("`paths` must list at least one path");
        }
        for path in &self.paths {
            if !path.starts_with('/') {
                problems.push(format!("path {path:?} must begin with '/'"));
            }
        }
        if self.timeout < Duration::from_secs(1) {
            problems.push("`timeout` must be at least 1s");
        }
        problems.finish()
    }
}

/// How the data of one member node becomes a target (`path` is the node's).
pub(crate) type ParseMember = fn(data: &[u8], path: &str) -> Option<Labels>;

/// A live session with a watch on every path.
struct Session {
    client: zk::Client,
    /// Set when the watch saw the session end.
    broken: Arc<AtomicBool>,
    watchers: Vec<JoinHandle<()>>,
}

impl Drop for Session {
    fn drop(&mut self) {
        for watcher in &self.watchers {
            watcher.abort();
        }
    }
}

/// Reads the members under the paths of one section.
pub struct ZookeeperDiscoverer {
    config: ZookeeperConfig,
    kind: SourceKind,
    parse: ParseMember,
    session: Option<Session>,
    wake: Arc<Notify>,
}

impl ZookeeperDiscoverer {
    pub(crate) fn new(
        config: &ZookeeperConfig,
        kind: SourceKind,
        parse: ParseMember,
    ) -> ZookeeperDiscoverer {
        ZookeeperDiscoverer {
            config: config.clone(),
            kind,
            parse,
            session: None,
            wake: Arc::new(Notify::new()),
        }
    }

    fn cluster(&self) -> String {
        self.config.servers.join(",")
    }

    async fn connect(&self) -> Result<Session, String> {
        let cluster = self.cluster();
        let client = zk::Client::connector()
            .with_session_timeout(self.config.timeout)
            .with_connection_timeout(self.config.timeout)
            .connect(&cluster)
            .await
            .map_err(|error| format!("zookeeper {cluster}: {error}"))?;
        let broken = Arc::new(AtomicBool::new(false));
        let mut watchers = Vec::new();
        for path in &self.config.paths {
            let mut watcher = client
                .watch(path, zk::AddWatchMode::PersistentRecursive)
                .await
                .map_err(|error| format!("zookeeper {cluster}: watch {path}: {error}"))?;
            let wake = self.wake.clone();
            let broken = broken.clone();
            watchers.push(tokio::spawn(async move {
                loop {
                    let event = watcher.changed().await;
                    if event.session_state.is_terminated() {
                        broken.store(true, Ordering::SeqCst);
                        wake.notify_one();
                        return;
                    }
                    wake.notify_one();
                }
            }));
        }
        Ok(Session {
            client,
            broken,
            watchers,
        })
    }

    /// Every member under `root` (depth first), as one group per node.
    async fn read_tree(
        &self,
        client: &zk::Client,
        root: &str,
        groups: &mut Vec<TargetGroup>,
    ) -> Result<(), String> {
        let cluster = self.cluster();
        let mut pending = vec![root.to_owned()];
        while let Some(path) = pending.pop() {
            let data = match client.get_data(&path).await {
                Ok((data, _)) => data,
                // Gone since its parent was listed (or the path does not exist yet).
                Err(zk::Error::NoNode) => continue,
                Err(error) => return Err(format!("zookeeper {cluster}: get {path}: {error}")),
            };
            if let Some(target) = (self.parse)(&data, &path) {
                groups.push(TargetGroup {
                    source: path.clone(),
                    targets: vec![target],
                    labels: Labels::new(),
                });
            }
            let children = match client.list_children(&path).await {
                Ok(children) => children,
                Err(zk::Error::NoNode) => continue,
                Err(error) => return Err(format!("zookeeper {cluster}: list {path}: {error}")),
            };
            for child in children.iter().rev() {
                let child_path = if path == "/" {
                    format!("/{child}")
                } else {
                    format!("{path}/{child}")
                };
                pending.push(child_path);
            }
        }
        Ok(())
    }
}

impl Discoverer for ZookeeperDiscoverer {
    async fn discover(&mut self) -> Result<Vec<TargetGroup>, DiscoverError> {
        if self
            .session
            .as_ref()
            .is_some_and(|session| session.broken.load(Ordering::SeqCst))
        {
            tracing::info!(kind = %self.kind, id = %self.config.id, "zookeeper session ended; reconnecting");
            self.session = None;
        }
        if self.session.is_none() {
            self.session = Some(self.connect().await.map_err(DiscoverError::Peer)?);
        }
        let Some(session) = self.session.as_ref() else {
            return Err(DiscoverError::Peer("zookeeper: no session".to_owned()));
        };
        let client = session.client.clone();
        let mut groups = Vec::new();
        for path in &self.config.paths {
            if let Err(error) = self.read_tree(&client, path, &mut groups).await {
                self.session = None;
                return Err(DiscoverError::Peer(error));
            }
        }
        groups.sort_by(|a, b| a.source.cmp(&b.source));
        groups.dedup_by(|a, b| a.source == b.source);
        Ok(groups)
    }
}

impl Source for ZookeeperDiscoverer {
    fn wake(&self) -> Option<Arc<Notify>> {
        Some(self.wake.clone())
    }
}

/// Go's `net.JoinHostPort` with a decimal port.
pub(crate) fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let config: ZookeeperConfig = toml::from_str(
            "id = \"z\"\nservers = [\"127.0.0.1:2181\", \"zk\"]\npaths = [\"/ok\", \"rel\"]",
        )
        .unwrap();
        assert_eq!(config.timeout, Duration::from_secs(10));
        let errors = config.validate_as(SourceKind::Nerve).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0]
                .to_string()
                .starts_with("[[nerve]] id \"z\": server \"zk\"")
        );
        assert!(errors[1].message.contains("\"rel\" must begin with '/'"));
        let empty: ZookeeperConfig = toml::from_str("id = \"z\"").unwrap();
        assert_eq!(
            empty.validate_as(SourceKind::Serverset).unwrap_err().len(),
            2
        );
        assert_eq!(join_host_port("::1", 80), "[::1]:80");
    }
}
