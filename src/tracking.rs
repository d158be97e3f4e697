//! Client-side caching (CLIENT TRACKING), as Redis 7.0's tracking.c does it.
//!
//! - Default mode: after a read-only command of a tracking client, the keys it read are
//!   remembered in the tracking table (key → clients). A write, expiry, eviction or the
//!   table's own size limit (`tracking-table-max-keys`) invalidates the key: every client
//!   that read it gets one `invalidate` message and the key leaves the table (a client
//!   is told once until it reads the key again).
//! - BCAST mode: nothing is remembered; every key modified under a prefix the client
//!   registered is collected during an event-loop iteration and sent at its end.
//! - FLUSHDB/FLUSHALL send a null invalidation (every key) to every tracking client.
//! - Messages go to the client itself as RESP3 `invalidate` pushes, or to its REDIRECT
//!   client: as a push when that one speaks RESP3, or as a Pub/Sub message on
//!   `__redis__:invalidate` when it is a RESP2 client in Pub/Sub mode. A redirect client
//!   that went away gets a `tracking-redir-broken` push to the tracking client.
//! - Messages for the client whose command is running are held back and written after
//!   its reply (after the whole EXEC), as Redis does; before it when the command has not
//!   started yet (an eviction or the table limit that runs ahead of it).
//!
//! The table holds client ids with their slab index, so that a slab index reused by a new client is
//! never mistaken for the old one; entries of clients that left are dropped lazily.
use crate::resp::Reply;
use crate::server::Server;
use hashbrown::HashMap;
use std::collections::BTreeMap;

/// Per-client tracking flags (Redis's CLIENT_TRACKING_*).
pub const ON: u8 = 1;
pub const BCAST: u8 = 2;
pub const OPTIN: u8 = 4;
pub const OPTOUT: u8 = 8;
/// CLIENT CACHING YES (optin) / NO (optout) was given for the next command.
pub const CACHING: u8 = 16;
pub const NOLOOP: u8 = 32;
/// The redirect client is gone.
pub const BROKEN_REDIR: u8 = 64;

/// A client's tracking state.
#[derive(Default)]
pub struct ClientTracking {
    pub flags: u8,
    /// Client id invalidations are redirected to (0: none), and its slab index.
    pub redirect: u64,
    pub redirect_idx: usize,
    /// BCAST prefixes, in registration order.
    pub prefixes: Vec<Vec<u8>>,
}

/// A prefix of BCAST mode: its clients and the keys modified under it in this iteration.
#[derive(Default)]
struct Bcast {
    /// key → id of the client that last modified it (0: none), for NOLOOP.
    keys: BTreeMap<Vec<u8>, u64>,
    /// (slab index, id) of the clients registered for the prefix.
    clients: Vec<(usize, u64)>,
}

/// What an invalidation says.
enum Payload<'a> {
    Key(&'a [u8]),
    /// Every key (FLUSHDB/FLUSHALL).
    All,
    /// An array of keys already in RESP (BCAST).
    Keys(&'a [u8]),
}

/// A message held back for the running client: the tracking client it is for, and the
/// key (None: every key).
type Held = (usize, Option<Vec<u8>>);

#[derive(Default)]
pub struct Tracking {
    /// key → id → slab index of the clients that may have it cached.
    table: HashMap<Vec<u8>, HashMap<u64, usize>>,
    /// Entries across the table (INFO tracking_total_items).
    items: u64,
    prefixes: BTreeMap<Vec<u8>, Bcast>,
    /// Clients with tracking on (INFO tracking_clients).
    pub clients: usize,
    /// Messages for the running client, written after its reply.
    held: Vec<Held>,
    /// Rounds in a row the table stayed over its limit (more effort each round).
    over_limit_rounds: u32,
}

impl Tracking {
    /// Whether a modified key may concern anyone (the check on every write).
    #[inline]
    pub fn active(&self) -> bool {
        !self.table.is_empty() || !self.prefixes.is_empty()
    }
    #[inline]
    pub fn has_held(&self) -> bool {
        !self.held.is_empty()
    }
    pub fn total_keys(&self) -> usize {
        self.table.len()
    }
    pub fn total_items(&self) -> u64 {
        self.items
    }
    pub fn total_prefixes(&self) -> usize {
        self.prefixes.len()
    }
}

fn prefix_overlap(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// CLIENT TRACKING ON checks on BCAST prefixes: none may overlap another of the client's
/// (registered or given). Returns Redis's error.
pub fn check_prefixes(srv: &Server, idx: usize, given: &[&[u8]]) -> Result<(), String> {
    let have = &srv.net.clients[idx].trk.prefixes;
    for (i, p) in given.iter().enumerate() {
        if let Some(old) = have.iter().find(|o| prefix_overlap(o, p)) {
            return Err(format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(old)
            ));
        }
        if let Some(q) = given[i + 1..].iter().find(|q| prefix_overlap(p, q)) {
            return Err(format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                String::from_utf8_lossy(p),
                String::from_utf8_lossy(q)
            ));
        }
    }
    Ok(())
}

/// CLIENT TRACKING ON (the options were checked).
pub fn enable(srv: &mut Server, idx: usize, redirect: (u64, usize), options: u8, given: &[&[u8]]) {
    let id = srv.net.clients[idx].id;
    let t = &mut srv.net.clients[idx].trk;
    if t.flags & ON == 0 {
        srv.data.tracking.clients += 1;
    }
    t.flags = (t.flags & CACHING) | ON | (options & (BCAST | OPTIN | OPTOUT | NOLOOP));
    (t.redirect, t.redirect_idx) = redirect;
    if options & BCAST == 0 {
        return;
    }
    let mut add = |p: &[u8], t: &mut ClientTracking| {
        let b = srv.data.tracking.prefixes.entry(p.to_vec()).or_default();
        if !b.clients.iter().any(|&(s, i)| s == idx && i == id) {
            b.clients.push((idx, id));
            t.prefixes.push(p.to_vec());
        }
    };
    if given.is_empty() {
        add(b"", t);
    }
    for p in given {
        add(p, t);
    }
}

/// CLIENT TRACKING OFF or RESET.
pub fn disable(srv: &mut Server, idx: usize) {
    let mut t = std::mem::take(&mut srv.net.clients[idx].trk);
    forget_client(srv, idx, &t);
    t.flags &= !(ON | BROKEN_REDIR | BCAST | OPTIN | OPTOUT | CACHING | NOLOOP);
    t.prefixes.clear();
    srv.net.clients[idx].trk = t;
}

/// A client leaves (or turns tracking off): out of its prefixes and the count. Its
/// entries in the table are dropped lazily.
pub fn forget_client(srv: &mut Server, idx: usize, t: &ClientTracking) {
    for p in &t.prefixes {
        if let Some(b) = srv.data.tracking.prefixes.get_mut(p) {
            b.clients.retain(|&(s, _)| s != idx);
            if b.clients.is_empty() {
                srv.data.tracking.prefixes.remove(p);
            }
        }
    }
    if t.flags & ON != 0 {
        srv.data.tracking.clients -= 1;
    }
}

/// After a read-only command of a tracking client in default mode: remember its keys,
/// unless OPTIN without CACHING YES, or OPTOUT with CACHING NO.
pub fn remember<'a>(srv: &mut Server, idx: usize, keys: impl Iterator<Item = &'a [u8]>) {
    let c = &srv.net.clients[idx];
    let f = c.trk.flags;
    if f & ON == 0 || f & BCAST != 0 {
        return;
    }
    let caching = f & CACHING != 0;
    if (f & OPTIN != 0 && !caching) || (f & OPTOUT != 0 && caching) {
        return;
    }
    let id = c.id;
    for k in keys {
        let ids = match srv.data.tracking.table.get_mut(k) {
            Some(ids) => ids,
            None => srv.data.tracking.table.entry(k.to_vec()).or_default(),
        };
        if ids.insert(id, idx).is_none() {
            srv.data.tracking.items += 1;
        }
    }
}

/// A key was modified (written, deleted, expired, evicted): tell the clients that may
/// have it cached. `writer` is the client that modified it (None: the server itself),
/// for BCAST's NOLOOP; `bcast` false when the table's own limit drops the key.
#[inline]
pub fn invalidate_key(srv: &mut Server, key: &[u8], writer: Option<usize>) {
    if srv.data.tracking.active() {
        invalidate_key_slow(srv, key, writer, true);
    }
}

fn invalidate_key_slow(srv: &mut Server, key: &[u8], writer: Option<usize>, bcast: bool) {
    if bcast && !srv.data.tracking.prefixes.is_empty() {
        let writer_id = writer
            .and_then(|w| srv.net.clients.get(w))
            .map_or(0, |c| c.id);
        for (p, b) in srv.data.tracking.prefixes.iter_mut() {
            if key.starts_with(p) {
                b.keys.insert(key.to_vec(), writer_id);
            }
        }
    }
    let Some(ids) = srv.data.tracking.table.remove(key) else {
        return;
    };
    srv.data.tracking.items -= ids.len() as u64;
    let current = srv.executing;
    for (id, idx) in ids {
        let Some(c) = srv.net.clients.get(idx) else {
            continue;
        };
        // Clients that left, switched to BCAST (their older keys are not sent) or off.
        if c.id != id || c.trk.flags & ON == 0 || c.trk.flags & BCAST != 0 {
            continue;
        }
        if c.trk.flags & NOLOOP != 0 && Some(idx) == current {
            continue;
        }
        send(srv, idx, Payload::Key(key));
    }
}

/// FLUSHDB / FLUSHALL: every tracking client is told that every key is invalid, and the
/// table is emptied.
pub fn flushed(srv: &mut Server) {
    if srv.data.tracking.clients > 0 {
        let targets: Vec<usize> = srv
            .net
            .clients
            .iter()
            .filter(|(_, c)| c.trk.flags & ON != 0)
            .map(|(i, _)| i)
            .collect();
        for idx in targets {
            send(srv, idx, Payload::All);
        }
    }
    srv.data.tracking.table = HashMap::new();
    srv.data.tracking.items = 0;
}

/// Keep the table within `tracking-table-max-keys`, invalidating keys as needed (Redis's
/// trackingLimitUsedSlots: more effort each round the table stays over).
pub fn limit_table(srv: &mut Server) {
    let max = srv.cfg.tracking_table_max_keys;
    if max <= 0 || srv.data.tracking.table.len() <= max as usize {
        srv.data.tracking.over_limit_rounds = 0;
        return;
    }
    let effort = 100 * (srv.data.tracking.over_limit_rounds as usize + 1);
    let excess = srv.data.tracking.table.len() - max as usize;
    let victims: Vec<Vec<u8>> = srv
        .data
        .tracking
        .table
        .keys()
        .take(excess.min(effort))
        .cloned()
        .collect();
    for k in victims {
        invalidate_key_slow(srv, &k, None, false);
    }
    if srv.data.tracking.table.len() <= max as usize {
        srv.data.tracking.over_limit_rounds = 0;
    } else {
        srv.data.tracking.over_limit_rounds += 1;
    }
}

/// End of an event-loop iteration: send BCAST clients the keys modified under their
/// prefixes (without the ones they modified themselves, in NOLOOP mode).
pub fn broadcast(srv: &mut Server) {
    if srv
        .data
        .tracking
        .prefixes
        .values()
        .all(|b| b.keys.is_empty())
    {
        return;
    }
    let prefixes = std::mem::take(&mut srv.data.tracking.prefixes);
    let mut kept = BTreeMap::new();
    for (p, mut b) in prefixes {
        if !b.keys.is_empty() {
            let all = keys_array(&b.keys, None);
            for &(idx, id) in &b.clients {
                let Some(c) = srv.net.clients.get(idx) else {
                    continue;
                };
                if c.id != id {
                    continue;
                }
                if c.trk.flags & NOLOOP != 0 {
                    if let Some(own) = Some(keys_array(&b.keys, Some(id))).filter(|a| !a.is_empty())
                    {
                        send(srv, idx, Payload::Keys(&own));
                    }
                } else {
                    send(srv, idx, Payload::Keys(&all));
                }
            }
            b.keys.clear();
        }
        kept.insert(p, b);
    }
    srv.data.tracking.prefixes = kept;
}

/// The RESP array of `keys` (without those `skip` modified itself); empty if none left.
fn keys_array(keys: &BTreeMap<Vec<u8>, u64>, skip: Option<u64>) -> Vec<u8> {
    let n = keys.values().filter(|&&w| Some(w) != skip).count();
    if n == 0 {
        return Vec::new();
    }
    let mut out = format!("*{n}\r\n").into_bytes();
    for (k, &w) in keys {
        if Some(w) == skip {
            continue;
        }
        out.extend_from_slice(format!("${}\r\n", k.len()).as_bytes());
        out.extend_from_slice(k);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Where a message for tracking client `idx` goes: (destination, as a Pub/Sub message).
/// None when it can't be delivered (RESP2 without a Pub/Sub redirect); a broken redirect
/// is flagged and reported to the client itself.
fn route(
    srv: &mut Server,
    idx: usize,
    resp3_of: impl Fn(&Server, usize) -> bool,
) -> Option<(usize, bool)> {
    let c = &srv.net.clients[idx];
    if c.trk.redirect == 0 {
        return resp3_of(srv, idx).then_some((idx, false));
    }
    let (rid, ridx) = (c.trk.redirect, c.trk.redirect_idx);
    if srv.net.clients.get(ridx).is_some_and(|r| r.id == rid) {
        if resp3_of(srv, ridx) {
            return Some((ridx, false));
        }
        return srv.net.clients[ridx].subs.any().then_some((ridx, true));
    }
    srv.net.clients[idx].trk.flags |= BROKEN_REDIR;
    None
}

/// Write one message for tracking client `idx` into `out` (the destination's buffer).
fn render(out: &mut Reply, as_message: bool, payload: &Payload) {
    if as_message {
        out.raw(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n");
    } else {
        out.raw(b">2\r\n$10\r\ninvalidate\r\n");
    }
    match payload {
        Payload::Key(k) => {
            out.raw(b"*1\r\n");
            out.bulk(k);
        }
        Payload::All => out.raw(if out.resp3 { b"_\r\n" } else { b"$-1\r\n" }),
        Payload::Keys(proto) => out.raw(proto),
    }
}

/// The tracking-redir-broken push to a RESP3 client whose redirect client left.
fn render_broken(out: &mut Reply, redirect: u64) {
    if out.resp3 {
        out.raw(b">2\r\n$21\r\ntracking-redir-broken\r\n");
        out.int(redirect as i64);
    }
}

/// Deliver a message for tracking client `idx`: held back when it is for the running
/// client (its reply buffer is out of its `Client`), else into the destination's buffer.
fn send(srv: &mut Server, idx: usize, payload: Payload) {
    if srv.executing.is_some() {
        let c = &srv.net.clients[idx];
        let dest = if c.trk.redirect != 0 {
            c.trk.redirect_idx
        } else {
            idx
        };
        if Some(dest) == srv.executing || Some(idx) == srv.executing {
            let key = match payload {
                Payload::Key(k) => Some(k.to_vec()),
                Payload::All => None,
                Payload::Keys(proto) => Some(proto.to_vec()),
            };
            // BCAST arrays are sent at the end of an iteration, never while a command runs.
            srv.data.tracking.held.push((idx, key));
            return;
        }
    }
    match route(srv, idx, |s, i| s.net.clients[i].out.resp3) {
        Some((dest, as_message)) => write_to(srv, dest, |out| render(out, as_message, &payload)),
        None => {
            let t = &srv.net.clients[idx].trk;
            if t.flags & BROKEN_REDIR != 0 && t.redirect != 0 {
                let redirect = t.redirect;
                write_to(srv, idx, |out| render_broken(out, redirect));
            }
        }
    }
}

/// Write into another client's output buffer, and have it flushed.
fn write_to(srv: &mut Server, idx: usize, write: impl FnOnce(&mut Reply)) {
    let c = &mut srv.net.clients[idx];
    let idle = c.pending_output() == 0;
    write(&mut c.out);
    if idle {
        srv.net.pending_write.push(idx);
    }
}

/// Write the messages held back for the running client `idx` into its reply `out`.
pub fn flush_held(srv: &mut Server, idx: usize, out: &mut Reply) {
    let held = std::mem::take(&mut srv.data.tracking.held);
    for (target, key) in held {
        if !srv.net.clients.contains(target) {
            continue;
        }
        let payload = match &key {
            Some(k) => Payload::Key(k),
            None => Payload::All,
        };
        let resp3 = out.resp3;
        let route = route(srv, target, |s, i| {
            if i == idx {
                resp3
            } else {
                s.net.clients[i].out.resp3
            }
        });
        match route {
            Some((dest, as_message)) if dest == idx => render(out, as_message, &payload),
            Some((dest, as_message)) => {
                write_to(srv, dest, |out| render(out, as_message, &payload))
            }
            None if target == idx => {
                let t = &srv.net.clients[idx].trk;
                if t.flags & BROKEN_REDIR != 0 && t.redirect != 0 {
                    render_broken(out, t.redirect);
                }
            }
            None => {}
        }
    }
}

/// After a command of a client that tracks: the CACHING flag only lasts for the next
/// command (or transaction), as Redis clears it after any other command than CLIENT.
pub fn after_command(srv: &mut Server, idx: usize, was_client_cmd: bool) {
    if let Some(c) = srv.net.clients.get_mut(idx) {
        if c.trk.flags & CACHING != 0 && !was_client_cmd && !c.tx.active {
            c.trk.flags &= !CACHING;
        }
    }
}
