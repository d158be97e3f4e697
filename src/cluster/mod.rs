//! Redis Cluster: this node's view of the cluster (nodes, slots, epochs), kept in
//! nodes.conf, exchanged over the cluster bus (`bus`, in Redis 7.0's wire format:
//! `msg`) and used to route commands (`route`). The CLUSTER command family is in
//! `commands::cluster`.
//!
//! Nodes live in a slab (`NodeId` is the index); every reference to a node (slot owners,
//! masters, replicas, failure reports, links) is removed when the node is deleted.
//! Messages to send and links to close are queued here and carried out by `bus`, which
//! owns the I/O: the state below never touches a socket.
pub mod bus;
pub mod msg;
pub mod route;

use crate::server::Server;
use msg::{NAMELEN, SLOTS, SLOT_BYTES};
use slab::Slab;
use std::collections::HashMap;
use std::io::Write as _;

pub use msg::{
    N_FAIL, N_HANDSHAKE, N_MASTER, N_MEET, N_MIGRATE_TO, N_MYSELF, N_NOADDR, N_NOFAILOVER, N_PFAIL,
    N_SLAVE,
};

pub type NodeId = usize;
pub type Name = [u8; NAMELEN];

/// No node (in the slot tables).
pub const NONE: usize = usize::MAX;

/// How long a failure report counts (times node-timeout).
const FAIL_REPORT_VALIDITY_MULT: i64 = 2;
/// A master's FAIL is undone when it is back and nobody took its slots (times
/// node-timeout).
const FAIL_UNDO_TIME_MULT: i64 = 2;
/// A master does not declare the cluster OK in its first 2 s (Redis's
/// CLUSTER_WRITABLE_DELAY).
const WRITABLE_DELAY: i64 = 2000;
const MAX_REJOIN_DELAY: i64 = 5000;
const MIN_REJOIN_DELAY: i64 = 500;
/// A forgotten node is not re-added from gossip for this long (seconds).
const BLACKLIST_TTL: i64 = 60;

// What to do before the event loop sleeps.
pub const TODO_SAVE: u8 = 1;
pub const TODO_FSYNC: u8 = 2;
pub const TODO_UPDATE_STATE: u8 = 4;
pub const TODO_HANDLE_FAILOVER: u8 = 8;

pub struct Node {
    pub name: Name,
    pub flags: u16,
    /// Creation time (ms), for the handshake timeout.
    pub ctime: i64,
    pub config_epoch: u64,
    pub slots: Box<[u8; SLOT_BYTES]>,
    pub numslots: usize,
    pub slaveof: Option<NodeId>,
    pub replicas: Vec<NodeId>,
    /// Unix ms of the PING in flight (0: none), of the last PONG, of any data.
    pub ping_sent: i64,
    pub pong_received: i64,
    pub data_received: i64,
    pub fail_time: i64,
    pub voted_time: i64,
    pub repl_offset: i64,
    pub repl_offset_time: i64,
    pub orphaned_time: i64,
    pub ip: String,
    pub hostname: String,
    pub port: u16,
    pub pport: u16,
    pub cport: u16,
    /// The link this node opened to it, and the one it opened to us.
    pub link: Option<usize>,
    pub inbound: Option<usize>,
    /// Masters that said this node is failing, and when.
    pub fail_reports: Vec<(NodeId, i64)>,
    pub last_in_ping_gossip: u64,
}

impl Node {
    pub fn new(name: Option<Name>, flags: u16) -> Node {
        let name = name.unwrap_or_else(random_name);
        Node {
            name,
            flags,
            ctime: now(),
            config_epoch: 0,
            slots: Box::new([0; SLOT_BYTES]),
            numslots: 0,
            slaveof: None,
            replicas: Vec::new(),
            ping_sent: 0,
            pong_received: 0,
            data_received: 0,
            fail_time: 0,
            voted_time: 0,
            repl_offset: 0,
            repl_offset_time: 0,
            orphaned_time: 0,
            ip: String::new(),
            hostname: String::new(),
            port: 0,
            pport: 0,
            cport: 0,
            link: None,
            inbound: None,
            fail_reports: Vec::new(),
            last_in_ping_gossip: 0,
        }
    }
    pub fn is_master(&self) -> bool {
        self.flags & N_MASTER != 0
    }
    pub fn is_replica(&self) -> bool {
        self.flags & N_SLAVE != 0
    }
    pub fn in_handshake(&self) -> bool {
        self.flags & N_HANDSHAKE != 0
    }
    pub fn has_addr(&self) -> bool {
        self.flags & N_NOADDR == 0
    }
    pub fn timed_out(&self) -> bool {
        self.flags & N_PFAIL != 0
    }
    pub fn failed(&self) -> bool {
        self.flags & N_FAIL != 0
    }
    pub fn name_str(&self) -> &str {
        std::str::from_utf8(&self.name).unwrap_or("?")
    }
    pub fn has_slot(&self, slot: usize) -> bool {
        msg::bit(&self.slots, slot)
    }
}

/// A bus link's side of the story: which node it talks to, and who opened it.
pub struct BusLink {
    pub node: Option<NodeId>,
    pub inbound: bool,
    /// Creation time (ms).
    pub ctime: i64,
}

pub struct Cluster {
    pub nodes: Slab<Node>,
    pub by_name: HashMap<Name, NodeId>,
    pub myself: NodeId,
    pub current_epoch: u64,
    pub last_vote_epoch: u64,
    pub ok: bool,
    /// Masters serving at least one slot.
    pub size: usize,
    pub slots: Vec<usize>,
    pub migrating: Vec<usize>,
    pub importing: Vec<usize>,
    /// Slots whose owner stopped claiming them in its pings.
    pub owner_not_claiming: Box<[u8; SLOT_BYTES]>,
    pub links: HashMap<usize, BusLink>,
    /// Forgotten nodes and until when (unix s).
    pub blacklist: HashMap<Name, i64>,
    pub todo: u8,
    pub sent: [u64; msg::TYPE_COUNT],
    pub received: [u64; msg::TYPE_COUNT],
    pub links_buffer_limit_exceeded: u64,
    pub pfail_nodes: usize,
    pub pings_sent: u64,
    pub iteration: u64,
    pub first_update: i64,
    pub among_minority_time: i64,
    /// Messages queued for links, and links to close: carried out by `bus::flush`.
    pub outbox: Vec<(usize, Vec<u8>)>,
    pub dead_links: Vec<usize>,
    /// The config file and the open descriptor holding its lock.
    pub config_file: String,
    pub lock: Option<std::fs::File>,
    /// The temporary file nodes.conf is written to before it is renamed in place.
    tmp_name: String,
    /// Slots that left this node's shard: their shard channels are dropped.
    pub dropped_shard_slots: Vec<u16>,
    /// Replica election and manual failover.
    pub failover: bus::FailoverState,
    /// DEBUG DROP-CLUSTER-PACKET-FILTER: messages of this type are dropped (-1: none).
    pub drop_filter: i64,
}

pub fn now() -> i64 {
    crate::util::now_ms()
}

/// A new random node name (40 hex characters).
pub fn random_name() -> Name {
    let s = crate::server::random_hex(NAMELEN);
    let mut n = [0u8; NAMELEN];
    n.copy_from_slice(&s.as_bytes()[..NAMELEN]);
    n
}

/// Whether `name` has the shape of a node ID (40 characters of [a-z0-9]).
pub fn valid_name(name: &[u8]) -> bool {
    name.len() == NAMELEN
        && name
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

pub fn set_bit(map: &mut [u8; SLOT_BYTES], slot: usize) {
    map[slot / 8] |= 1 << (slot & 7);
}
pub fn clear_bit(map: &mut [u8; SLOT_BYTES], slot: usize) {
    map[slot / 8] &= !(1 << (slot & 7));
}

impl Cluster {
    pub fn new(config_file: &str) -> Cluster {
        Cluster {
            nodes: Slab::new(),
            by_name: HashMap::new(),
            myself: NONE,
            current_epoch: 0,
            last_vote_epoch: 0,
            ok: false,
            size: 1,
            slots: vec![NONE; SLOTS],
            migrating: vec![NONE; SLOTS],
            importing: vec![NONE; SLOTS],
            owner_not_claiming: Box::new([0; SLOT_BYTES]),
            links: HashMap::new(),
            blacklist: HashMap::new(),
            todo: 0,
            sent: [0; msg::TYPE_COUNT],
            received: [0; msg::TYPE_COUNT],
            links_buffer_limit_exceeded: 0,
            pfail_nodes: 0,
            pings_sent: 0,
            iteration: 0,
            first_update: 0,
            among_minority_time: 0,
            outbox: Vec::new(),
            dead_links: Vec::new(),
            config_file: config_file.to_string(),
            lock: None,
            tmp_name: String::new(),
            dropped_shard_slots: Vec::new(),
            failover: bus::FailoverState::default(),
            drop_filter: -1,
        }
    }

    pub fn me(&self) -> &Node {
        &self.nodes[self.myself]
    }
    pub fn me_mut(&mut self) -> &mut Node {
        let m = self.myself;
        &mut self.nodes[m]
    }
    /// This node's master (itself if a master).
    pub fn my_master(&self) -> Option<NodeId> {
        let me = self.me();
        if me.is_master() {
            Some(self.myself)
        } else {
            me.slaveof
        }
    }

    pub fn lookup(&self, name: &[u8]) -> Option<NodeId> {
        if !valid_name(name) {
            return None;
        }
        let n: &Name = name.try_into().ok()?;
        self.by_name.get(n).copied()
    }

    pub fn add_node(&mut self, node: Node) -> NodeId {
        let name = node.name;
        let id = self.nodes.insert(node);
        self.by_name.insert(name, id);
        id
    }

    pub fn rename(&mut self, id: NodeId, name: Name) {
        let old = self.nodes[id].name;
        self.by_name.remove(&old);
        self.nodes[id].name = name;
        self.by_name.insert(name, id);
    }

    /// Forget a node and every reference to it; its links are closed.
    pub fn del_node(&mut self, id: NodeId) {
        for s in 0..SLOTS {
            if self.importing[s] == id {
                self.importing[s] = NONE;
            }
            if self.migrating[s] == id {
                self.migrating[s] = NONE;
            }
            if self.slots[s] == id {
                self.del_slot(s);
            }
        }
        let ids: Vec<NodeId> = self.nodes.iter().map(|(i, _)| i).collect();
        for other in ids {
            if other != id {
                self.del_failure_report(other, id);
            }
        }
        let replicas = std::mem::take(&mut self.nodes[id].replicas);
        for r in replicas {
            if let Some(n) = self.nodes.get_mut(r) {
                n.slaveof = None;
            }
        }
        if let Some(m) = self.nodes[id].slaveof {
            if self.nodes[id].is_replica() {
                self.remove_replica(m, id);
            }
        }
        for l in [self.nodes[id].link, self.nodes[id].inbound]
            .into_iter()
            .flatten()
        {
            self.free_link(l);
        }
        let n = self.nodes.remove(id);
        self.by_name.remove(&n.name);
    }

    /// Drop a link (closed by `bus::flush`).
    pub fn free_link(&mut self, l: usize) {
        if let Some(bl) = self.links.remove(&l) {
            if let Some(n) = bl.node.and_then(|n| self.nodes.get_mut(n)) {
                if n.link == Some(l) {
                    n.link = None;
                }
                if n.inbound == Some(l) {
                    n.inbound = None;
                }
            }
            self.dead_links.push(l);
        }
    }

    pub fn add_slot(&mut self, id: NodeId, slot: usize) -> bool {
        if self.slots[slot] != NONE {
            return false;
        }
        let n = &mut self.nodes[id];
        if !msg::bit(&n.slots, slot) {
            set_bit(&mut n.slots, slot);
            n.numslots += 1;
        }
        self.slots[slot] = id;
        true
    }

    pub fn del_slot(&mut self, slot: usize) -> bool {
        let id = self.slots[slot];
        if id == NONE {
            return false;
        }
        // A slot leaving our shard takes its shard channels with it (`bus::flush`).
        if self.myself != NONE && (id == self.myself || self.me().slaveof == Some(id)) {
            self.dropped_shard_slots.push(slot as u16);
        }
        let n = &mut self.nodes[id];
        if msg::bit(&n.slots, slot) {
            clear_bit(&mut n.slots, slot);
            n.numslots -= 1;
        }
        self.slots[slot] = NONE;
        clear_bit(&mut self.owner_not_claiming, slot);
        true
    }

    pub fn del_node_slots(&mut self, id: NodeId) -> usize {
        let mut deleted = 0;
        for s in 0..SLOTS {
            if self.nodes[id].has_slot(s) {
                self.del_slot(s);
                deleted += 1;
            }
        }
        deleted
    }

    /// Whether some slot is being migrated or imported.
    pub fn any_open_slot(&self) -> bool {
        self.migrating
            .iter()
            .chain(self.importing.iter())
            .any(|&n| n != NONE)
    }

    pub fn close_all_slots(&mut self) {
        self.migrating.iter_mut().for_each(|s| *s = NONE);
        self.importing.iter_mut().for_each(|s| *s = NONE);
    }

    pub fn add_replica(&mut self, master: NodeId, replica: NodeId) {
        let m = &mut self.nodes[master];
        if !m.replicas.contains(&replica) {
            m.replicas.push(replica);
        }
        m.flags |= N_MIGRATE_TO;
    }

    pub fn remove_replica(&mut self, master: NodeId, replica: NodeId) {
        if let Some(m) = self.nodes.get_mut(master) {
            m.replicas.retain(|&r| r != replica);
            if m.replicas.is_empty() {
                m.flags &= !N_MIGRATE_TO;
            }
        }
    }

    pub fn count_non_failing_replicas(&self, id: NodeId) -> usize {
        self.nodes[id]
            .replicas
            .iter()
            .filter(|&&r| !self.nodes[r].failed())
            .count()
    }

    pub fn set_node_as_master(&mut self, id: NodeId) {
        if self.nodes[id].is_master() {
            return;
        }
        if let Some(m) = self.nodes[id].slaveof {
            self.remove_replica(m, id);
            if id != self.myself {
                self.nodes[id].flags |= N_MIGRATE_TO;
            }
        }
        let n = &mut self.nodes[id];
        n.flags &= !N_SLAVE;
        n.flags |= N_MASTER;
        n.slaveof = None;
        self.todo |= TODO_SAVE | TODO_UPDATE_STATE;
    }

    // --- failure reports ---

    pub fn add_failure_report(&mut self, failing: NodeId, sender: NodeId) -> bool {
        let t = now();
        let fr = &mut self.nodes[failing].fail_reports;
        if let Some(r) = fr.iter_mut().find(|r| r.0 == sender) {
            r.1 = t;
            return false;
        }
        fr.push((sender, t));
        true
    }

    fn cleanup_failure_reports(&mut self, id: NodeId, node_timeout: i64) {
        let max = node_timeout * FAIL_REPORT_VALIDITY_MULT;
        let t = now();
        self.nodes[id].fail_reports.retain(|r| t - r.1 <= max);
    }

    pub fn del_failure_report(&mut self, id: NodeId, sender: NodeId) -> bool {
        let fr = &mut self.nodes[id].fail_reports;
        let before = fr.len();
        fr.retain(|r| r.0 != sender);
        before != fr.len()
    }

    pub fn failure_reports(&mut self, id: NodeId, node_timeout: i64) -> usize {
        self.cleanup_failure_reports(id, node_timeout);
        self.nodes[id].fail_reports.len()
    }

    // --- epochs ---

    pub fn max_epoch(&self) -> u64 {
        self.nodes
            .iter()
            .map(|(_, n)| n.config_epoch)
            .max()
            .unwrap_or(0)
            .max(self.current_epoch)
    }

    /// A new config epoch for this node without agreement (CLUSTER BUMPEPOCH, slot
    /// import, TAKEOVER): true if it changed.
    pub fn bump_epoch_without_consensus(&mut self) -> bool {
        let max = self.max_epoch();
        let my = self.me().config_epoch;
        if my == 0 || my != max {
            self.current_epoch += 1;
            let e = self.current_epoch;
            self.me_mut().config_epoch = e;
            self.todo |= TODO_SAVE | TODO_FSYNC;
            crate::warn!("New configEpoch set to {}", e);
            true
        } else {
            false
        }
    }

    // --- the blacklist of forgotten nodes ---

    pub fn blacklist_add(&mut self, name: Name) {
        self.blacklist_cleanup();
        self.blacklist.insert(name, now() / 1000 + BLACKLIST_TTL);
    }
    pub fn blacklisted(&mut self, name: &Name) -> bool {
        self.blacklist_cleanup();
        self.blacklist.contains_key(name)
    }
    fn blacklist_cleanup(&mut self) {
        let t = now() / 1000;
        self.blacklist.retain(|_, &mut until| until >= t);
    }

    // --- state ---

    /// Whether the cluster is OK from here: every slot served by a non-failing master
    /// (with cluster-require-full-coverage), a majority of the masters reachable.
    pub fn update_state(&mut self, full_coverage: bool, node_timeout: i64) {
        self.todo &= !TODO_UPDATE_STATE;
        let t = now();
        if self.first_update == 0 {
            self.first_update = t;
        }
        if self.me().is_master() && !self.ok && t - self.first_update < WRITABLE_DELAY {
            return;
        }
        let mut new_ok = true;
        if full_coverage {
            for &s in &self.slots {
                if s == NONE || self.nodes[s].failed() {
                    new_ok = false;
                    break;
                }
            }
        }
        let mut reachable = 0;
        self.size = 0;
        for (_, n) in self.nodes.iter() {
            if n.is_master() && n.numslots > 0 {
                self.size += 1;
                if n.flags & (N_FAIL | N_PFAIL) == 0 {
                    reachable += 1;
                }
            }
        }
        if reachable < self.size / 2 + 1 {
            new_ok = false;
            self.among_minority_time = t;
        }
        if new_ok != self.ok {
            let rejoin = node_timeout.clamp(MIN_REJOIN_DELAY, MAX_REJOIN_DELAY);
            if new_ok && self.me().is_master() && t - self.among_minority_time < rejoin {
                return;
            }
            crate::warn!(
                "Cluster state changed: {}",
                if new_ok { "ok" } else { "fail" }
            );
            self.ok = new_ok;
        }
    }

    // --- CLUSTER NODES and nodes.conf ---

    /// One node's line of CLUSTER NODES / nodes.conf (Redis's format). `use_pport`:
    /// show the plaintext port (a plaintext client of a TLS cluster).
    pub fn node_description(&self, id: NodeId, use_pport: bool) -> String {
        use std::fmt::Write as _;
        let n = &self.nodes[id];
        let port = if use_pport && n.pport != 0 {
            n.pport
        } else {
            n.port
        };
        let mut s = String::with_capacity(128);
        s.push_str(n.name_str());
        if n.hostname.is_empty() {
            let _ = write!(s, " {}:{}@{} ", n.ip, port, n.cport);
        } else {
            let _ = write!(s, " {}:{}@{},{} ", n.ip, port, n.cport, n.hostname);
        }
        s.push_str(&flags_text(n.flags));
        s.push(' ');
        match n.slaveof {
            Some(m) => s.push_str(self.nodes[m].name_str()),
            None => s.push('-'),
        }
        let epoch = match (n.is_replica(), n.slaveof) {
            (true, Some(m)) => self.nodes[m].config_epoch,
            _ => n.config_epoch,
        };
        let _ = write!(
            s,
            " {} {} {} {}",
            n.ping_sent,
            n.pong_received,
            epoch,
            if n.link.is_some() || n.flags & N_MYSELF != 0 {
                "connected"
            } else {
                "disconnected"
            }
        );
        if n.numslots > 0 {
            for (a, b) in ranges(&n.slots) {
                if a == b {
                    let _ = write!(s, " {a}");
                } else {
                    let _ = write!(s, " {a}-{b}");
                }
            }
        }
        if n.flags & N_MYSELF != 0 && self.any_open_slot() {
            for slot in 0..SLOTS {
                if self.migrating[slot] != NONE {
                    let _ = write!(
                        s,
                        " [{}->-{}]",
                        slot,
                        self.nodes[self.migrating[slot]].name_str()
                    );
                } else if self.importing[slot] != NONE {
                    let _ = write!(
                        s,
                        " [{}-<-{}]",
                        slot,
                        self.nodes[self.importing[slot]].name_str()
                    );
                }
            }
        }
        s
    }

    /// Every node's line but those with a flag of `filter`.
    pub fn nodes_description(&self, filter: u16, use_pport: bool) -> String {
        let mut out = String::new();
        for (id, n) in self.nodes.iter() {
            if n.flags & filter != 0 {
                continue;
            }
            out.push_str(&self.node_description(id, use_pport));
            out.push('\n');
        }
        out
    }

    /// The content of nodes.conf.
    pub fn config_text(&self) -> String {
        let mut s = self.nodes_description(N_HANDSHAKE, false);
        s.push_str(&format!(
            "vars currentEpoch {} lastVoteEpoch {}\n",
            self.current_epoch, self.last_vote_epoch
        ));
        s
    }

    /// Write nodes.conf: to a temporary file, synced, then renamed over the old one,
    /// so a failed write (a full disk) leaves the old file whole.
    pub fn save_config(&mut self, fsync: bool) -> std::io::Result<()> {
        use std::os::unix::io::AsRawFd;
        self.todo &= !(TODO_SAVE | TODO_FSYNC);
        let text = self.config_text();
        if self.tmp_name.is_empty() {
            self.tmp_name = format!("{}.tmp-{}", self.config_file, std::process::id());
        }
        let tmp = &self.tmp_name;
        let res = (|| {
            let mut f = std::fs::File::create(tmp)?;
            // Locked before it takes the config file's name: the lock moves with it.
            // SAFETY: flock on a descriptor this function owns.
            unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            f.write_all(text.as_bytes())?;
            if fsync {
                f.sync_all()?;
            }
            std::fs::rename(tmp, &self.config_file)?;
            if fsync {
                if let Some(dir) = std::path::Path::new(&self.config_file)
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                {
                    if let Ok(d) = std::fs::File::open(dir) {
                        let _ = d.sync_all();
                    }
                }
            }
            Ok(f)
        })();
        match res {
            Ok(f) => {
                self.lock = Some(f);
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_file(tmp);
                Err(e)
            }
        }
    }

    /// Hold an exclusive lock on nodes.conf so that no second node uses it.
    pub fn relock(&mut self) -> Result<(), String> {
        use std::os::unix::io::AsRawFd;
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.config_file)
            .map_err(|e| {
                format!(
                    "Can't open {} in order to acquire a lock: {}",
                    self.config_file, e
                )
            })?;
        // SAFETY: flock on a descriptor this function owns.
        let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r == -1 {
            let e = std::io::Error::last_os_error();
            return Err(if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                format!("Sorry, the cluster configuration file {} is already used by a different Redis Cluster node. Please make sure that different nodes use different cluster configuration files.", self.config_file)
            } else {
                format!("Impossible to lock {}: {}", self.config_file, e)
            });
        }
        self.lock = Some(f);
        Ok(())
    }

    /// Load nodes.conf. Ok(false): no file (or empty). Err: a corrupt file.
    pub fn load_config(&mut self) -> Result<bool, String> {
        let text = match std::fs::read_to_string(&self.config_file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => {
                return Err(format!(
                    "Loading the cluster node config from {}: {}",
                    self.config_file, e
                ))
            }
        };
        if text.trim().is_empty() {
            return Ok(false);
        }
        const CORRUPT: &str = "Unrecoverable error: corrupted cluster config file.";
        let node_of = |cl: &mut Cluster, name: &str| -> Result<NodeId, String> {
            if !valid_name(name.as_bytes()) {
                return Err(CORRUPT.into());
            }
            Ok(match cl.lookup(name.as_bytes()) {
                Some(id) => id,
                None => {
                    let mut n = [0u8; NAMELEN];
                    n.copy_from_slice(name.as_bytes());
                    cl.add_node(Node::new(Some(n), 0))
                }
            })
        };
        for line in text.lines() {
            let argv: Vec<&str> = line.split_ascii_whitespace().collect();
            if argv.is_empty() {
                continue;
            }
            if argv[0].eq_ignore_ascii_case("vars") {
                if argv.len().is_multiple_of(2) {
                    return Err(CORRUPT.into());
                }
                for kv in argv[1..].chunks(2) {
                    let v = kv[1].parse::<u64>().unwrap_or(0);
                    if kv[0].eq_ignore_ascii_case("currentEpoch") {
                        self.current_epoch = v;
                    } else if kv[0].eq_ignore_ascii_case("lastVoteEpoch") {
                        self.last_vote_epoch = v;
                    } else {
                        crate::warn!("Skipping unknown cluster config variable '{}'", kv[0]);
                    }
                }
                continue;
            }
            if argv.len() < 8 {
                return Err(CORRUPT.into());
            }
            let id = node_of(self, argv[0])?;
            let (addr, hostname) = match argv[1].split_once(',') {
                Some((a, h)) => (a, h.to_string()),
                None => (argv[1], String::new()),
            };
            let Some((ip, ports)) = addr.rsplit_once(':') else {
                return Err(CORRUPT.into());
            };
            let (port, cport) = match ports.split_once('@') {
                Some((p, c)) => (p.parse::<u16>().unwrap_or(0), c.parse::<u16>().ok()),
                None => (ports.parse::<u16>().unwrap_or(0), None),
            };
            {
                let n = &mut self.nodes[id];
                n.hostname = hostname;
                n.ip = ip.to_string();
                n.port = port;
                n.cport = cport.unwrap_or(port.wrapping_add(10000));
            }
            for f in argv[2].split(',') {
                let bit = match f.to_ascii_lowercase().as_str() {
                    "myself" => {
                        if self.myself != NONE {
                            return Err(CORRUPT.into());
                        }
                        self.myself = id;
                        N_MYSELF
                    }
                    "master" => N_MASTER,
                    "slave" => N_SLAVE,
                    "fail?" => N_PFAIL,
                    "fail" => {
                        self.nodes[id].fail_time = now();
                        N_FAIL
                    }
                    "handshake" => N_HANDSHAKE,
                    "noaddr" => N_NOADDR,
                    "nofailover" => N_NOFAILOVER,
                    "noflags" => 0,
                    _ => return Err("Unknown flag in redis cluster config file".into()),
                };
                self.nodes[id].flags |= bit;
            }
            if !argv[3].starts_with('-') {
                let m = node_of(self, argv[3])?;
                self.nodes[id].slaveof = Some(m);
                self.add_replica(m, id);
            }
            if argv[4].parse::<i64>().unwrap_or(0) != 0 {
                self.nodes[id].ping_sent = now();
            }
            if argv[5].parse::<i64>().unwrap_or(0) != 0 {
                self.nodes[id].pong_received = now();
            }
            let n = &self.nodes[id];
            self.nodes[id].config_epoch = if n.is_replica() && n.slaveof.is_some() {
                0
            } else {
                argv[6].parse::<u64>().unwrap_or(0)
            };
            for a in &argv[8..] {
                if let Some(inner) = a.strip_prefix('[') {
                    // [slot->-node] migrating, [slot-<-node] importing.
                    let inner = inner.strip_suffix(']').ok_or(CORRUPT)?;
                    let (slot, rest) = inner.split_once('-').ok_or(CORRUPT)?;
                    let slot: usize = slot.parse().map_err(|_| CORRUPT)?;
                    if slot >= SLOTS || rest.len() < 2 {
                        return Err(CORRUPT.into());
                    }
                    // (By `get`: a corrupt line may cut a character in two.)
                    let (Some(dir), Some(name)) = (rest.get(..2), rest.get(2..)) else {
                        return Err(CORRUPT.into());
                    };
                    let other = node_of(self, name)?;
                    match dir {
                        ">-" => self.migrating[slot] = other,
                        "<-" => self.importing[slot] = other,
                        _ => return Err(CORRUPT.into()),
                    }
                    continue;
                }
                let (a, b) = match a.split_once('-') {
                    Some((x, y)) => (x.parse::<usize>(), y.parse::<usize>()),
                    None => (a.parse::<usize>(), a.parse::<usize>()),
                };
                let (Ok(a), Ok(b)) = (a, b) else {
                    return Err(CORRUPT.into());
                };
                if a >= SLOTS || b >= SLOTS {
                    return Err(CORRUPT.into());
                }
                for s in a..=b {
                    self.add_slot(id, s);
                }
            }
        }
        if self.myself == NONE {
            return Err(CORRUPT.into());
        }
        crate::notice!("Node configuration loaded, I'm {}", self.me().name_str());
        let max = self.max_epoch();
        if max > self.current_epoch {
            self.current_epoch = max;
        }
        Ok(true)
    }
}

/// "myself,master", "slave,fail?", "noflags"...
pub fn flags_text(flags: u16) -> String {
    const TABLE: [(u16, &str); 8] = [
        (N_MYSELF, "myself"),
        (N_MASTER, "master"),
        (N_SLAVE, "slave"),
        (N_PFAIL, "fail?"),
        (N_FAIL, "fail"),
        (N_HANDSHAKE, "handshake"),
        (N_NOADDR, "noaddr"),
        (N_NOFAILOVER, "nofailover"),
    ];
    let v: Vec<&str> = TABLE
        .iter()
        .filter(|(b, _)| flags & b != 0)
        .map(|(_, s)| *s)
        .collect();
    if v.is_empty() {
        "noflags".into()
    } else {
        v.join(",")
    }
}

/// The runs of set slots in a bitmap, as (first, last) pairs (whole bytes of 0 or 1
/// bits are stepped over at once: nodes.conf is written on every change).
pub fn ranges(map: &[u8; SLOT_BYTES]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, &byte) in map.iter().enumerate() {
        match (byte, start) {
            (0, None) | (0xff, Some(_)) => continue,
            _ => {}
        }
        for b in 0..8 {
            let s = i * 8 + b;
            let set = byte & (1 << b) != 0;
            match (set, start) {
                (true, None) => start = Some(s),
                (false, Some(a)) => {
                    out.push((a, s - 1));
                    start = None;
                }
                _ => {}
            }
        }
    }
    if let Some(a) = start {
        out.push((a, SLOTS - 1));
    }
    out
}

/// The ports this node announces: (port, plaintext port, bus port), as Redis derives
/// them from port / tls-port / cluster-port and the cluster-announce-* settings.
pub fn announced_ports(cfg: &crate::config::Config) -> (u16, u16, u16) {
    let base = if cfg.tls_cluster {
        cfg.tls_port
    } else {
        cfg.port
    } as u16;
    let mut port = base;
    let mut pport = if cfg.tls_cluster { cfg.port as u16 } else { 0 };
    let mut cport = if cfg.cluster_port != 0 {
        cfg.cluster_port as u16
    } else {
        base.wrapping_add(10000)
    };
    if cfg.tls_cluster && cfg.cluster_announce_tls_port != 0 {
        port = cfg.cluster_announce_tls_port as u16;
        pport = cfg.cluster_announce_port as u16;
    } else if cfg.cluster_announce_port != 0 {
        port = cfg.cluster_announce_port as u16;
    }
    if cfg.cluster_announce_bus_port != 0 {
        cport = cfg.cluster_announce_bus_port as u16;
    }
    (port, pport, cport)
}

/// The bus port to listen on.
pub fn bus_port(cfg: &crate::config::Config) -> u16 {
    if cfg.cluster_port != 0 {
        cfg.cluster_port as u16
    } else {
        (if cfg.tls_cluster {
            cfg.tls_port
        } else {
            cfg.port
        } as u16)
            .wrapping_add(10000)
    }
}

/// Set up cluster mode at startup: lock and load nodes.conf (or create this node), keep
/// the keys of each slot. The bus listener is opened with the others (`listen`).
pub fn init(srv: &mut Server) -> Result<(), String> {
    let base = if srv.cfg.tls_cluster {
        srv.cfg.tls_port
    } else {
        srv.cfg.port
    };
    if srv.cfg.cluster_port == 0 && base > 65535 - 10000 {
        return Err("Redis port number too high. Cluster communication port is 10,000 port numbers higher than your Redis port. Your Redis port number must be 55535 or less.".into());
    }
    let mut cl = Box::new(Cluster::new(&srv.cfg.cluster_config_file));
    cl.relock()?;
    if !cl.load_config()? {
        let me = cl.add_node(Node::new(None, N_MYSELF | N_MASTER));
        cl.myself = me;
        crate::notice!("No cluster configuration found, I'm {}", cl.me().name_str());
        cl.save_config(true)
            .map_err(|e| format!("Fatal: can't update cluster config file: {e}"))?;
    }
    srv.data.ks.dbs[0].enable_slot_index();
    srv.cluster = Some(cl);
    refresh_myself(srv);
    Ok(())
}

/// Bring this node's announced address, ports, hostname and flags up to date with the
/// configuration (at startup and each cron).
pub fn refresh_myself(srv: &mut Server) {
    let (port, pport, cport) = announced_ports(&srv.cfg);
    let announce_ip = srv.cfg.cluster_announce_ip.clone();
    let hostname = srv.cfg.cluster_announce_hostname.clone();
    let nofailover = srv.cfg.cluster_replica_no_failover;
    let Some(cl) = srv.cluster.as_deref_mut() else {
        return;
    };
    let before = cl.me().flags;
    let me = cl.me_mut();
    me.port = port;
    me.pport = pport;
    me.cport = cport;
    me.hostname = hostname;
    if !announce_ip.is_empty() {
        me.ip = announce_ip;
    }
    if nofailover {
        me.flags |= N_NOFAILOVER;
    } else {
        me.flags &= !N_NOFAILOVER;
    }
    if me.flags != before {
        cl.todo |= TODO_SAVE | TODO_UPDATE_STATE;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(c: u8) -> Name {
        [c; NAMELEN]
    }

    /// nodes.conf written by one node loads back into the same view: addresses,
    /// hostnames, flags, masters, epochs, slot ranges, migrating/importing slots and
    /// the vars line, in Redis's format.
    #[test]
    fn nodes_conf_round_trips() {
        let dir = std::env::temp_dir().join(format!("fk-nodes-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join("nodes.conf");
        let mut cl = Cluster::new(file.to_str().unwrap());
        let me = cl.add_node(Node::new(Some(named(b'a')), N_MYSELF | N_MASTER));
        cl.myself = me;
        cl.nodes[me].ip = "127.0.0.1".into();
        cl.nodes[me].port = 7000;
        cl.nodes[me].cport = 17000;
        cl.nodes[me].config_epoch = 3;
        let b = cl.add_node(Node::new(Some(named(b'b')), N_MASTER));
        cl.nodes[b].ip = "127.0.0.2".into();
        cl.nodes[b].port = 7001;
        cl.nodes[b].cport = 17001;
        cl.nodes[b].hostname = "host-b".into();
        cl.nodes[b].config_epoch = 4;
        let r = cl.add_node(Node::new(Some(named(b'c')), N_SLAVE | N_PFAIL));
        cl.nodes[r].slaveof = Some(b);
        cl.add_replica(b, r);
        for s in 0..=5460 {
            cl.add_slot(me, s);
        }
        cl.add_slot(me, 9000);
        for s in 5461..=8999 {
            cl.add_slot(b, s);
        }
        cl.migrating[100] = b;
        cl.importing[6000] = b;
        cl.current_epoch = 7;
        cl.last_vote_epoch = 2;
        let text = cl.config_text();
        let first = text.lines().next().unwrap();
        assert!(first.starts_with(&format!(
            "{} 127.0.0.1:7000@17000 myself,master - 0 0 3 connected 0-5460 9000 [100->-{}] [6000-<-{}]",
            "a".repeat(40),
            "b".repeat(40),
            "b".repeat(40)
        )), "{first}");
        assert!(
            text.contains(" 127.0.0.2:7001@17001,host-b master - 0 0 4 disconnected 5461-8999\n")
        );
        assert!(text.contains(&format!(
            " slave,fail? {} 0 0 4 disconnected\n",
            "b".repeat(40)
        )));
        assert!(text.ends_with("vars currentEpoch 7 lastVoteEpoch 2\n"));
        cl.save_config(true).unwrap();

        let mut back = Cluster::new(file.to_str().unwrap());
        assert!(back.load_config().unwrap());
        assert_eq!(back.config_text(), text);
        assert_eq!(back.me().name, named(b'a'));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A config file with a bad line is refused, not half-loaded.
    #[test]
    fn corrupt_nodes_conf_is_refused() {
        let dir = std::env::temp_dir().join(format!("fk-nodes-bad-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join("nodes.conf");
        for bad in [
            "short line\n",
            &format!("{} 1.2.3.4:1@2 master - 0 0 0 connected\n", "x".repeat(40)),
            &format!(
                "{} 1.2.3.4:1@2 myself,master - 0 0 0 connected 0-99999\n",
                "a".repeat(40)
            ),
            &format!(
                "{} 1.2.3.4:1@2 myself,bogus - 0 0 0 connected\n",
                "a".repeat(40)
            ),
            &format!("{} 1.2.3.4:1@2 master - 0 0 0 connected\n", "a".repeat(40)),
            // A migrating mark whose direction cuts a two-byte character.
            &format!(
                "{} 1.2.3.4:1@2 myself,master - 0 0 0 connected [5-<\u{e9}{}]\n",
                "a".repeat(40),
                "b".repeat(40)
            ),
        ] {
            std::fs::write(&file, bad).unwrap();
            let mut cl = Cluster::new(file.to_str().unwrap());
            assert!(cl.load_config().is_err(), "{bad}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn slot_ranges_and_flags_text() {
        let mut m = [0u8; SLOT_BYTES];
        for s in [0, 1, 2, 5, 16383] {
            set_bit(&mut m, s);
        }
        assert_eq!(ranges(&m), vec![(0, 2), (5, 5), (16383, 16383)]);
        // Runs across byte edges and whole bytes, checked against a bit-by-bit scan.
        let mut m = [0u8; SLOT_BYTES];
        for s in (7..=9).chain(16..=31).chain(100..=5000).chain(16376..16384) {
            set_bit(&mut m, s);
        }
        assert_eq!(
            ranges(&m),
            vec![(7, 9), (16, 31), (100, 5000), (16376, 16383)]
        );
        assert_eq!(ranges(&[0xff; SLOT_BYTES]), vec![(0, 16383)]);
        assert_eq!(ranges(&[0; SLOT_BYTES]), vec![]);
        assert_eq!(flags_text(N_MYSELF | N_MASTER), "myself,master");
        assert_eq!(flags_text(0), "noflags");
    }
}
