//! What the inbox reads on every POST, kept for a few seconds: the sending
//! peer's row (blocked? seen lately?) and the sending actor with its key.
//! A busy peer's deliveries then cost no database read before the insert.
//!
//! Changes made by this process are seen at once (`forget_peer` on a block
//! and on a failed delivery, `put_actor` after a refetch). Changes made elsewhere — another `serve`
//! process on the same PostgreSQL, `healthcommons block` on the command line
//! — are seen within [`PEER_TTL`].

use crate::objects::actor::DbActor;
use healthcommons_db::entities::peer;
use std::{
    collections::HashMap,
    hash::Hash,
    sync::Mutex,
    time::{Duration, Instant},
};

/// How long a peer's row is trusted without reading it again.
pub const PEER_TTL: Duration = Duration::from_secs(5);
/// How long a sending actor (and its key) is trusted without reading it again.
pub const ACTOR_TTL: Duration = Duration::from_secs(10);
/// Entries kept per map; when full, expired ones are dropped, then all.
const CAPACITY: usize = 10_000;

#[derive(Default)]
pub struct InboxCache {
    peers: Expiring<String, Option<peer::Model>>,
    actors: Expiring<String, DbActor>,
}

impl InboxCache {
    /// The peer's row as read at most [`PEER_TTL`] ago (`Some(None)`: it has no row).
    pub fn peer(&self, host: &str) -> Option<Option<peer::Model>> {
        self.peers.get(host, PEER_TTL)
    }

    pub fn put_peer(&self, host: &str, row: Option<peer::Model>) {
        self.peers.put(host.to_owned(), row);
    }

    /// Drop what is known of `host`, e.g. when it is blocked or unblocked.
    pub fn forget_peer(&self, host: &str) {
        self.peers.remove(host);
    }

    pub fn actor(&self, id: &str) -> Option<DbActor> {
        self.actors.get(id, ACTOR_TTL)
    }

    pub fn put_actor(&self, id: &str, actor: DbActor) {
        self.actors.put(id.to_owned(), actor);
    }

    pub fn forget_actor(&self, id: &str) {
        self.actors.remove(id);
    }
}

/// A map whose entries expire, bounded in size.
struct Expiring<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K, V> Default for Expiring<K, V> {
    fn default() -> Self {
        Expiring {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, V: Clone> Expiring<K, V> {
    fn get<Q>(&self, key: &Q, ttl: Duration) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, value)| value.clone())
    }

    fn put(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY {
            let now = Instant::now();
            let longest = PEER_TTL.max(ACTOR_TTL);
            entries.retain(|_, (at, _)| now.duration_since(*at) < longest);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value));
    }

    fn remove<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_forgotten() {
        let map: Expiring<String, u32> = Expiring::default();
        map.put("a.test".into(), 1);
        assert_eq!(map.get("a.test", Duration::from_secs(5)), Some(1));
        assert_eq!(map.get("a.test", Duration::ZERO), None, "older than the ttl");
        map.remove("a.test");
        assert_eq!(map.get("a.test", Duration::from_secs(5)), None);
    }

    #[test]
    fn the_map_never_grows_past_its_capacity() {
        let map: Expiring<usize, usize> = Expiring::default();
        for i in 0..CAPACITY + 10 {
            map.put(i, i);
        }
        let held = map.entries.lock().map(|e| e.len()).unwrap_or(0);
        assert!(held <= CAPACITY, "{held}");
        assert_eq!(
            map.get(&(CAPACITY + 9), Duration::from_secs(5)),
            Some(CAPACITY + 9)
        );
    }

    #[test]
    fn a_peer_without_a_row_is_remembered_as_such() {
        let cache = InboxCache::default();
        assert_eq!(cache.peer("new.test"), None, "not read yet");
        cache.put_peer("new.test", None);
        assert_eq!(cache.peer("new.test"), Some(None), "read: no row");
        cache.forget_peer("new.test");
        assert_eq!(cache.peer("new.test"), None);
    }
}
