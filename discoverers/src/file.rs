//! `[[file-discovery]]`: Prometheus file_sd files (JSON or YAML) matched by globs.
//!
//! The parent directories of the globs are watched (so atomic renames are seen) through
//! notify + notify-debouncer-full, and a change wakes the refresh loop within a second; the
//! `refresh-interval` is the fallback. A file that fails to parse keeps its last good targets,
//! and the error is reported with `file:line:column`.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify_debouncer_full::notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use weir_engine::discovery::ADDRESS_LABEL;
use weir_engine::relabel::is_valid_label_name;
use weir_engine::{DiscoverError, Discoverer, Labels, TargetGroup};

use crate::config::{ConfigError, Problems, SourceKind, default_true};
use crate::refresh::Source;

/// The label naming the file a target came from.
pub const FILEPATH_LABEL: &str = "__meta_filepath";

/// How long file events are gathered before the refresh loop is woken.
const DEBOUNCE: Duration = Duration::from_millis(150);

/// One `[[file-discovery]]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FileConfig {
    /// Whether the source runs (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The id scrapers name in `discoverer-id`.
    pub id: String,
    /// Glob patterns of files ending in `.json`, `.yml` or `.yaml`.
    #[serde(default)]
    pub files: Vec<String>,
    /// Re-read every file this often even without a change event (default 5m).
    #[serde(
        default = "default_refresh_interval",
        with = "weir_engine::duration::serde"
    )]
    pub refresh_interval: Duration,
}

fn default_refresh_interval() -> Duration {
    Duration::from_secs(300)
}

impl FileConfig {
    /// Check the globs.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut problems = Problems::new(SourceKind::File, &self.id);
        if self.files.is_empty() {
            problems.push("`files` must list at least one glob");
        }
        for pattern in &self.files {
            if !(pattern.ends_with(".json")
                || pattern.ends_with(".yml")
                || pattern.ends_with(".yaml"))
            {
                problems.push(format!(
                    "file pattern {pattern:?} must end in .json, .yml or .yaml"
                ));
            }
            if let Err(error) = glob::Pattern::new(pattern) {
                problems.push(format!("file pattern {pattern:?}: {error}"));
            }
        }
        if self.refresh_interval.is_zero() {
            problems.push("`refresh-interval` must be positive");
        }
        problems.finish()
    }
}

/// One target group as written in a file_sd file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGroup {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Reads the files matched by the globs.
pub struct FileDiscoverer {
    patterns: Vec<String>,
    last_good: BTreeMap<PathBuf, Vec<TargetGroup>>,
    warnings: Vec<String>,
    wake: Arc<Notify>,
    watcher: Option<Debouncer<RecommendedWatcher, RecommendedCache>>,
    watched: BTreeSet<PathBuf>,
}

impl FileDiscoverer {
    /// The discoverer of one section; watching starts with the first round.
    pub fn new(config: &FileConfig) -> FileDiscoverer {
        FileDiscoverer {
            patterns: config.files.clone(),
            last_good: BTreeMap::new(),
            warnings: Vec::new(),
            wake: Arc::new(Notify::new()),
            watcher: None,
            watched: BTreeSet::new(),
        }
    }

    /// Watch the parent directory of every glob that exists (retried each round).
    fn ensure_watching(&mut self) {
        if self.watcher.is_none() {
            let wake = self.wake.clone();
            let handler = move |result: DebounceEventResult| {
                // Reading the files ourselves produces access events: only changes count.
                let changed = result.is_ok_and(|events| {
                    events
                        .iter()
                        .any(|event| !matches!(event.kind, EventKind::Access(_)))
                });
                if changed {
                    wake.notify_one();
                }
            };
            match new_debouncer(DEBOUNCE, None, handler) {
                Ok(debouncer) => self.watcher = Some(debouncer),
                Err(error) => {
                    self.warnings
                        .push(format!("cannot watch files, polling only: {error}"));
                    return;
                }
            }
        }
        let Some(watcher) = self.watcher.as_mut() else {
            return;
        };
        for pattern in &self.patterns {
            let directory = watch_directory(pattern);
            if self.watched.contains(&directory) || !directory.is_dir() {
                continue;
            }
            match watcher.watch(&directory, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.watched.insert(directory);
                }
                Err(error) => self.warnings.push(format!(
                    "cannot watch {}, polling only: {error}",
                    directory.display()
                )),
            }
        }
    }

    fn read_all(&mut self) -> Vec<TargetGroup> {
        let mut seen = BTreeSet::new();
        for pattern in &self.patterns {
            let paths = match glob::glob(pattern) {
                Ok(paths) => paths,
                Err(error) => {
                    self.warnings
                        .push(format!("file pattern {pattern:?}: {error}"));
                    continue;
                }
            };
            for entry in paths {
                match entry {
                    Ok(path) if path.is_file() => {
                        seen.insert(path);
                    }
                    Ok(_) => {}
                    Err(error) => self
                        .warnings
                        .push(format!("file pattern {pattern:?}: {error}")),
                }
            }
        }
        self.last_good.retain(|path, _| seen.contains(path));
        for path in seen {
            match read_file(&path) {
                Ok(groups) => {
                    self.last_good.insert(path, groups);
                }
                // Removed between the glob and the read: it is gone.
                Err(FileError::Io(error)) if error.kind() == io::ErrorKind::NotFound => {
                    self.last_good.remove(&path);
                }
                Err(error) => self.warnings.push(error.to_string()),
            }
        }
        self.last_good.values().flatten().cloned().collect()
    }
}

impl Discoverer for FileDiscoverer {
    async fn discover(&mut self) -> Result<Vec<TargetGroup>, DiscoverError> {
        self.ensure_watching();
        Ok(self.read_all())
    }
}

impl Source for FileDiscoverer {
    fn take_warning(&mut self) -> Option<String> {
        if self.warnings.is_empty() {
            None
        } else {
            let joined = self.warnings.join("; ");
            self.warnings.clear();
            Some(joined)
        }
    }

    fn wake(&self) -> Option<Arc<Notify>> {
        Some(self.wake.clone())
    }
}

/// The deepest directory of a glob that has no glob characters.
fn watch_directory(pattern: &str) -> PathBuf {
    let mut directory = PathBuf::new();
    let path = Path::new(pattern);
    let mut components = path.components().peekable();
    while let Some(component) = components.next() {
        if components.peek().is_none() {
            break;
        }
        let text = component.as_os_str().to_string_lossy();
        if text.contains(['*', '?', '[', '{']) {
            break;
        }
        directory.push(component);
    }
    if directory.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        directory
    }
}

#[derive(Debug, thiserror::Error)]
enum FileError {
    #[error(transparent)]
    Io(io::Error),
    #[error("{0}")]
    Invalid(String),
}

/// Parse one file into target groups, each labelled with `__meta_filepath`.
fn read_file(path: &Path) -> Result<Vec<TargetGroup>, FileError> {
    let text = std::fs::read_to_string(path).map_err(FileError::Io)?;
    let display = path.display();
    let is_json = path
        .extension()
        .is_some_and(|extension| extension == "json");
    let groups: Vec<FileGroup> = if is_json {
        serde_json::from_str(&text).map_err(|error| {
            FileError::Invalid(format!(
                "{display}:{}:{}: {error}",
                error.line(),
                error.column()
            ))
        })?
    } else if text.trim().is_empty() {
        Vec::new()
    } else {
        serde_yaml_ng::from_str(&text).map_err(|error| match error.location() {
            Some(location) => FileError::Invalid(format!(
                "{display}:{}:{}: {error}",
                location.line(),
                location.column()
            )),
            None => FileError::Invalid(format!("{display}: {error}")),
        })?
    };
    let path_text = path.to_string_lossy().into_owned();
    let mut out = Vec::with_capacity(groups.len());
    for (idx, group) in groups.into_iter().enumerate() {
        if let Some(name) = group.labels.keys().find(|name| !is_valid_label_name(name)) {
            return Err(FileError::Invalid(format!(
                "{display}: group {idx}: {name:?} is not a valid label name"
            )));
        }
        let mut labels = group.labels;
        labels.insert(FILEPATH_LABEL.to_owned(), path_text.clone());
        let targets = group
            .targets
            .into_iter()
            .map(|target| Labels::from([(ADDRESS_LABEL.to_owned(), target)]))
            .collect();
        out.push(TargetGroup {
            source: format!("{path_text}:{idx}"),
            targets,
            labels,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(files: Vec<String>) -> FileConfig {
        FileConfig {
            enabled: true,
            id: "f".to_owned(),
            files,
            refresh_interval: default_refresh_interval(),
        }
    }

    #[tokio::test]
    async fn reads_json_and_yaml_with_filepath() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.json"),
            r#"[{"targets": ["127.0.0.1:19100"], "labels": {"env": "test"}}]"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("b.yml"),
            "- targets: ['127.0.0.1:18428']\n  labels:\n    __metrics_path__: /metrics\n",
        )
        .unwrap();
        let patterns = vec![
            format!("{}/*.json", dir.path().display()),
            format!("{}/*.yml", dir.path().display()),
        ];
        let mut discoverer = FileDiscoverer::new(&config(patterns));
        let groups = discoverer.discover().await.unwrap();
        assert_eq!(groups.len(), 2);
        let json_path = dir.path().join("a.json").to_string_lossy().into_owned();
        assert_eq!(groups[0].labels[FILEPATH_LABEL], json_path);
        assert_eq!(groups[0].labels["env"], "test");
        assert_eq!(groups[0].source, format!("{json_path}:0"));
        assert_eq!(groups[1].targets[0][ADDRESS_LABEL], "127.0.0.1:18428");
        assert_eq!(groups[1].labels["__metrics_path__"], "/metrics");
        assert!(discoverer.take_warning().is_none());
    }

    #[tokio::test]
    async fn malformed_file_keeps_last_good_and_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        std::fs::write(&path, r#"[{"targets": ["a:1"]}]"#).unwrap();
        let mut discoverer =
            FileDiscoverer::new(&config(vec![format!("{}/*.json", dir.path().display())]));
        assert_eq!(discoverer.discover().await.unwrap().len(), 1);
        std::fs::write(&path, "[\n  {\"targets\": [\"a:1\"],}\n]").unwrap();
        let groups = discoverer.discover().await.unwrap();
        assert_eq!(groups[0].targets[0][ADDRESS_LABEL], "a:1");
        let warning = discoverer.take_warning().unwrap();
        assert!(
            warning.contains(&format!("{}:2:", path.display())),
            "{warning}"
        );
        std::fs::remove_file(&path).unwrap();
        assert!(
            discoverer.discover().await.unwrap().is_empty(),
            "a removed file drops out"
        );
    }

    #[test]
    fn bad_label_name_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.yaml");
        std::fs::write(&path, "- targets: [a]\n  labels: {bad-name: x}\n").unwrap();
        let error = read_file(&path).unwrap_err().to_string();
        assert!(error.contains("not a valid label name"), "{error}");
    }

    #[test]
    fn validates_patterns() {
        let errors = config(vec!["/x/*.txt".to_owned(), "/x/[.json".to_owned()])
            .validate()
            .unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(config(Vec::new()).validate().is_err());
    }

    #[test]
    fn watch_directory_stops_at_glob_characters() {
        assert_eq!(watch_directory("/etc/sd/*.json"), PathBuf::from("/etc/sd"));
        assert_eq!(
            watch_directory("/etc/sd/nodes.json"),
            PathBuf::from("/etc/sd")
        );
        assert_eq!(watch_directory("/etc/*/x.json"), PathBuf::from("/etc"));
        assert_eq!(watch_directory("x.json"), PathBuf::from("."));
    }
}
