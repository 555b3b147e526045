//! weir's own state in `data_dir/weir.db` (SQLite): tasks and templates ([`store`]), the
//! alert state of `alert().persist()` nodes ([`alert_state`], written by one thread in
//! batched transactions) and alert topics' events and handlers ([`topics`]).
//! One file for all of it, so a backup is one consistent snapshot.

pub mod alert_state;
pub mod backup;
pub mod recordings;
pub mod remotes;
pub mod store;
pub mod topics;
