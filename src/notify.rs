//! Keyspace notifications (`notify-keyspace-events`): a write publishes its event name on
//! `__keyspace@<db>__:<key>` (K) and the key on `__keyevent@<db>__:<event>` (E).
//! Call `notify(ctx, class, event, key)` after the write, with the class letter's constant.
//! The disabled case costs one flag test, so calls can sit on hot paths.
use crate::commands::{multi, pubsub};
use crate::keyspace::Key;
use crate::server::{Ctx, Server};

pub use crate::config::types::{
    NOTIFY_EVICTED as EVICTED, NOTIFY_EXPIRED as EXPIRED, NOTIFY_GENERIC as GENERIC,
    NOTIFY_HASH as HASH, NOTIFY_KEYEVENT as KEYEVENT, NOTIFY_KEYSPACE as KEYSPACE,
    NOTIFY_KEY_MISS as KEY_MISS, NOTIFY_LIST as LIST, NOTIFY_NEW as NEW, NOTIFY_SET as SET,
    NOTIFY_STREAM as STREAM, NOTIFY_STRING as STRING, NOTIFY_ZSET as ZSET,
};

/// Publish `event` for `key` of the client's current database if `class` is enabled.
#[inline]
pub fn notify(ctx: &mut Ctx, class: u32, event: &str, key: &[u8]) {
    notify_db(ctx.srv, ctx.db, class, event, key)
}

/// As `notify`, for a given database (expiry, eviction, commands touching another db).
#[inline]
pub fn notify_db(srv: &mut Server, db: usize, class: u32, event: &str, key: &[u8]) {
    let flags = srv.cfg.notify_keyspace_events.0;
    if flags & class == 0 || flags & (KEYSPACE | KEYEVENT) == 0 || !pubsub::has_subscribers(srv) {
        return;
    }
    publish_event(srv, flags, db, event, key);
}

fn publish_event(srv: &mut Server, flags: u32, db: usize, event: &str, key: &[u8]) {
    let mut dbs = itoa::Buffer::new();
    let dbs = dbs.format(db).as_bytes();
    let mut chan = Vec::with_capacity(16 + dbs.len() + key.len().max(event.len()));
    if flags & KEYSPACE != 0 {
        chan.extend_from_slice(b"__keyspace@");
        chan.extend_from_slice(dbs);
        chan.extend_from_slice(b"__:");
        chan.extend_from_slice(key);
        pubsub::publish(srv, &chan, event.as_bytes(), false);
    }
    if flags & KEYEVENT != 0 {
        chan.clear();
        chan.extend_from_slice(b"__keyevent@");
        chan.extend_from_slice(dbs);
        chan.extend_from_slice(b"__:");
        chan.extend_from_slice(event.as_bytes());
        pubsub::publish(srv, &chan, key, false);
    }
}

/// Keys deleted by expiry (active cycle or lazily on access): "expired" events, and the
/// watchers of those keys see a change.
pub fn keys_expired(srv: &mut Server, db: usize, keys: &mut Vec<Key>) {
    for k in keys.drain(..) {
        srv.data.prop.deletion(db, &k, srv.cfg.lazyfree_lazy_expire);
        notify_db(srv, db, EXPIRED, "expired", &k);
        multi::touch_key(srv, db, &k);
        crate::tracking::invalidate_key(srv, &k, None);
    }
}

/// Drain the keys a database deleted lazily (found expired on access) since last asked.
/// Called after every write: the test is inline, the work out of line.
#[inline(always)]
pub fn lazy_expired(srv: &mut Server, db: usize) {
    if !srv.data.ks.dbs[db].lazy_expired.is_empty() {
        drain_lazy_expired(srv, db);
    }
}

#[cold]
#[inline(never)]
fn drain_lazy_expired(srv: &mut Server, db: usize) {
    let mut keys = std::mem::take(&mut srv.data.ks.dbs[db].lazy_expired);
    srv.admin.stats.expired_keys += keys.len() as u64;
    keys_expired(srv, db, &mut keys);
    // Give the (empty) allocation back for reuse.
    if srv.data.ks.dbs[db].lazy_expired.is_empty() {
        srv.data.ks.dbs[db].lazy_expired = keys;
    }
}

/// A key evicted by maxmemory.
pub fn evicted(srv: &mut Server, db: usize, key: &[u8]) {
    srv.data
        .prop
        .deletion(db, key, srv.cfg.lazyfree_lazy_eviction);
    notify_db(srv, db, EVICTED, "evicted", key);
    multi::touch_key(srv, db, key);
    crate::tracking::invalidate_key(srv, key, None);
}

/// An event for a command that may have removed the key (pops, removals): the event,
/// then "del" when the key is gone, as Redis does when a container becomes empty.
pub fn notify_write(ctx: &mut Ctx, class: u32, event: &str, key: &[u8]) {
    notify(ctx, class, event, key);
    if ctx.srv.cfg.notify_keyspace_events.0 & GENERIC != 0 && !ctx.dbm().dict.contains(key) {
        notify(ctx, GENERIC, "del", key);
    }
}

/// SET and friends: "new" if the key was created, "set", then "expire" if a TTL was given.
pub fn set_events(ctx: &mut Ctx, key: &[u8], created: bool, with_ttl: bool) {
    if created {
        notify(ctx, NEW, "new", key);
    }
    notify(ctx, STRING, "set", key);
    if with_ttl {
        notify(ctx, GENERIC, "expire", key);
    }
}
