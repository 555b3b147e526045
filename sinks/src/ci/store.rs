//! The CI store: current items, change history and relationships in SQLite, with the
//! indexes the API's questions need ("what changed in the last hour", "what runs on node X").

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::diff::{deletion, diff};
use super::extract::host_of;
use super::model::{Change, ChangeKind, CiKey, CiState, Observation, Relation};

/// Store errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CiStoreError {
    /// SQLite failed.
    #[error("ci store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored record could not be decoded.
    #[error("ci store: bad record {id}: {reason}")]
    Corrupt {
        /// Which record.
        id: String,
        /// Why.
        reason: String,
    },
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cis (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    state TEXT NOT NULL,
    seen INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS cis_source ON cis (source);
CREATE INDEX IF NOT EXISTS cis_kind_key ON cis (kind, key);
CREATE TABLE IF NOT EXISTS ci_relations (
    from_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_key TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ci_relations_from ON ci_relations (from_id);
CREATE INDEX IF NOT EXISTS ci_relations_target ON ci_relations (target_kind, target_key);
CREATE TABLE IF NOT EXISTS ci_addresses (
    ci_id TEXT NOT NULL,
    address TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ci_addresses_address ON ci_addresses (address);
CREATE INDEX IF NOT EXISTS ci_addresses_ci ON ci_addresses (ci_id);
CREATE TABLE IF NOT EXISTS ci_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time INTEGER NOT NULL,
    ci_id TEXT NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    change TEXT NOT NULL,
    diffs TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ci_changes_time ON ci_changes (time);
CREATE INDEX IF NOT EXISTS ci_changes_ci ON ci_changes (ci_id, time);
CREATE TABLE IF NOT EXISTS ci_sources (
    source TEXT PRIMARY KEY,
    seen INTEGER NOT NULL
);
";

/// Added after the first release of the store: a digest of what a source says about a CI,
/// so an unchanged item is recognised without decoding its stored state.
const FINGERPRINT_COLUMN: &str = "ALTER TABLE cis ADD COLUMN fingerprint TEXT NOT NULL DEFAULT ''";

/// Page cache per connection (KiB, SQLite's negative form): a full collection of 100,000
/// items touches every page of the items table. SQLite fills it only as pages are used.
const CACHE_SIZE_KIB: i64 = 64 * 1024;

/// The store.
pub struct CiStore {
    connection: Connection,
}

/// Filters of `list`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct CiQuery {
    /// Exact kind.
    pub kind: Option<String>,
    /// Exact source (`kubernetes/prod`) or its service prefix (`kubernetes`).
    pub source: Option<String>,
    /// Substring of the key or of any attribute value.
    pub q: Option<String>,
    /// Only CIs with a relationship to this CI, given as `kind:key` (what runs on node X:
    /// `kubernetes.node:X`).
    pub related: Option<String>,
    /// Only relationships of this kind (`runs-on`), with `related`.
    pub relation: Option<String>,
    /// At most this many (default 1000).
    pub limit: Option<usize>,
}

/// Filters of `changes`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ChangeQuery {
    /// From this time (ns), inclusive.
    pub since: Option<i64>,
    /// Until this time (ns), exclusive.
    pub until: Option<i64>,
    /// Kind of CI.
    pub kind: Option<String>,
    /// Source or service prefix.
    pub source: Option<String>,
    /// One CI id.
    pub ci: Option<String>,
    /// Page size (default 100).
    pub limit: Option<usize>,
    /// Skip this many.
    pub offset: Option<usize>,
}

/// A CI with its relationships both ways, for `GET /weir/v1/cis/:id`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CiDetail {
    /// Its id.
    pub id: String,
    /// Stored state.
    #[serde(flatten)]
    pub state: CiState,
    /// Relationships to other CIs (`kind`, `target` id when known).
    pub outgoing: Vec<serde_json::Value>,
    /// Relationships from other CIs.
    pub incoming: Vec<serde_json::Value>,
}

fn source_matches(filter: &str, source: &str) -> bool {
    source == filter || source.split('/').next() == Some(filter)
}

impl CiStore {
    /// Open (or create) `cis.db` in `dir`.
    pub fn open(dir: &Path) -> Result<CiStore, CiStoreError> {
        std::fs::create_dir_all(dir).map_err(|e| CiStoreError::Corrupt {
            id: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        let connection = Connection::open(dir.join("cis.db"))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        CiStore::prepare(connection)
    }

    /// An in-memory store (tests and benchmarks).
    pub fn in_memory() -> Result<CiStore, CiStoreError> {
        CiStore::prepare(Connection::open_in_memory()?)
    }

    fn prepare(connection: Connection) -> Result<CiStore, CiStoreError> {
        connection.pragma_update(None, "cache_size", -CACHE_SIZE_KIB)?;
        connection.execute_batch(SCHEMA)?;
        let has_fingerprint: bool = connection.query_row(
            "SELECT COUNT(*) FROM pragma_table_info('cis') WHERE name = 'fingerprint'",
            [],
            |row| row.get::<_, i64>(0).map(|n| n > 0),
        )?;
        if !has_fingerprint {
            // Old rows get an empty fingerprint: their next observation is compared in full.
            connection.execute_batch(FINGERPRINT_COLUMN)?;
        }
        Ok(CiStore { connection })
    }

    /// The fingerprint of every stored CI of a source, by id (and not seen yet).
    fn source_fingerprints(
        &self,
        source: &str,
    ) -> Result<HashMap<String, (String, bool)>, CiStoreError> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT id, fingerprint FROM cis WHERE source = ?1")?;
        let rows = statement.query_map(params![source], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let (id, fingerprint) = row?;
            out.insert(id, (fingerprint, false));
        }
        Ok(out)
    }

    /// Record the observations of one source. With `complete`, the observations are a full
    /// list, so stored CIs of that source that are missing are deleted. Returns the changes.
    pub fn apply(
        &mut self,
        source: &str,
        observations: Vec<Observation>,
        complete: bool,
        time: i64,
    ) -> Result<Vec<Change>, CiStoreError> {
        let mut fingerprints = self.source_fingerprints(source)?;
        let transaction = self.connection.transaction()?;
        let mut changes = Vec::new();
        for mut observation in observations {
            let Some(key) = observation.key.clone() else {
                continue;
            };
            let id = key.id();
            let print = fingerprint(
                &observation.config,
                &observation.metrics,
                &observation.relations,
                &observation.addresses,
            );
            let stored = fingerprints.get_mut(&id);
            let unchanged = stored.as_ref().is_some_and(|(stored, _)| *stored == print);
            let known = stored.is_some();
            if let Some((_, seen)) = stored {
                *seen = true;
            }
            if unchanged {
                // Unchanged. A complete collection marks its whole source seen at the end;
                // a partial one marks each item.
                if !complete {
                    transaction
                        .prepare_cached("UPDATE cis SET seen = ?2 WHERE id = ?1")?
                        .execute(params![id, time])?;
                }
                continue;
            }
            let previous = match known {
                true => load_state(&transaction, &id)?,
                false => None,
            };
            let previous = previous.as_ref();
            if let Some(previous) = previous {
                keep_enrichment(previous, &mut observation);
            }
            let change = diff(previous, &observation, &key, time);
            let relations_changed = previous.is_none_or(|p| p.relations != observation.relations);
            let addresses_changed = previous.is_none_or(|p| p.addresses != observation.addresses);
            let state = CiState {
                version: 1,
                created: previous.map_or(time, |p| p.created),
                updated: if change.is_some() {
                    time
                } else {
                    previous.map_or(time, |p| p.updated)
                },
                seen: time,
                key: key.clone(),
                config: observation.config,
                metrics: observation.metrics,
                relations: observation.relations,
                addresses: observation.addresses,
            };
            write_state(&transaction, &id, &state)?;
            if relations_changed {
                write_relations(&transaction, &id, &state.relations)?;
            }
            if addresses_changed {
                transaction
                    .prepare_cached("DELETE FROM ci_addresses WHERE ci_id = ?1")?
                    .execute(params![id])?;
                for address in &state.addresses {
                    transaction
                        .prepare_cached(
                            "INSERT INTO ci_addresses (ci_id, address) VALUES (?1, ?2)",
                        )?
                        .execute(params![id, address])?;
                }
            }
            if let Some(change) = change {
                record(&transaction, &id, &change)?;
                changes.push(change);
            }
            // A later observation of the same CI in this collection compares with this one.
            fingerprints.insert(id, (print, true));
        }
        if complete {
            let mut missing: Vec<&String> = fingerprints
                .iter()
                .filter(|(_, (_, seen))| !seen)
                .map(|(id, _)| id)
                .collect();
            missing.sort();
            for id in missing {
                if let Some(state) = load_state(&transaction, id)? {
                    let change = deletion(&state, time);
                    remove(&transaction, id)?;
                    record(&transaction, id, &change)?;
                    changes.push(change);
                }
            }
            transaction
                .prepare_cached(
                    "INSERT INTO ci_sources (source, seen) VALUES (?1, ?2) \
                     ON CONFLICT (source) DO UPDATE SET seen = excluded.seen",
                )?
                .execute(params![source, time])?;
        }
        transaction.commit()?;
        Ok(changes)
    }

    /// Delete CIs at once (a watch delete event).
    pub fn delete(&mut self, keys: &[CiKey], time: i64) -> Result<Vec<Change>, CiStoreError> {
        let transaction = self.connection.transaction()?;
        let mut changes = Vec::new();
        for key in keys {
            let id = key.id();
            let text: Option<String> = transaction
                .query_row("SELECT state FROM cis WHERE id = ?1", params![id], |row| {
                    row.get(0)
                })
                .optional()?;
            if let Some(text) = text {
                let change = deletion(&decode(&id, &text)?, time);
                remove(&transaction, &id)?;
                record(&transaction, &id, &change)?;
                changes.push(change);
            }
        }
        transaction.commit()?;
        Ok(changes)
    }

    /// Link DNS records to the CIs whose addresses they resolve to (`resolves-to`), across
    /// sources; relationship changes are recorded like any change.
    pub fn enrich_dns(&mut self, time: i64) -> Result<Vec<Change>, CiStoreError> {
        let mut records = Vec::new();
        {
            let mut statement = self
                .connection
                .prepare("SELECT id, state FROM cis WHERE kind = 'dns.record'")?;
            let rows = statement.query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })?;
            for row in rows {
                let (id, text) = row?;
                records.push((id.clone(), decode(&id, &text)?));
            }
        }
        let transaction = self.connection.transaction()?;
        let mut changes = Vec::new();
        for (id, mut state) in records {
            let mut targets = BTreeSet::new();
            for address in &state.addresses {
                let mut statement = transaction.prepare_cached(
                    "SELECT c.kind, c.key FROM ci_addresses a JOIN cis c ON c.id = a.ci_id WHERE a.address = ?1 AND c.kind != 'dns.record'",
                )?;
                let rows = statement.query_map(params![address], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })?;
                for row in rows {
                    targets.insert(row?);
                }
            }
            changes.extend(set_enrichment(
                &transaction,
                &id,
                &mut state,
                "resolves-to",
                targets,
                time,
            )?);
        }
        transaction.commit()?;
        Ok(changes)
    }

    /// Link what pipelines report under a scraped target's address (`ciOut` keyed by the
    /// `instance` tag, `host:port`) to the discovered items behind it (`discovered-as`): the
    /// discovered target with that very address, and the items that answer on its host (a
    /// Kubernetes node, an EC2 instance). With `only`, just those items (the ones a pipeline
    /// just created or changed); without, every pipeline item (after a discovery change).
    pub fn enrich_targets(
        &mut self,
        time: i64,
        only: Option<&[String]>,
    ) -> Result<Vec<Change>, CiStoreError> {
        let mut items = Vec::new();
        match only {
            Some(ids) => {
                let mut statement = self.connection.prepare_cached(
                    "SELECT state FROM cis WHERE id = ?1 AND source LIKE 'pipeline/%'",
                )?;
                for id in ids {
                    let text: Option<String> = statement
                        .query_row(params![id], |row| row.get(0))
                        .optional()?;
                    if let Some(text) = text {
                        items.push((id.clone(), decode(id, &text)?));
                    }
                }
            }
            None => {
                let mut statement = self
                    .connection
                    .prepare("SELECT id, state FROM cis WHERE source LIKE 'pipeline/%'")?;
                let rows = statement.query_map([], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })?;
                for row in rows {
                    let (id, text) = row?;
                    items.push((id.clone(), decode(&id, &text)?));
                }
            }
        }
        let transaction = self.connection.transaction()?;
        let mut changes = Vec::new();
        for (id, mut state) in items {
            let address = state.key.key.clone();
            let mut targets = BTreeSet::new();
            {
                let mut statement = transaction.prepare_cached(
                    "SELECT kind, key FROM cis WHERE key = ?1 AND kind LIKE '%.target' AND source NOT LIKE 'pipeline/%'",
                )?;
                let rows = statement.query_map(params![address], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })?;
                for row in rows {
                    targets.insert(row?);
                }
                let mut statement = transaction.prepare_cached(
                    "SELECT c.kind, c.key FROM ci_addresses a JOIN cis c ON c.id = a.ci_id \
                     WHERE a.address = ?1 AND c.kind NOT LIKE '%.target' \
                     AND c.kind != 'dns.record' AND c.source NOT LIKE 'pipeline/%'",
                )?;
                let rows = statement.query_map(params![host_of(&address)], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })?;
                for row in rows {
                    targets.insert(row?);
                }
            }
            changes.extend(set_enrichment(
                &transaction,
                &id,
                &mut state,
                "discovered-as",
                targets,
                time,
            )?);
        }
        transaction.commit()?;
        Ok(changes)
    }

    /// Ids of CIs with a relationship to `kind:key`, optionally of one relationship kind.
    fn related_ids(
        &self,
        target: &str,
        relation: Option<&str>,
    ) -> Result<BTreeSet<String>, CiStoreError> {
        let Some((kind, key)) = target.split_once(':') else {
            return Ok(BTreeSet::new());
        };
        let mut statement = self.connection.prepare_cached(
            "SELECT from_id, kind FROM ci_relations WHERE target_kind = ?1 AND target_key = ?2",
        )?;
        let rows = statement.query_map(params![kind, key], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        let mut ids = BTreeSet::new();
        for row in rows {
            let (from, relation_kind) = row?;
            if relation.is_none_or(|wanted| wanted == relation_kind) {
                ids.insert(from);
            }
        }
        Ok(ids)
    }

    /// Ids of the stored CIs of `kind:key`, from any source (an id without its `@source`).
    pub fn find(&self, kind_key: &str) -> Result<Vec<String>, CiStoreError> {
        let Some((kind, key)) = kind_key.split_once(':') else {
            return Ok(Vec::new());
        };
        let mut statement = self
            .connection
            .prepare_cached("SELECT id FROM cis WHERE kind = ?1 AND key = ?2 ORDER BY id")?;
        let ids = statement
            .query_map(params![kind, key], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    }

    /// When each source last delivered a complete collection (every item it still has was
    /// seen then; their rows are not rewritten for that).
    fn sources_seen(&self) -> Result<HashMap<String, i64>, CiStoreError> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT source, seen FROM ci_sources")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Current CIs.
    pub fn list(&self, query: &CiQuery) -> Result<Vec<CiState>, CiStoreError> {
        let sources_seen = self.sources_seen()?;
        let related = match query.related.as_deref() {
            Some(target) => Some(self.related_ids(target, query.relation.as_deref())?),
            None => None,
        };
        let mut statement = self
            .connection
            .prepare("SELECT id, source, kind, state, seen FROM cis ORDER BY kind, key")?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, i64>(4)?,
            ))
        })?;
        let limit = query.limit.unwrap_or(1000);
        let mut out = Vec::new();
        for row in rows {
            let (id, source, kind, text, row_seen) = row?;
            if query.kind.as_deref().is_some_and(|k| k != kind) {
                continue;
            }
            if related.as_ref().is_some_and(|ids| !ids.contains(&id)) {
                continue;
            }
            if query
                .source
                .as_deref()
                .is_some_and(|s| !source_matches(s, &source))
            {
                continue;
            }
            let mut state = decode(&id, &text)?;
            state.seen = state.seen.max(row_seen);
            if let Some(seen) = sources_seen.get(&source) {
                state.seen = state.seen.max(*seen);
            }
            if let Some(q) = query.q.as_deref() {
                if !state.key.key.contains(q) && !state.config.values().any(|v| v.contains(q)) {
                    continue;
                }
            }
            out.push(state);
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// One CI with its relationships both ways; `id` is `kind:key@source`.
    pub fn get(&self, id: &str) -> Result<Option<CiDetail>, CiStoreError> {
        let row: Option<(String, i64)> = self
            .connection
            .query_row(
                "SELECT state, seen FROM cis WHERE id = ?1",
                params![id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let Some((text, row_seen)) = row else {
            return Ok(None);
        };
        let mut state = decode(id, &text)?;
        // Partial observations move the row's seen time, complete ones the source's.
        state.seen = state.seen.max(row_seen);
        if let Some(seen) = self.sources_seen()?.get(&state.key.source) {
            state.seen = state.seen.max(*seen);
        }
        let mut outgoing = Vec::new();
        for relation in &state.relations {
            let targets: Vec<String> = self
                .connection
                .prepare_cached("SELECT id FROM cis WHERE kind = ?1 AND key = ?2")?
                .query_map(params![relation.target_kind, relation.target_key], |row| {
                    row.get(0)
                })?
                .collect::<Result<_, _>>()?;
            outgoing.push(serde_json::json!({
                "kind": relation.kind,
                "target_kind": relation.target_kind,
                "target_key": relation.target_key,
                "targets": targets,
            }));
        }
        let mut incoming = Vec::new();
        let mut statement = self.connection.prepare_cached(
            "SELECT from_id, kind FROM ci_relations WHERE target_kind = ?1 AND target_key = ?2 ORDER BY from_id",
        )?;
        let rows = statement.query_map(params![state.key.kind, state.key.key], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (from, kind) = row?;
            incoming.push(serde_json::json!({ "kind": kind, "from": from }));
        }
        Ok(Some(CiDetail {
            id: id.to_owned(),
            state,
            outgoing,
            incoming,
        }))
    }

    /// Change history, newest first.
    pub fn changes(&self, query: &ChangeQuery) -> Result<Vec<Change>, CiStoreError> {
        let mut statement = self.connection.prepare_cached(
            "SELECT ci_id, source, kind, change, diffs, time FROM ci_changes WHERE time >= ?1 AND time < ?2 ORDER BY time DESC, seq DESC",
        )?;
        let rows = statement.query_map(
            params![
                query.since.unwrap_or(i64::MIN),
                query.until.unwrap_or(i64::MAX)
            ],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, i64>(5)?,
                ))
            },
        )?;
        let offset = query.offset.unwrap_or(0);
        let limit = query.limit.unwrap_or(100);
        let mut out = Vec::new();
        let mut skipped = 0;
        for row in rows {
            let (ci_id, source, kind, change, diffs, time) = row?;
            if query.kind.as_deref().is_some_and(|k| k != kind)
                || query
                    .source
                    .as_deref()
                    .is_some_and(|s| !source_matches(s, &source))
                || query.ci.as_deref().is_some_and(|c| c != ci_id)
            {
                continue;
            }
            if skipped < offset {
                skipped += 1;
                continue;
            }
            let key = parse_id(&ci_id)
                .unwrap_or_else(|| CiKey::new(source.clone(), kind.clone(), ci_id.clone()));
            let kind = match change.as_str() {
                "created" => ChangeKind::Created,
                "deleted" => ChangeKind::Deleted,
                _ => ChangeKind::Updated,
            };
            let diffs = serde_json::from_str(&diffs).map_err(|e| CiStoreError::Corrupt {
                id: ci_id.clone(),
                reason: e.to_string(),
            })?;
            out.push(Change {
                key,
                kind,
                diffs,
                time,
            });
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Forget history older than `before` (ns); how many entries went.
    pub fn expire_history(&mut self, before: i64) -> Result<usize, CiStoreError> {
        Ok(self
            .connection
            .execute("DELETE FROM ci_changes WHERE time < ?1", params![before])?)
    }
}

/// Relationships that enrichment (not the source) owns: a source's observation never
/// carries them, so they are kept from the stored state until enrichment itself changes them.
const ENRICHMENT_RELATIONS: &[&str] = &["resolves-to", "discovered-as"];

/// Replace a CI's enrichment relationships of `kind` with links to `targets` (kind, key);
/// the change, when they differ.
fn set_enrichment(
    transaction: &rusqlite::Transaction<'_>,
    id: &str,
    state: &mut CiState,
    kind: &str,
    targets: BTreeSet<(String, String)>,
    time: i64,
) -> Result<Option<Change>, CiStoreError> {
    let mut relations: Vec<Relation> = state
        .relations
        .iter()
        .filter(|r| r.kind != kind)
        .cloned()
        .collect();
    relations.extend(
        targets
            .into_iter()
            .map(|(target_kind, key)| Relation::new(kind, &target_kind, key)),
    );
    relations.sort();
    if relations == state.relations {
        return Ok(None);
    }
    let observation = Observation {
        key: Some(state.key.clone()),
        config: state.config.clone(),
        metrics: state.metrics.clone(),
        relations: relations.clone(),
        addresses: state.addresses.clone(),
    };
    let change = if state.created == time {
        // Created in this very write: its `created` entry gets the links, no `updated` follows.
        let created = diff(None, &observation, &state.key, time);
        if let Some(created) = &created {
            let diffs = serde_json::to_string(&created.diffs).unwrap_or_else(|_| "[]".to_owned());
            transaction
                .prepare_cached(
                    "UPDATE ci_changes SET diffs = ?3 WHERE ci_id = ?1 AND time = ?2 AND change = 'created'",
                )?
                .execute(params![id, time, diffs])?;
        }
        created
    } else {
        let change = diff(Some(state), &observation, &state.key, time);
        if let Some(change) = &change {
            record(transaction, id, change)?;
        }
        change
    };
    state.relations = relations;
    state.updated = time;
    write_state(transaction, id, state)?;
    write_relations(transaction, id, &state.relations)?;
    Ok(change)
}

fn keep_enrichment(previous: &CiState, observation: &mut Observation) {
    let mut kept = false;
    for relation in &previous.relations {
        if ENRICHMENT_RELATIONS.contains(&relation.kind.as_str())
            && !observation.relations.contains(relation)
        {
            observation.relations.push(relation.clone());
            kept = true;
        }
    }
    if kept {
        observation.relations.sort();
    }
}

/// `kind:key@source` back into a key (the key may contain `:` but the source has no `@`).
pub fn parse_id(id: &str) -> Option<CiKey> {
    let (rest, source) = id.rsplit_once('@')?;
    let (kind, key) = rest.split_once(':')?;
    Some(CiKey::new(source, kind, key))
}

fn decode(id: &str, text: &str) -> Result<CiState, CiStoreError> {
    serde_json::from_str(text).map_err(|e| CiStoreError::Corrupt {
        id: id.to_owned(),
        reason: e.to_string(),
    })
}

fn write_state(
    transaction: &rusqlite::Transaction<'_>,
    id: &str,
    state: &CiState,
) -> Result<(), CiStoreError> {
    let text = serde_json::to_string(state).map_err(|e| CiStoreError::Corrupt {
        id: id.to_owned(),
        reason: e.to_string(),
    })?;
    let print = fingerprint(
        &state.config,
        &state.metrics,
        &state.relations,
        &state.addresses,
    );
    // An update leaves the row's indexed columns (source, kind, key) alone.
    let updated = transaction
        .prepare_cached("UPDATE cis SET state = ?2, seen = ?3, fingerprint = ?4 WHERE id = ?1")?
        .execute(params![id, text, state.seen, print])?;
    if updated == 0 {
        transaction
            .prepare_cached("INSERT INTO cis (id, source, kind, key, state, seen, fingerprint) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
            .execute(params![id, state.key.source, state.key.kind, state.key.key, text, state.seen, print])?;
    }
    Ok(())
}

fn load_state(
    transaction: &rusqlite::Transaction<'_>,
    id: &str,
) -> Result<Option<CiState>, CiStoreError> {
    let text: Option<String> = transaction
        .prepare_cached("SELECT state FROM cis WHERE id = ?1")?
        .query_row(params![id], |row| row.get(0))
        .optional()?;
    text.map(|text| decode(id, &text)).transpose()
}

/// A digest of what a source says about a CI (enrichment relationships left out, as the
/// source never reports them). Equal digests mean an unchanged item; a digest computed by
/// another build of weir may differ, which costs one full comparison, never a missed change.
/// Only equal digests skip the comparison: a changed item goes unnoticed only if its 64-bit
/// SipHash collides with the stored one (about one change in 10^19).
fn fingerprint(
    config: &BTreeMap<String, String>,
    metrics: &BTreeMap<String, f64>,
    relations: &[Relation],
    addresses: &[String],
) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    config.hash(&mut hasher);
    metrics.len().hash(&mut hasher);
    for (name, value) in metrics {
        name.hash(&mut hasher);
        value.to_bits().hash(&mut hasher);
    }
    let own = |relation: &&Relation| !ENRICHMENT_RELATIONS.contains(&relation.kind.as_str());
    relations.iter().filter(own).count().hash(&mut hasher);
    for relation in relations.iter().filter(own) {
        relation.hash(&mut hasher);
    }
    addresses.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

fn write_relations(
    transaction: &rusqlite::Transaction<'_>,
    id: &str,
    relations: &[Relation],
) -> Result<(), CiStoreError> {
    transaction
        .prepare_cached("DELETE FROM ci_relations WHERE from_id = ?1")?
        .execute(params![id])?;
    for relation in relations {
        transaction
            .prepare_cached("INSERT INTO ci_relations (from_id, kind, target_kind, target_key) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![id, relation.kind, relation.target_kind, relation.target_key])?;
    }
    Ok(())
}

fn remove(transaction: &rusqlite::Transaction<'_>, id: &str) -> Result<(), CiStoreError> {
    transaction
        .prepare_cached("DELETE FROM cis WHERE id = ?1")?
        .execute(params![id])?;
    transaction
        .prepare_cached("DELETE FROM ci_relations WHERE from_id = ?1")?
        .execute(params![id])?;
    transaction
        .prepare_cached("DELETE FROM ci_addresses WHERE ci_id = ?1")?
        .execute(params![id])?;
    Ok(())
}

fn record(
    transaction: &rusqlite::Transaction<'_>,
    id: &str,
    change: &Change,
) -> Result<(), CiStoreError> {
    let diffs = serde_json::to_string(&change.diffs).unwrap_or_else(|_| "[]".to_owned());
    transaction
        .prepare_cached("INSERT INTO ci_changes (time, ci_id, source, kind, change, diffs) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
        .execute(params![change.time, id, change.key.source, change.key.kind, change.kind.as_str(), diffs])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::model::AttributeDiff;

    fn pod(name: &str, node: &str, ip: &str) -> Observation {
        let key = CiKey::new("kubernetes/k", "kubernetes.pod", format!("default/{name}"));
        let mut config = BTreeMap::new();
        config.insert("pod_node_name".to_owned(), node.to_owned());
        Observation {
            key: Some(key),
            config,
            metrics: BTreeMap::new(),
            relations: vec![Relation::new("runs-on", "kubernetes.node", node)],
            addresses: vec![ip.to_owned()],
        }
    }

    fn node(name: &str) -> Observation {
        Observation {
            key: Some(CiKey::new("kubernetes/k-nodes", "kubernetes.node", name)),
            ..Observation::default()
        }
    }

    #[test]
    fn history_and_relationships() {
        let mut store = CiStore::in_memory().unwrap();
        store
            .apply(
                "kubernetes/k-nodes",
                vec![node("node-1"), node("node-2")],
                true,
                1,
            )
            .unwrap();
        let created = store
            .apply(
                "kubernetes/k",
                vec![pod("web-0", "node-1", "10.0.0.5")],
                true,
                10,
            )
            .unwrap();
        assert_eq!(created.len(), 1);
        assert!(
            store
                .apply(
                    "kubernetes/k",
                    vec![pod("web-0", "node-1", "10.0.0.5")],
                    true,
                    20
                )
                .unwrap()
                .is_empty()
        );
        let moved = store
            .apply(
                "kubernetes/k",
                vec![pod("web-0", "node-2", "10.0.0.5")],
                true,
                30,
            )
            .unwrap();
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].kind, ChangeKind::Updated);
        let node2 = store
            .get("kubernetes.node:node-2@kubernetes/k-nodes")
            .unwrap()
            .unwrap();
        assert_eq!(
            node2.incoming.len(),
            1,
            "what runs on node-2: {:?}",
            node2.incoming
        );
        let node1 = store
            .get("kubernetes.node:node-1@kubernetes/k-nodes")
            .unwrap()
            .unwrap();
        assert!(node1.incoming.is_empty());
        let on_node2 = |relation: Option<&str>| {
            store
                .list(&CiQuery {
                    related: Some("kubernetes.node:node-2".into()),
                    relation: relation.map(str::to_owned),
                    ..CiQuery::default()
                })
                .unwrap()
                .into_iter()
                .map(|state| state.key.id())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            on_node2(None),
            ["kubernetes.pod:default/web-0@kubernetes/k"]
        );
        assert_eq!(on_node2(Some("runs-on")).len(), 1);
        assert!(on_node2(Some("targets")).is_empty());
        assert_eq!(
            store.find("kubernetes.node:node-2").unwrap(),
            ["kubernetes.node:node-2@kubernetes/k-nodes"]
        );
        assert!(store.find("kubernetes.node:node-9").unwrap().is_empty());
        let deleted = store.apply("kubernetes/k", vec![], true, 40).unwrap();
        assert_eq!(deleted[0].kind, ChangeKind::Deleted);
        let history = store
            .changes(&ChangeQuery {
                kind: Some("kubernetes.pod".into()),
                ..ChangeQuery::default()
            })
            .unwrap();
        assert_eq!(
            history.iter().map(|c| c.kind).collect::<Vec<_>>(),
            vec![
                ChangeKind::Deleted,
                ChangeKind::Updated,
                ChangeKind::Created
            ]
        );
        let recent = store
            .changes(&ChangeQuery {
                since: Some(25),
                ..ChangeQuery::default()
            })
            .unwrap();
        assert_eq!(recent.len(), 2);
    }

    #[test]
    fn partial_collections_never_delete() {
        let mut store = CiStore::in_memory().unwrap();
        store
            .apply(
                "kubernetes/k",
                vec![pod("a", "n", "1.1.1.1"), pod("b", "n", "1.1.1.2")],
                true,
                1,
            )
            .unwrap();
        assert!(
            store
                .apply("kubernetes/k", vec![pod("a", "n", "1.1.1.1")], false, 2)
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.list(&CiQuery::default()).unwrap().len(), 2);
    }

    #[test]
    fn dns_records_resolve_to_cis_with_the_same_address() {
        let mut store = CiStore::in_memory().unwrap();
        store
            .apply("kubernetes/k", vec![pod("web-0", "n", "10.0.0.5")], true, 1)
            .unwrap();
        let record = Observation {
            key: Some(CiKey::new(
                "dns/d",
                "dns.record",
                "web.test.local/10.0.0.5:80",
            )),
            addresses: vec!["10.0.0.5".to_owned()],
            ..Observation::default()
        };
        store.apply("dns/d", vec![record], true, 2).unwrap();
        let changes = store.enrich_dns(3).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(
            changes[0].diffs[0].new.as_deref(),
            Some("kubernetes.pod:default/web-0")
        );
        assert!(
            store.enrich_dns(4).unwrap().is_empty(),
            "stable enrichment records nothing"
        );
        let record_again = Observation {
            key: Some(CiKey::new(
                "dns/d",
                "dns.record",
                "web.test.local/10.0.0.5:80",
            )),
            addresses: vec!["10.0.0.5".to_owned()],
            ..Observation::default()
        };
        assert!(
            store
                .apply("dns/d", vec![record_again], true, 5)
                .unwrap()
                .is_empty(),
            "a re-collected record keeps its enrichment"
        );
        assert!(store.enrich_dns(6).unwrap().is_empty());
        store.apply("kubernetes/k", vec![], true, 7).unwrap();
        let gone = store.enrich_dns(8).unwrap();
        assert_eq!(gone.len(), 1, "the pod went away: {gone:?}");
        assert_eq!(gone[0].diffs[0].new, None);
    }

    #[test]
    fn repeated_observations_in_one_collection_compare_in_order() {
        let mut store = CiStore::in_memory().unwrap();
        let changes = store
            .apply(
                "kubernetes/k",
                vec![
                    pod("a", "n1", "1.1.1.1"),
                    pod("a", "n2", "1.1.1.1"),
                    pod("a", "n2", "1.1.1.1"),
                ],
                true,
                1,
            )
            .unwrap();
        let kinds: Vec<ChangeKind> = changes.iter().map(|c| c.kind).collect();
        assert_eq!(kinds, [ChangeKind::Created, ChangeKind::Updated]);
        assert_eq!(changes[1].diffs[0].new.as_deref(), Some("n2"));
        assert_eq!(store.list(&CiQuery::default()).unwrap().len(), 1);
    }

    #[test]
    fn unchanged_items_move_their_seen_time_and_metrics_are_not_audited() {
        let mut store = CiStore::in_memory().unwrap();
        store
            .apply("kubernetes/k", vec![pod("a", "n", "1.1.1.1")], true, 1)
            .unwrap();
        assert!(
            store
                .apply("kubernetes/k", vec![pod("a", "n", "1.1.1.1")], true, 5)
                .unwrap()
                .is_empty()
        );
        let listed = store.list(&CiQuery::default()).unwrap();
        assert_eq!((listed[0].updated, listed[0].seen), (1, 5));

        let host = |load: f64| Observation {
            key: Some(CiKey::new("pipeline/t", "host", "h1")),
            config: [("os".to_owned(), "Linux".to_owned())].into(),
            metrics: [("load".to_owned(), load)].into(),
            ..Observation::default()
        };
        store
            .apply("pipeline/t", vec![host(0.5)], false, 10)
            .unwrap();
        assert!(
            store
                .apply("pipeline/t", vec![host(0.7)], false, 11)
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .apply("pipeline/t", vec![host(0.7)], false, 12)
                .unwrap()
                .is_empty()
        );
        let item = store.get("host:h1@pipeline/t").unwrap().unwrap();
        assert_eq!(item.state.metrics["load"], 0.7, "the latest metric is kept");
        assert_eq!((item.state.updated, item.state.seen), (10, 12));
    }

    #[test]
    fn rows_without_a_fingerprint_are_compared_in_full() {
        let mut store = CiStore::in_memory().unwrap();
        store
            .apply("kubernetes/k", vec![pod("a", "n", "1.1.1.1")], true, 1)
            .unwrap();
        store
            .connection
            .execute("UPDATE cis SET fingerprint = ''", [])
            .unwrap();
        assert!(
            store
                .apply("kubernetes/k", vec![pod("a", "n", "1.1.1.1")], true, 2)
                .unwrap()
                .is_empty()
        );
        let moved = store
            .apply("kubernetes/k", vec![pod("a", "m", "1.1.1.1")], true, 3)
            .unwrap();
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].kind, ChangeKind::Updated);
    }

    #[test]
    fn stores_of_the_first_format_gain_fingerprints() {
        let dir = tempfile::tempdir().unwrap();
        {
            let connection = Connection::open(dir.path().join("cis.db")).unwrap();
            connection
                .execute_batch(
                    "CREATE TABLE cis (id TEXT PRIMARY KEY, source TEXT NOT NULL, \
                     kind TEXT NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL, \
                     seen INTEGER NOT NULL);",
                )
                .unwrap();
        }
        let mut store = CiStore::open(dir.path()).unwrap();
        let created = store
            .apply("kubernetes/k", vec![pod("a", "n", "1.1.1.1")], true, 1)
            .unwrap();
        assert_eq!(created.len(), 1);
        drop(store);
        let mut store = CiStore::open(dir.path()).unwrap();
        assert!(
            store
                .apply("kubernetes/k", vec![pod("a", "n", "1.1.1.1")], true, 2)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_creation_and_its_links_in_one_write_are_one_created_entry() {
        let mut store = CiStore::in_memory().unwrap();
        let target = Observation {
            key: Some(CiKey::new(
                "static-discovery/s",
                "static.target",
                "10.0.0.5:9100",
            )),
            addresses: vec!["10.0.0.5".to_owned()],
            ..Observation::default()
        };
        store
            .apply("static-discovery/s", vec![target], true, 1)
            .unwrap();
        let host = Observation {
            key: Some(CiKey::new("pipeline/host_info", "host", "10.0.0.5:9100")),
            config: [("kernel".to_owned(), "6.1".to_owned())].into(),
            ..Observation::default()
        };
        let mut changes = store
            .apply("pipeline/host_info", vec![host], false, 2)
            .unwrap();
        let id = "host:10.0.0.5:9100@pipeline/host_info".to_owned();
        changes.extend(
            store
                .enrich_targets(2, Some(std::slice::from_ref(&id)))
                .unwrap(),
        );
        let changes = super::super::diff::fold_created(changes);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].kind, ChangeKind::Created);
        let history = store
            .changes(&ChangeQuery {
                ci: Some(id.clone()),
                ..ChangeQuery::default()
            })
            .unwrap();
        assert_eq!(history.len(), 1, "{history:?}");
        assert_eq!(history[0].kind, ChangeKind::Created);
        assert_eq!(history[0].diffs, changes[0].diffs);
        let attributes: Vec<(&str, Option<&str>)> = history[0]
            .diffs
            .iter()
            .map(|d| (d.attribute.as_str(), d.new.as_deref()))
            .collect();
        assert_eq!(
            attributes,
            [
                ("kernel", Some("6.1")),
                (
                    "relation:discovered-as",
                    Some("static.target:10.0.0.5:9100")
                )
            ]
        );
    }

    #[test]
    fn pipeline_items_link_to_the_discovered_target_behind_their_address() {
        let mut store = CiStore::in_memory().unwrap();
        let target = |address: &str| Observation {
            key: Some(CiKey::new("static-discovery/s", "static.target", address)),
            addresses: vec![host_of(address)],
            ..Observation::default()
        };
        store
            .apply(
                "static-discovery/s",
                vec![target("10.0.0.5:9100"), target("10.0.0.5:8080")],
                true,
                1,
            )
            .unwrap();
        let node = Observation {
            key: Some(CiKey::new("kubernetes/n", "kubernetes.node", "node-1")),
            addresses: vec!["10.0.0.5".to_owned()],
            ..Observation::default()
        };
        store.apply("kubernetes/n", vec![node], true, 1).unwrap();
        let host = || Observation {
            key: Some(CiKey::new("pipeline/host_info", "host", "10.0.0.5:9100")),
            config: [("kernel".to_owned(), "6.1".to_owned())].into(),
            ..Observation::default()
        };
        store
            .apply("pipeline/host_info", vec![host()], false, 2)
            .unwrap();
        let changes = store
            .enrich_targets(
                3,
                Some(&["host:10.0.0.5:9100@pipeline/host_info".to_owned()]),
            )
            .unwrap();
        assert_eq!(changes.len(), 1);
        let linked: Vec<Option<&str>> = changes[0].diffs.iter().map(|d| d.new.as_deref()).collect();
        assert_eq!(
            linked,
            [
                Some("kubernetes.node:node-1"),
                Some("static.target:10.0.0.5:9100")
            ],
            "the exact target and what answers on its host, not the other port; one diff per link"
        );
        assert!(
            store
                .apply("pipeline/host_info", vec![host()], false, 4)
                .unwrap()
                .is_empty(),
            "observing the host again keeps its links"
        );
        assert!(store.enrich_targets(5, None).unwrap().is_empty());
        let on_target = store
            .list(&CiQuery {
                related: Some("static.target:10.0.0.5:9100".into()),
                ..CiQuery::default()
            })
            .unwrap();
        assert_eq!(on_target.len(), 1);
        store
            .apply("static-discovery/s", vec![target("10.0.0.5:8080")], true, 6)
            .unwrap();
        let unlinked = store.enrich_targets(7, None).unwrap();
        assert_eq!(
            unlinked[0].diffs,
            [AttributeDiff {
                attribute: "relation:discovered-as".into(),
                old: Some("static.target:10.0.0.5:9100".into()),
                new: None
            }],
            "the one link removed, the node's stays"
        );
    }

    #[test]
    fn ids_round_trip() {
        let key = CiKey::new("consul/dc1", "consul.service", "node-1:web");
        assert_eq!(parse_id(&key.id()), Some(key));
    }
}
