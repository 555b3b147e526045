//! What flows on a task's edges: grouped points and batches, plus group identities.
//!
//! A point entering a task gets a [`Group`] from `from()` (or a later `groupBy()`); every
//! stateful node keys its state by that group. Groups are interned, so the hot path
//! clones an `Arc` instead of building a key string per point.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHasher};
use weir_dsl::Value;
use weir_dsl::nodes::GroupDimensions;

use crate::point::{FieldValue, Point, Tags};

/// Kapacitor's group id of ungrouped data.
pub const NIL_GROUP: &str = "nil";

/// One group of a task: the dimension tags and their values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// Kapacitor's group id (`nil`, `host=a,region=x`, `cpu\nhost=a`).
    pub id: String,
    /// The dimension tags with this group's values (missing tags have empty values).
    pub tags: Tags,
    /// The measurement, when the group includes it.
    pub measurement: Option<crate::point::Name>,
}

/// A shared group identity.
pub type Group = Arc<GroupInfo>;

impl GroupInfo {
    /// The group of ungrouped data.
    pub fn nil() -> Group {
        Arc::new(GroupInfo {
            id: NIL_GROUP.to_owned(),
            tags: Tags::new(),
            measurement: None,
        })
    }

    /// Build a group from its tags, computing Kapacitor's id.
    pub fn new(tags: Tags, measurement: Option<crate::point::Name>) -> Group {
        let mut id = String::new();
        if let Some(name) = &measurement {
            id.push_str(name);
            if !tags.is_empty() {
                id.push('\n');
            }
        }
        for (idx, (key, value)) in tags.iter().enumerate() {
            if idx > 0 {
                id.push(',');
            }
            id.push_str(key);
            id.push('=');
            id.push_str(value);
        }
        if id.is_empty() {
            id.push_str(NIL_GROUP);
        }
        Arc::new(GroupInfo {
            id,
            tags,
            measurement,
        })
    }
}

/// A point inside a task, with its group.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskPoint {
    /// The point.
    pub point: Point,
    /// Its group.
    pub group: Group,
}

/// A batch: the points of one group over one window (or query).
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Measurement name of the batch.
    pub name: crate::point::Name,
    /// The group; its tags are the batch tags.
    pub group: Group,
    /// The batch time: the window end.
    pub tmax: i64,
    /// The points, each with all of its own tags.
    pub points: Vec<Point>,
}

/// A barrier (`barrier()` node): the group has no data before `time` any more, so windows
/// emit what is due at that time; with `delete` every node forgets the group afterwards.
/// Barriers travel beside the messages of an edge and reach every node downstream.
#[derive(Debug, Clone, PartialEq)]
pub struct Barrier {
    /// The group.
    pub group: Group,
    /// The barrier time (ns).
    pub time: i64,
    /// Forget the group after the barrier.
    pub delete: bool,
}

/// One message on an edge.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A single point.
    Point(TaskPoint),
    /// A batch.
    Batch(Batch),
}

impl Message {
    /// The point time or the batch `tmax`.
    pub fn time(&self) -> i64 {
        match self {
            Message::Point(point) => point.point.time,
            Message::Batch(batch) => batch.tmax,
        }
    }

    /// The message's group.
    pub fn group(&self) -> &Group {
        match self {
            Message::Point(point) => &point.group,
            Message::Batch(batch) => &batch.group,
        }
    }

    /// The measurement name.
    pub fn name(&self) -> &str {
        match self {
            Message::Point(point) => &point.point.name,
            Message::Batch(batch) => &batch.name,
        }
    }
}

/// Interns groups so that equal dimension values share one [`Group`].
///
/// An interner is always used with the same dimensions (each node owns one for its own).
/// Points of one series usually share their tag set (the line-protocol parser and the
/// scrapers give every point of a series in a batch the same [`Tags`]), so the last groups
/// are remembered by the address of their tag set: a hit costs no hashing or lookups. A
/// remembered tag set is held, so its address cannot be reused for another while remembered.
#[derive(Debug, Default)]
pub struct GroupInterner {
    groups: FxHashMap<u64, Vec<Group>>,
    nil: Option<Group>,
    recent: Vec<Option<(Tags, Group)>>,
}

/// Groups remembered by tag-set address (a power of two).
const RECENT: usize = 256;

impl GroupInterner {
    /// The group of `point` under `dimensions`.
    pub fn intern(&mut self, point: &Point, dimensions: &GroupDimensions) -> Group {
        let slot = (point.tags.addr() >> 4) & (RECENT - 1);
        if let Some(Some((tags, group))) = self.recent.get(slot) {
            let same_name = match &group.measurement {
                Some(name) => *name == point.name,
                None => true,
            };
            if same_name && tags.ptr_eq(&point.tags) {
                return group.clone();
            }
        }
        let group = self.intern_uncached(point, dimensions);
        if self.recent.is_empty() {
            self.recent.resize(RECENT, None);
        }
        self.recent[slot] = Some((point.tags.clone(), group.clone()));
        group
    }

    fn intern_uncached(&mut self, point: &Point, dimensions: &GroupDimensions) -> Group {
        let is_dimension = |key: &str| {
            if dimensions.all {
                !dimensions.exclude.iter().any(|excluded| excluded == key)
            } else {
                dimensions.tags.iter().any(|tag| tag == key)
            }
        };
        let n_dimensions = if dimensions.all {
            point.tags.keys().filter(|key| is_dimension(key)).count()
        } else {
            dimensions.tags.len()
        };
        if n_dimensions == 0 && !dimensions.by_measurement {
            return self.nil.get_or_insert_with(GroupInfo::nil).clone();
        }
        let mut hasher = FxHasher::default();
        if dimensions.by_measurement {
            point.name.hash(&mut hasher);
        }
        let value_of = |key: &str| point.tags.get(key).map(String::as_str).unwrap_or("");
        // Explicit dimensions (the common case) are looked up once each.
        const INLINE: usize = 8;
        let mut values = [""; INLINE];
        let inline = !dimensions.all && dimensions.tags.len() <= INLINE;
        if inline {
            for (slot, key) in values.iter_mut().zip(&dimensions.tags) {
                *slot = value_of(key);
                slot.hash(&mut hasher);
            }
        } else if dimensions.all {
            for (key, value) in point.tags.iter().filter(|(key, _)| is_dimension(key)) {
                key.hash(&mut hasher);
                value.hash(&mut hasher);
            }
        } else {
            for key in &dimensions.tags {
                value_of(key).hash(&mut hasher);
            }
        }
        let hash = hasher.finish();
        let candidates = self.groups.entry(hash).or_default();
        for candidate in candidates.iter() {
            let same_measurement = match &candidate.measurement {
                Some(name) => dimensions.by_measurement && *name == point.name,
                None => !dimensions.by_measurement,
            };
            if !same_measurement || candidate.tags.len() != n_dimensions {
                continue;
            }
            let same_tags = if inline {
                dimensions.tags.iter().zip(values).all(|(key, value)| {
                    candidate
                        .tags
                        .get(key)
                        .is_some_and(|candidate| candidate == value)
                })
            } else {
                candidate
                    .tags
                    .iter()
                    .all(|(key, value)| is_dimension(key) && (value_of(key) == value.as_str()))
            };
            if same_tags {
                return candidate.clone();
            }
        }
        let mut tags = Tags::new();
        if dimensions.all {
            for (key, value) in point.tags.iter().filter(|(key, _)| is_dimension(key)) {
                tags.insert(key.clone(), value.clone());
            }
        } else {
            for key in &dimensions.tags {
                tags.insert(key.clone(), value_of(key).to_owned());
            }
        }
        let measurement = dimensions.by_measurement.then(|| point.name.clone());
        let group = GroupInfo::new(tags, measurement);
        candidates.push(group.clone());
        group
    }

    /// Number of distinct groups seen.
    pub fn len(&self) -> usize {
        self.groups.values().map(Vec::len).sum::<usize>() + usize::from(self.nil.is_some())
    }

    /// Whether no group was seen yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A field value as a lambda value.
pub fn field_to_value(field: &FieldValue) -> Value {
    match field {
        FieldValue::Float(value) => Value::Float(*value),
        FieldValue::Int(value) => Value::Int(*value),
        FieldValue::String(value) => Value::String(value.clone()),
        FieldValue::Bool(value) => Value::Bool(*value),
        FieldValue::Null => Value::Missing,
    }
}

/// A lambda result as a field value, when it has a field type.
pub fn value_to_field(value: Value) -> Option<FieldValue> {
    match value {
        Value::Float(value) => Some(FieldValue::Float(value)),
        Value::Int(value) => Some(FieldValue::Int(value)),
        Value::String(value) => Some(FieldValue::String(value)),
        Value::Bool(value) => Some(FieldValue::Bool(value)),
        Value::Duration(duration) => Some(FieldValue::Int(duration.nanos())),
        Value::Time(nanos) => Some(FieldValue::Int(nanos)),
        Value::Regex(regex) => Some(FieldValue::String(regex.as_str().to_owned())),
        // Missing, lists, lambdas and stars have no field type.
        _ => None,
    }
}

/// The view of one point that lambdas read; `extra` values shadow the point's fields.
pub struct PointScope<'a> {
    /// The point.
    pub point: &'a Point,
    /// Values computed earlier in the same node (eval results).
    pub extra: &'a [(String, Value)],
}

impl<'a> PointScope<'a> {
    /// A scope over just the point.
    pub fn new(point: &'a Point) -> PointScope<'a> {
        PointScope { point, extra: &[] }
    }
}

impl weir_dsl::Scope for PointScope<'_> {
    fn field(&self, name: &str) -> Option<Value> {
        if let Some((_, value)) = self.extra.iter().rev().find(|(key, _)| key == name) {
            return Some(value.clone());
        }
        self.point
            .fields
            .get(name)
            .filter(|value| **value != FieldValue::Null)
            .map(field_to_value)
    }

    fn tag(&self, name: &str) -> Option<&str> {
        self.point.tags.get(name).map(String::as_str)
    }

    fn time(&self) -> i64 {
        self.point.time
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(tags: &[(&str, &str)]) -> Point {
        let tags = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Point::gauge("cpu", tags, 1.0, 0)
    }

    #[test]
    fn group_ids_follow_kapacitor() {
        let mut interner = GroupInterner::default();
        let by_host = GroupDimensions {
            tags: vec!["host".into()],
            ..Default::default()
        };
        let group = interner.intern(&point(&[("host", "a"), ("dc", "x")]), &by_host);
        assert_eq!(group.id, "host=a");
        let again = interner.intern(&point(&[("host", "a"), ("dc", "y")]), &by_host);
        assert!(Arc::ptr_eq(&group, &again));
        let other = interner.intern(&point(&[("host", "b")]), &by_host);
        assert_eq!(other.id, "host=b");
        let missing = interner.intern(&point(&[]), &by_host);
        assert_eq!(missing.id, "host=");
        let none = interner.intern(&point(&[("host", "a")]), &GroupDimensions::default());
        assert_eq!(none.id, "nil");
        let all = GroupDimensions {
            all: true,
            exclude: vec!["dc".into()],
            ..Default::default()
        };
        let star = interner.intern(&point(&[("host", "a"), ("dc", "x"), ("z", "1")]), &all);
        assert_eq!(star.id, "host=a,z=1");
        let by_name = GroupDimensions {
            by_measurement: true,
            ..by_host
        };
        let named = interner.intern(&point(&[("host", "a")]), &by_name);
        assert_eq!(named.id, "cpu\nhost=a");
        assert_eq!(interner.len(), 6);
    }
}
