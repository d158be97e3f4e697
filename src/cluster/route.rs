//! Which node serves a command (Redis's getNodeByQuery): every key must hash to one slot
//! (-CROSSSLOT), the slot must be served (-CLUSTERDOWN), served here or redirected
//! (-MOVED, -ASK while the slot migrates, -TRYAGAIN for multi-key requests caught half
//! way), with READONLY clients reading from a replica of the slot's master.
use super::{Cluster, NodeId, NONE};
use crate::commands::keyspec::{self, KeyList};
use crate::keyspace::slots::key_slot;
use crate::resp::Args;
use crate::server::Server;

enum Verdict {
    Here,
    Moved(NodeId, u16),
    Ask(NodeId, u16),
    CrossSlot,
    TryAgain,
    Down,
    DownReadOnly,
    Unbound,
}

fn pubsub_shard(name: &str) -> bool {
    matches!(name, "ssubscribe" | "sunsubscribe" | "spublish")
}

/// Keys of one command, on the stack for the usual few.
type Keys<'a> = smallvec::SmallVec<[&'a [u8]; 8]>;

/// The keys (or shard channels) of one command.
fn keys<'a>(srv: &Server, id: usize, argv: &[&'a [u8]], out: &mut Keys<'a>) {
    let e = &srv.cmds.entries[id];
    match e.cmd.name {
        "ssubscribe" | "sunsubscribe" => out.extend_from_slice(&argv[1..]),
        "spublish" => out.push(argv[1]),
        _ => {
            let mut ks = KeyList::new();
            keyspec::keys_of(&e.keys, argv, &mut ks);
            out.extend(ks.iter().map(|&(p, _)| argv[p]));
        }
    }
}

/// Whether routing applies at all: a command with keys (or shard channels), or EXEC.
#[inline]
pub fn applies(srv: &Server, id: usize) -> bool {
    let e = &srv.cmds.entries[id];
    !e.keys.specs.is_empty() || e.keys.proc.is_some() || e.cmd.name == "exec"
}

fn exists(srv: &Server, key: &[u8]) -> bool {
    srv.data.ks.dbs[0].raw(key).is_some_and(|e| {
        let exp = e.expire();
        exp == crate::keyspace::NO_EXPIRE || exp > crate::keyspace::clock::now()
    })
}

/// What the keys seen so far say (Redis's getNodeByQuery loop state).
struct Scan<'a> {
    first: Option<&'a [u8]>,
    slot: u16,
    node: usize,
    migrating: bool,
    importing: bool,
    multiple: bool,
    missing: usize,
    existing: usize,
}

impl<'a> Scan<'a> {
    /// Account for one key; Some(verdict) when it settles the matter.
    fn key(&mut self, srv: &Server, cl: &Cluster, k: &'a [u8], shard: bool) -> Option<Verdict> {
        let s = key_slot(k);
        match self.first {
            None => {
                self.first = Some(k);
                self.slot = s;
                self.node = cl.slots[s as usize];
                if self.node == NONE {
                    return Some(Verdict::Unbound);
                }
                if self.node == cl.myself && cl.migrating[s as usize] != NONE {
                    self.migrating = true;
                } else if cl.importing[s as usize] != NONE {
                    self.importing = true;
                }
            }
            Some(f) if f != k => {
                if s != self.slot {
                    return Some(Verdict::CrossSlot);
                }
                self.multiple = true;
            }
            Some(_) => {}
        }
        if (self.migrating || self.importing) && !shard {
            if exists(srv, k) {
                self.existing += 1;
            } else {
                self.missing += 1;
            }
        }
        None
    }
}

fn verdict(srv: &Server, client: usize, id: usize, args: Args) -> (Verdict, Option<u16>) {
    let mut slot_seen = None;
    let v = verdict_inner(srv, client, id, args, &mut slot_seen);
    (v, slot_seen)
}

fn verdict_inner<'a>(
    srv: &'a Server,
    client: usize,
    id: usize,
    args: Args<'a>,
    slot_seen: &mut Option<u16>,
) -> Verdict {
    let cl: &Cluster = srv.cluster.as_deref().expect("cluster mode");
    let c = &srv.net.clients[client];
    let cmd = srv.cmds.entries[id].cmd;
    let is_exec = cmd.name == "exec";
    if is_exec && !c.tx.active {
        return Verdict::Here;
    }
    let shard = pubsub_shard(cmd.name);
    let mut scan = Scan {
        first: None,
        slot: 0,
        node: NONE,
        migrating: false,
        importing: false,
        multiple: false,
        missing: 0,
        existing: 0,
    };
    // One command at a time (EXEC: each queued one), its words and keys on the stack:
    // this runs before every keyed command in cluster mode.
    let mut visit = |qid: usize, qargs: Args<'a>| -> Option<Verdict> {
        let argv: smallvec::SmallVec<[&[u8]; 16]> = qargs.iter().collect();
        let mut ks = Keys::new();
        keys(srv, qid, &argv, &mut ks);
        ks.into_iter().find_map(|k| scan.key(srv, cl, k, shard))
    };
    if is_exec {
        for (qid, qargs) in c.tx.queued() {
            if let Some(v) = visit(qid, qargs) {
                return v;
            }
        }
    } else if let Some(v) = visit(id, args) {
        return v;
    }
    *slot_seen = scan.first.map(|_| scan.slot);
    let Scan {
        first,
        slot,
        node,
        migrating,
        importing,
        multiple,
        missing,
        existing,
    } = scan;
    if first.is_none() {
        return Verdict::Here;
    }
    let flags = crate::commands::multi::effective_flags(c, cmd);
    // A script that declares flags writes unless it says no-writes.
    let script_writes = (cmd.flags & crate::commands::SCRIPT_CALL != 0)
        .then(|| crate::scripting::declares_writes(srv, cmd.name, args))
        .flatten();
    let write = script_writes.unwrap_or(flags & crate::commands::WRITE != 0);
    if !cl.ok {
        if shard {
            if !srv.cfg.cluster_allow_pubsubshard_when_down {
                return Verdict::Down;
            }
        } else if !srv.cfg.cluster_allow_reads_when_down {
            return Verdict::Down;
        } else if write {
            return Verdict::DownReadOnly;
        }
    }
    if (migrating || importing) && cmd.name == "migrate" {
        return Verdict::Here;
    }
    if migrating && missing > 0 {
        return if existing > 0 {
            Verdict::TryAgain
        } else {
            Verdict::Ask(cl.migrating[slot as usize], slot)
        };
    }
    if importing && (c.asking || cmd.flags & crate::commands::ASKING != 0) {
        return if multiple && missing > 0 {
            Verdict::TryAgain
        } else {
            Verdict::Here
        };
    }
    let me = cl.me();
    if (c.cluster_readonly || shard) && !write && me.is_replica() && me.slaveof == Some(node) {
        return Verdict::Here;
    }
    if node != cl.myself {
        return Verdict::Moved(node, slot);
    }
    Verdict::Here
}

/// The endpoint clients are told to use for a node (cluster-preferred-endpoint-type).
pub fn endpoint(srv: &Server, n: NodeId) -> String {
    let node = &srv.cluster.as_deref().expect("cluster").nodes[n];
    match srv.cfg.cluster_preferred_endpoint_type.0 {
        1 => {
            if node.hostname.is_empty() {
                "?".into()
            } else {
                node.hostname.clone()
            }
        }
        2 => String::new(),
        _ => node.ip.clone(),
    }
}

/// The port a client is told: the plaintext one for a plaintext client of a TLS cluster.
pub fn client_port(srv: &Server, client: usize, n: NodeId) -> u16 {
    let node = &srv.cluster.as_deref().expect("cluster").nodes[n];
    if use_pport(srv, client) && node.pport != 0 {
        node.pport
    } else {
        node.port
    }
}

pub fn use_pport(srv: &Server, client: usize) -> bool {
    srv.cfg.tls_cluster
        && srv
            .net
            .clients
            .get(client)
            .is_some_and(|c| c.kind != crate::server::ClientKind::Tls)
}

/// The error redirecting this command elsewhere, or None to run it here.
pub fn check(srv: &Server, client: usize, id: usize, args: Args) -> Option<String> {
    let redirect = |kind: &str, n: NodeId, slot: u16| {
        format!(
            "{} {} {}:{}",
            kind,
            slot,
            endpoint(srv, n),
            client_port(srv, client, n)
        )
    };
    Some(match verdict(srv, client, id, args).0 {
        Verdict::Here => return None,
        Verdict::Moved(n, s) => redirect("MOVED", n, s),
        Verdict::Ask(n, s) => redirect("ASK", n, s),
        Verdict::CrossSlot => "CROSSSLOT Keys in request don't hash to the same slot".into(),
        Verdict::TryAgain => "TRYAGAIN Multiple keys request during rehashing of slot".into(),
        Verdict::Down => "CLUSTERDOWN The cluster is down".into(),
        Verdict::DownReadOnly => {
            "CLUSTERDOWN The cluster is down and only accepts read commands".into()
        }
        Verdict::Unbound => "CLUSTERDOWN Hash slot not served".into(),
    })
}

/// Blocked clients whose keys moved away (or every one while the cluster is down) get
/// their redirection now (every 100 ms, from the cluster's cron).
pub fn redirect_blocked(srv: &mut Server) {
    if srv.data.blocking.blocked_count() == 0 {
        return;
    }
    crate::blocking::redirect_blocked(srv, |srv, idx, key, write| {
        let cl = srv.cluster.as_deref().expect("cluster");
        if !cl.ok {
            return Some("CLUSTERDOWN The cluster is down".into());
        }
        let slot = key_slot(key);
        let mut node = cl.slots[slot as usize];
        let me = cl.me();
        if srv.net.clients[idx].cluster_readonly
            && !write
            && me.is_replica()
            && me.slaveof == Some(node)
        {
            node = cl.myself;
        }
        if node == cl.myself || cl.importing[slot as usize] != NONE {
            return None;
        }
        if node == NONE {
            return Some("CLUSTERDOWN Hash slot not served".into());
        }
        Some(format!(
            "MOVED {} {}:{}",
            slot,
            endpoint(srv, node),
            client_port(srv, idx, node)
        ))
    });
}

/// A command a script runs (Redis's scriptVerifyClusterState): its keys must be served
/// here, and (unless allow-cross-slot-keys) hash to the slot of the script's other keys.
pub fn script_check(srv: &mut Server, client: usize, id: usize, args: Args) -> Option<String> {
    let (v, slot) = verdict(srv, client, id, args);
    match v {
        Verdict::Here => {}
        Verdict::DownReadOnly => {
            return Some(
                "ERR Script attempted to execute a write command while the cluster is down and readonly"
                    .into(),
            )
        }
        Verdict::Down => {
            return Some("ERR Script attempted to execute a command while the cluster is down".into())
        }
        _ => return Some("ERR Script attempted to access a non local key in a cluster node".into()),
    }
    let declared =
        crate::scripting::declared_keys(srv).and_then(|k| k.first().map(|k| key_slot(k)));
    let r = srv.data.scripting.running.as_mut()?;
    if let (Some(s), false) = (slot, r.cross_slot) {
        match r.cluster_slot.or(declared) {
            None => r.cluster_slot = Some(s),
            Some(prev) if prev != s => {
                return Some(
                    "ERR Script attempted to access keys that do not hash to the same slot".into(),
                )
            }
            Some(prev) => r.cluster_slot = Some(prev),
        }
    }
    None
}
