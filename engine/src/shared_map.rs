//! [`SharedMap`]: a sorted map whose clones share one allocation until one of them changes.
//!
//! A point's tags and fields are read far more often than they are changed: every task a
//! batch reaches, every window and every group key copies them, and most never modify them.
//! Sharing makes those copies a reference-count increment; a change copies the map once
//! (`Arc::make_mut`), only when it is shared. Prometheus' `labels.Labels` and Vector's event
//! model make the same trade (immutable, shared label sets; copy on write).
//!
//! The map itself is a [`VecMap`] (one sorted vector: a point has few tags and fields). Reads
//! go through `Deref` to it, so `tags.get(k)` and `tags.iter()` work as on a `BTreeMap`; the
//! changing methods are spelled out here and copy only when needed (`remove` of an absent key
//! copies nothing).

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

pub use crate::vec_map::VecMap;

/// A [`VecMap`] behind an `Arc`, copied on write.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharedMap<K: Ord, V>(Arc<VecMap<K, V>>);

impl<K: Ord, V> Default for SharedMap<K, V> {
    fn default() -> Self {
        SharedMap(Arc::new(VecMap::new()))
    }
}

impl<K: Ord + Clone, V: Clone> SharedMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The map to change, copied first when it is shared.
    pub fn make_mut(&mut self) -> &mut VecMap<K, V> {
        Arc::make_mut(&mut self.0)
    }

    /// Whether `self` and `other` are one allocation (equal without looking at the entries).
    pub fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The address of the shared allocation: equal for maps that are [`SharedMap::ptr_eq`].
    pub fn addr(&self) -> usize {
        Arc::as_ptr(&self.0).cast::<()>() as usize
    }

    /// `BTreeMap::insert`.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.make_mut().insert(key, value)
    }

    /// `BTreeMap::remove`; copies nothing when the key is absent.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        if self.0.contains_key(key) {
            self.make_mut().remove(key)
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

    /// The map itself, copied only when it is shared.
    pub fn into_inner(self) -> VecMap<K, V> {
        Arc::try_unwrap(self.0).unwrap_or_else(|shared| (*shared).clone())
    }
}

impl<K: Ord, V> Deref for SharedMap<K, V> {
    type Target = VecMap<K, V>;

    fn deref(&self) -> &VecMap<K, V> {
        &self.0
    }
}

impl<K: Ord + fmt::Debug, V: fmt::Debug> fmt::Debug for SharedMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<K: Ord, V> From<BTreeMap<K, V>> for SharedMap<K, V> {
    fn from(map: BTreeMap<K, V>) -> Self {
        SharedMap(Arc::new(VecMap::from(map)))
    }
}

impl<K: Ord, V> From<VecMap<K, V>> for SharedMap<K, V> {
    fn from(map: VecMap<K, V>) -> Self {
        SharedMap(Arc::new(map))
    }
}

impl<K: Ord, V, const N: usize> From<[(K, V); N]> for SharedMap<K, V> {
    fn from(entries: [(K, V); N]) -> Self {
        SharedMap(Arc::new(VecMap::from(entries)))
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for SharedMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        SharedMap(Arc::new(iter.into_iter().collect()))
    }
}

impl<K: Ord + Clone, V: Clone> Extend<(K, V)> for SharedMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        let mut iter = iter.into_iter().peekable();
        if iter.peek().is_some() {
            self.make_mut().extend(iter);
        }
    }
}

impl<'a, K: Ord, V> IntoIterator for &'a SharedMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = crate::vec_map::Iter<'a, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
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
        self.0.serialize(serializer)
    }
}

impl<'de, K: Ord + serde::Deserialize<'de>, V: serde::Deserialize<'de>> serde::Deserialize<'de>
    for SharedMap<K, V>
{
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        VecMap::deserialize(deserializer).map(|map| SharedMap(Arc::new(map)))
    }
}

impl<K: Ord, V: PartialEq> PartialEq<BTreeMap<K, V>> for SharedMap<K, V> {
    fn eq(&self, other: &BTreeMap<K, V>) -> bool {
        *self.0 == *other
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
