//! Change detection: a pure comparison of stored state with a new observation.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{AttributeDiff, Change, ChangeKind, CiKey, CiState, Observation, Relation};

/// Compare the stored state (if any) with an observation; the change to record, if any.
/// Metric values never produce a change.
pub fn diff(
    previous: Option<&CiState>,
    next: &Observation,
    key: &CiKey,
    time: i64,
) -> Option<Change> {
    match previous {
        None => Some(Change {
            key: key.clone(),
            kind: ChangeKind::Created,
            diffs: attribute_diffs(&BTreeMap::new(), &next.config, &[], &next.relations),
            time,
        }),
        Some(previous) => {
            let diffs = attribute_diffs(
                &previous.config,
                &next.config,
                &previous.relations,
                &next.relations,
            );
            (!diffs.is_empty()).then(|| Change {
                key: key.clone(),
                kind: ChangeKind::Updated,
                diffs,
                time,
            })
        }
    }
}

/// The deletion of a stored CI.
pub fn deletion(previous: &CiState, time: i64) -> Change {
    Change {
        key: previous.key.clone(),
        kind: ChangeKind::Deleted,
        diffs: attribute_diffs(&previous.config, &BTreeMap::new(), &previous.relations, &[]),
        time,
    }
}

fn attribute_diffs(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
    old_relations: &[Relation],
    new_relations: &[Relation],
) -> Vec<AttributeDiff> {
    let mut diffs = Vec::new();
    let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for name in names {
        let before = old.get(name);
        let after = new.get(name);
        if before != after {
            diffs.push(AttributeDiff {
                attribute: name.clone(),
                old: before.cloned(),
                new: after.cloned(),
            });
        }
    }
    let by_kind = |relations: &[Relation]| -> BTreeMap<String, BTreeSet<String>> {
        let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for relation in relations {
            map.entry(relation.kind.clone())
                .or_default()
                .insert(format!("{}:{}", relation.target_kind, relation.target_key));
        }
        map
    };
    // One diff per link removed (`old` names it) or added (`new` names it), never the whole
    // list: a record that gains one of fifty links says which one.
    let old_relations = by_kind(old_relations);
    let new_relations = by_kind(new_relations);
    let kinds: BTreeSet<&String> = old_relations.keys().chain(new_relations.keys()).collect();
    let empty = BTreeSet::new();
    for kind in kinds {
        let before = old_relations.get(kind).unwrap_or(&empty);
        let after = new_relations.get(kind).unwrap_or(&empty);
        for removed in before.difference(after) {
            diffs.push(AttributeDiff {
                attribute: format!("relation:{kind}"),
                old: Some(removed.clone()),
                new: None,
            });
        }
        for added in after.difference(before) {
            diffs.push(AttributeDiff {
                attribute: format!("relation:{kind}"),
                old: None,
                new: Some(added.clone()),
            });
        }
    }
    diffs
}

/// Changes of one write with at most one `created` per item: when enrichment amended a
/// creation of the same write (its links), the amended one takes the first one's place.
pub fn fold_created(changes: Vec<Change>) -> Vec<Change> {
    let mut folded: Vec<Change> = Vec::with_capacity(changes.len());
    let mut created_at: BTreeMap<String, usize> = BTreeMap::new();
    for change in changes {
        if change.kind == ChangeKind::Created {
            let id = change.key.id();
            if let Some(&idx) = created_at.get(&id) {
                folded[idx] = change;
                continue;
            }
            created_at.insert(id, folded.len());
        }
        folded.push(change);
    }
    folded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observation(node: &str) -> Observation {
        let mut config = BTreeMap::new();
        config.insert("pod_node_name".to_owned(), node.to_owned());
        config.insert("pod_phase".to_owned(), "Running".to_owned());
        Observation {
            key: None,
            config,
            metrics: BTreeMap::new(),
            relations: vec![Relation::new("runs-on", "kubernetes.node", node)],
            addresses: vec![],
        }
    }

    fn state(observation: &Observation, key: &CiKey) -> CiState {
        CiState {
            version: 1,
            key: key.clone(),
            config: observation.config.clone(),
            metrics: observation.metrics.clone(),
            relations: observation.relations.clone(),
            addresses: vec![],
            created: 0,
            updated: 0,
            seen: 0,
        }
    }

    #[test]
    fn created_updated_unchanged_deleted() {
        let key = CiKey::new("k8s", "kubernetes.pod", "default/web-0");
        let first = observation("node-1");
        let created = diff(None, &first, &key, 1).unwrap();
        assert_eq!(created.kind, ChangeKind::Created);
        let stored = state(&first, &key);
        assert_eq!(diff(Some(&stored), &first, &key, 2), None, "unchanged");
        let mut with_metric = first.clone();
        with_metric.metrics.insert("cpu".to_owned(), 0.5);
        assert_eq!(
            diff(Some(&stored), &with_metric, &key, 2),
            None,
            "metrics are not audited"
        );
        let moved = diff(Some(&stored), &observation("node-2"), &key, 3).unwrap();
        assert_eq!(moved.kind, ChangeKind::Updated);
        assert_eq!(
            moved.diffs,
            vec![
                AttributeDiff {
                    attribute: "pod_node_name".into(),
                    old: Some("node-1".into()),
                    new: Some("node-2".into())
                },
                AttributeDiff {
                    attribute: "relation:runs-on".into(),
                    old: Some("kubernetes.node:node-1".into()),
                    new: None
                },
                AttributeDiff {
                    attribute: "relation:runs-on".into(),
                    old: None,
                    new: Some("kubernetes.node:node-2".into())
                },
            ]
        );
        // One more link among many is one diff naming it.
        let mut linked = stored.clone();
        linked.relations = (0..50)
            .map(|idx| Relation::new("resolves-to", "static.target", format!("10.0.0.{idx}:80")))
            .collect();
        linked.relations.sort();
        let mut more = first.clone();
        more.relations = linked.relations.clone();
        more.relations
            .push(Relation::new("resolves-to", "ec2.instance", "i-1"));
        more.relations.sort();
        let one = diff(Some(&linked), &more, &key, 5).unwrap();
        assert_eq!(
            one.diffs,
            vec![AttributeDiff {
                attribute: "relation:resolves-to".into(),
                old: None,
                new: Some("ec2.instance:i-1".into())
            }]
        );
        let deleted = deletion(&stored, 4);
        assert_eq!(deleted.kind, ChangeKind::Deleted);
        assert!(deleted.diffs.iter().all(|d| d.new.is_none()));
    }

    #[test]
    fn an_amended_creation_replaces_the_first_one() {
        let key = CiKey::new("k8s", "kubernetes.pod", "default/web-0");
        let other = CiKey::new("k8s", "kubernetes.pod", "default/web-1");
        let created = diff(None, &observation("node-1"), &key, 1).unwrap();
        let mut amended = created.clone();
        amended.diffs.push(AttributeDiff {
            attribute: "relation:discovered-as".into(),
            old: None,
            new: Some("static.target:a:1".into()),
        });
        let other_created = diff(None, &observation("node-1"), &other, 1).unwrap();
        let folded = fold_created(vec![created, other_created.clone(), amended.clone()]);
        assert_eq!(folded, vec![amended, other_created]);
    }
}
