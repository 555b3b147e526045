//! [`SharedMap`]: a sorted map whose clones share one allocation until one of them changes.
//!
//! A point's tags and fields are read far more often than they are changed: every task a
//! batch reaches, every window and every group key copies them, and most never modify them.
//! Sharing makes those copies a reference-count increment; a change makes a new block (a
//! value replaced in a map nobody shares is changed in place). Prometheus' `labels.Labels`
//! and Vector's event model make the same trade (immutable, shared label sets; copy on write).
//!
//! The entries are one sorted `Arc<[(K, V)]>` (a point has few tags and fields): counts and
//! entries in one allocation, one pointer from the point. Reads go through `Deref` to a
//! [`MapSlice`], so `tags.get(k)` and `tags.iter()` work as on a `BTreeMap`; build a map with
//! many entries as a [`VecMap`] or from an iterator, not by inserting one at a time.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

pub use crate::vec_map::{MapSlice, VecMap};

/// Sorted, unique entries behind one `Arc<[_]>`: the reference counts and the entries are a
/// single allocation, so reading a point's field is one pointer away from the point.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharedMap<K: Ord, V>(Arc<[(K, V)]>);

impl<K: Ord, V> Default for SharedMap<K, V> {
    fn default() -> Self {
        SharedMap(Arc::from(Vec::new()))
    }
}

impl<K: Ord, V> SharedMap<K, V> {
    /// Whether `self` and `other` are one allocation (equal without looking at the entries).
    pub fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The address of the shared allocation: equal for maps that are [`SharedMap::ptr_eq`].
    pub fn addr(&self) -> usize {
        Arc::as_ptr(&self.0).cast::<()>() as usize
    }

    /// A map of entries already sorted by key with unique keys (the caller checked).
    fn from_sorted(entries: Vec<(K, V)>) -> Self {
        SharedMap(Arc::from(entries))
    }

    /// A map of the entries of `scratch`, which are sorted by key with unique keys (the caller
    /// keeps them so), in one allocation of exactly their size; `scratch` is left empty with
    /// its capacity, ready for the next map.
    pub(crate) fn from_sorted_scratch(scratch: &mut Vec<(K, V)>) -> Self {
        SharedMap(scratch.drain(..).collect())
    }
}

impl<K: Ord + Clone, V: Clone> SharedMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replace the entries with a changed copy: the entries are one shared block, so every
    /// change makes a new one (points are changed far less often than they are read).
    fn change<R>(&mut self, edit: impl FnOnce(&mut VecMap<K, V>) -> R) -> R {
        let mut map = self.to_vec_map();
        let result = edit(&mut map);
        *self = SharedMap::from_sorted(map.into_entries());
        result
    }

    /// `BTreeMap::insert`.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        if let Ok(index) = (**self).find(&key)
            && let Some(entries) = Arc::get_mut(&mut self.0)
        {
            return Some(std::mem::replace(&mut entries[index].1, value));
        }
        self.change(|map| map.insert(key, value))
    }

    /// `BTreeMap::remove`; copies nothing when the key is absent.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        if (**self).contains_key(key) {
            self.change(|map| map.remove(key))
        } else {
            None
        }
    }

    /// `BTreeMap::clear`, without copying a shared map first.
    pub fn clear(&mut self) {
        if !self.0.is_empty() {
            *self = Self::default();
        }
    }

    /// The map itself (a copy of the entries).
    pub fn into_inner(self) -> VecMap<K, V> {
        self.to_vec_map()
    }
}

impl<K: Ord, V> Deref for SharedMap<K, V> {
    type Target = MapSlice<K, V>;

    fn deref(&self) -> &MapSlice<K, V> {
        MapSlice::new(&self.0)
    }
}

impl<K: Ord + fmt::Debug, V: fmt::Debug> fmt::Debug for SharedMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<K: Ord, V> From<BTreeMap<K, V>> for SharedMap<K, V> {
    fn from(map: BTreeMap<K, V>) -> Self {
        SharedMap::from_sorted(map.into_iter().collect())
    }
}

impl<K: Ord, V> From<VecMap<K, V>> for SharedMap<K, V> {
    fn from(map: VecMap<K, V>) -> Self {
        SharedMap::from_sorted(map.into_entries())
    }
}

impl<K: Ord, V, const N: usize> From<[(K, V); N]> for SharedMap<K, V> {
    fn from(entries: [(K, V); N]) -> Self {
        SharedMap::from(VecMap::from(entries))
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for SharedMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        SharedMap::from(iter.into_iter().collect::<VecMap<K, V>>())
    }
}

impl<K: Ord + Clone, V: Clone> Extend<(K, V)> for SharedMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        let mut iter = iter.into_iter().peekable();
        if iter.peek().is_some() {
            self.change(|map| map.extend(iter));
        }
    }
}

impl<'a, K: Ord, V> IntoIterator for &'a SharedMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = crate::vec_map::Iter<'a, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        (**self).iter()
    }
}

impl<K: Ord + Clone, V: Clone> IntoIterator for SharedMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_inner().into_iter()
    }
}

impl<K: Ord + serde::Serialize, V: serde::Serialize> serde::Serialize for SharedMap<K, V> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

impl<'de, K: Ord + serde::Deserialize<'de>, V: serde::Deserialize<'de>> serde::Deserialize<'de>
    for SharedMap<K, V>
{
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        VecMap::deserialize(deserializer).map(SharedMap::from)
    }
}

impl<K: Ord, V: PartialEq> PartialEq<BTreeMap<K, V>> for SharedMap<K, V> {
    fn eq(&self, other: &BTreeMap<K, V>) -> bool {
        **self == *other
    }
}

impl<K: Ord + Clone, V: Clone> SharedMap<K, V> {
    /// The entries as a `BTreeMap` (for the few places that keep one).
    pub fn to_btree(&self) -> BTreeMap<K, V> {
        self.iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_until_one_changes() {
        let mut a: SharedMap<String, String> = [("host".to_owned(), "a".to_owned())].into();
        let b = a.clone();
        assert!(a.ptr_eq(&b));
        assert_eq!(a.remove("absent"), None);
        assert!(a.ptr_eq(&b), "removing an absent key copies nothing");
        a.insert("dc".into(), "x".into());
        assert!(!a.ptr_eq(&b));
        assert_eq!(b.len(), 1);
        assert_eq!(a.len(), 2);
        assert_eq!(a.get("host").map(String::as_str), Some("a"));
        let owned: Vec<(String, String)> = a.into_iter().collect();
        assert_eq!(owned.len(), 2);
    }
}
