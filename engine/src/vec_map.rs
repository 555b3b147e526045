//! [`VecMap`]: a map kept as one sorted `Vec` of pairs.
//!
//! A point has a handful of tags and usually one to three fields. A `BTreeMap` node holds room
//! for eleven entries whatever the count (about 600 bytes for a one-field point) and walks
//! pointers on every lookup; a sorted vector holds exactly its entries in one allocation and
//! finds a key by binary search. The API is the part of `BTreeMap`'s that weir uses, with the
//! same iteration order (by key), `Debug` output, equality, ordering and serialisation.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;

/// A sorted vector of `(key, value)` pairs with unique keys.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VecMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord, V> VecMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty map with room for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> Self {
        VecMap {
            entries: Vec::with_capacity(capacity),
        }
    }

    /// Set `key` to `value`; the previous value, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(index) => Some(std::mem::replace(&mut self.entries[index].1, value)),
            Err(index) => {
                self.entries.insert(index, (key, value));
                None
            }
        }
    }

    /// Remove `key`; its value, if it was there.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key)
            .ok()
            .map(|index| self.entries.remove(index).1)
    }

    /// Remove every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The entries, sorted by key, for building a shared map in one allocation.
    pub(crate) fn into_entries(self) -> Vec<(K, V)> {
        self.entries
    }
}

impl<K, V> std::ops::Deref for VecMap<K, V> {
    type Target = MapSlice<K, V>;

    fn deref(&self) -> &MapSlice<K, V> {
        MapSlice::new(&self.entries)
    }
}

/// The read side of a sorted map: a slice of `(key, value)` pairs sorted by key with unique
/// keys, as [`VecMap`] and [`crate::shared_map::SharedMap`] hold them (one in a `Vec`, the
/// other in a single shared allocation).
#[derive(ref_cast::RefCast)]
#[repr(transparent)]
pub struct MapSlice<K, V> {
    entries: [(K, V)],
}

impl<K, V> MapSlice<K, V> {
    /// View sorted, unique entries as a map.
    pub(crate) fn new(entries: &[(K, V)]) -> &MapSlice<K, V> {
        // `repr(transparent)`: the same layout, cast by `ref-cast` (weir forbids `unsafe`).
        <MapSlice<K, V> as ref_cast::RefCast>::ref_cast(entries)
    }

    /// The entries in key order.
    pub fn as_slice(&self) -> &[(K, V)] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in key order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter(self.entries.iter())
    }

    /// Keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator + Clone {
        self.entries.iter().map(|(key, _)| key)
    }

    /// Values in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator + Clone {
        self.entries.iter().map(|(_, value)| value)
    }
}

impl<K: Ord, V> MapSlice<K, V> {
    pub(crate) fn find<Q>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        // Points hold a handful of entries: a forward scan touches the same memory as a
        // binary search and stops at the first key not below the one wanted.
        if self.entries.len() <= 8 {
            for (index, (candidate, _)) in self.entries.iter().enumerate() {
                match candidate.borrow().cmp(key) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => return Ok(index),
                    std::cmp::Ordering::Greater => return Err(index),
                }
            }
            return Err(self.entries.len());
        }
        self.entries
            .binary_search_by(|(candidate, _)| candidate.borrow().cmp(key))
    }

    /// The value of `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|index| &self.entries[index].1)
    }

    /// Whether `key` is there.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).is_ok()
    }
}

impl<K: Clone, V: Clone> MapSlice<K, V> {
    /// An owned copy.
    pub fn to_vec_map(&self) -> VecMap<K, V> {
        VecMap {
            entries: self.entries.to_vec(),
        }
    }
}

impl<K, Q, V> std::ops::Index<&Q> for MapSlice<K, V>
where
    K: Borrow<Q> + Ord,
    Q: Ord + ?Sized,
{
    type Output = V;

    /// The value of `key`; panics when it is absent, as `BTreeMap`'s does.
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no entry found for key")
    }
}

/// Iterator over a [`VecMap`]'s entries.
#[derive(Clone)]
pub struct Iter<'a, K, V>(std::slice::Iter<'a, (K, V)>);

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(key, value)| (key, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<K, V> DoubleEndedIterator for Iter<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(key, value)| (key, value))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for VecMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for MapSlice<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(key, value)| (key, value)))
            .finish()
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for VecMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut entries: Vec<(K, V)> = iter.into_iter().collect();
        // Stable sort, then keep the last of equal keys, as inserting one by one would.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut map = VecMap {
            entries: Vec::with_capacity(entries.len()),
        };
        for (key, value) in entries {
            match map.entries.last_mut() {
                Some(last) if last.0 == key => last.1 = value,
                _ => map.entries.push((key, value)),
            }
        }
        map
    }
}

impl<K: Ord, V> Extend<(K, V)> for VecMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (key, value) in iter {
            self.insert(key, value);
        }
    }
}

impl<K: Ord, V> From<BTreeMap<K, V>> for VecMap<K, V> {
    fn from(map: BTreeMap<K, V>) -> Self {
        // Already sorted and unique.
        VecMap {
            entries: map.into_iter().collect(),
        }
    }
}

impl<K: Ord, V, const N: usize> From<[(K, V); N]> for VecMap<K, V> {
    fn from(entries: [(K, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<'a, K, V> IntoIterator for &'a VecMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        Iter(self.entries.iter())
    }
}

impl<'a, K, V> IntoIterator for &'a MapSlice<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        Iter(self.entries.iter())
    }
}

impl<K, V> IntoIterator for VecMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<K: Ord, V: PartialEq> PartialEq<BTreeMap<K, V>> for VecMap<K, V> {
    fn eq(&self, other: &BTreeMap<K, V>) -> bool {
        **self == *other
    }
}

impl<K: PartialEq, V: PartialEq> PartialEq for MapSlice<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl<K: Ord, V: PartialEq> PartialEq<BTreeMap<K, V>> for MapSlice<K, V> {
    fn eq(&self, other: &BTreeMap<K, V>) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((k1, v1), (k2, v2))| k1 == k2 && v1 == v2)
    }
}

impl<K: serde::Serialize, V: serde::Serialize> serde::Serialize for VecMap<K, V> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

impl<K: serde::Serialize, V: serde::Serialize> serde::Serialize for MapSlice<K, V> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.entries.iter().map(|(key, value)| (key, value)))
    }
}

impl<'de, K: Ord + serde::Deserialize<'de>, V: serde::Deserialize<'de>> serde::Deserialize<'de>
    for VecMap<K, V>
{
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        BTreeMap::deserialize(deserializer).map(VecMap::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_btree_map() {
        let mut map = VecMap::new();
        let mut reference = BTreeMap::new();
        for (i, key) in ["m", "c", "x", "a", "c", "q"].iter().enumerate() {
            assert_eq!(
                map.insert(key.to_string(), i),
                reference.insert(key.to_string(), i)
            );
        }
        assert_eq!(map.remove("x"), reference.remove("x"));
        assert_eq!(map.remove("nope"), reference.remove("nope"));
        assert!(map == reference);
        assert_eq!(format!("{map:?}"), format!("{reference:?}"));
        assert_eq!(
            map.iter().collect::<Vec<_>>(),
            reference.iter().collect::<Vec<_>>()
        );
        assert_eq!(map.get("c"), Some(&4));
        let collected: VecMap<&str, i32> = [("b", 1), ("a", 2), ("b", 3)].into_iter().collect();
        assert_eq!(
            collected.iter().collect::<Vec<_>>(),
            vec![(&"a", &2), (&"b", &3)]
        );
        assert_eq!(
            serde_json::to_string(&map).unwrap(),
            serde_json::to_string(&reference).unwrap()
        );
    }
}
