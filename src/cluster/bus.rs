//! The cluster bus: links to and from the other nodes (reactor links, TLS with
//! `tls-cluster yes`), the messages they carry and what this node makes of them:
//! gossip, failure detection (PFAIL, then FAIL on a majority of masters' reports),
//! slot ownership by config epoch, replica elections and manual failover, Pub/Sub
//! across nodes. The behaviour follows Redis 7.0's cluster.c message by message, so
//! ferrokv and redis-server nodes form one cluster.
use super::msg::{self, Gossip, Msg, NAMELEN, SLOTS, SLOT_BYTES};
use super::*;
use crate::link::{self, Owner, Progress};
use std::time::Duration;

macro_rules! cl {
    ($srv:expr) => {
        $srv.cluster.as_deref_mut().expect("cluster mode")
    };
}

/// A replica's election and a manual failover (Redis's failover_auth_* and mf_*).
#[derive(Default)]
pub struct FailoverState {
    pub auth_time: i64,
    pub auth_count: usize,
    pub auth_sent: bool,
    pub auth_rank: usize,
    pub auth_epoch: u64,
    pub cant_reason: u8,
    pub cant_logged: i64,
    /// A manual failover: its deadline (0: none), whether it may start, the replica
    /// that asked (on its master), the master's offset once it paused.
    pub mf_end: i64,
    pub mf_can_start: bool,
    pub mf_replica: Option<NodeId>,
    pub mf_master_offset: Option<i64>,
}

const CANT_DATA_AGE: u8 = 1;
const CANT_WAITING_DELAY: u8 = 2;
const CANT_EXPIRED: u8 = 3;
const CANT_WAITING_VOTES: u8 = 4;
const MF_TIMEOUT: i64 = 5000;
const MF_PAUSE_MULT: i64 = 2;
const REPLICA_MIGRATION_DELAY: i64 = 5000;

fn node_timeout(srv: &Server) -> i64 {
    srv.cfg.cluster_node_timeout.max(1)
}

fn step(srv: &Server) -> Duration {
    Duration::from_millis(node_timeout(srv).max(1000) as u64)
}

// ---------------------------------------------------------------------------------
// Links.

/// A connection arrived on the bus port.
pub fn accept(srv: &mut Server, stream: mio::net::TcpStream, peer: String) {
    let tls = if srv.cfg.tls_cluster {
        match srv.net.tls.clone() {
            Some(cfg) => match rustls::ServerConnection::new(cfg) {
                Ok(s) => Some(s),
                Err(e) => {
                    crate::warn!("Error accepting cluster node connection: {}", e);
                    return;
                }
            },
            None => return,
        }
    } else {
        None
    };
    let st = step(srv);
    match link::adopt(srv, stream, tls, peer, st, Owner::Bus) {
        Ok(idx) => {
            crate::verbose!(
                "Accepting cluster node connection from {}",
                srv.net.links[idx].peer
            );
            cl!(srv).links.insert(
                idx,
                BusLink {
                    node: None,
                    inbound: true,
                    ctime: now(),
                },
            );
        }
        Err(e) => crate::verbose!("Error accepting cluster node connection: {}", e),
    }
}

/// The reactor's report on a bus link.
pub fn on_link(srv: &mut Server, idx: usize, p: Progress) {
    if srv.cluster.is_none() {
        link::close(srv, idx);
        return;
    }
    if !cl!(srv).links.contains_key(&idx) {
        // Freed earlier in this event batch (CLUSTER FORGET, DEBUG CLUSTERLINK KILL, a
        // node deleted): its close is pending, what it brings is not processed.
        flush(srv);
        return;
    }
    match p {
        Progress::Failed(e) => {
            crate::debug!("I/O error on cluster link: {}", e);
            cl!(srv).free_link(idx);
        }
        Progress::Data | Progress::Replies => read_messages(srv, idx),
        Progress::Nothing => {}
    }
    flush(srv);
}

/// Take the whole messages the link holds and process them.
fn read_messages(srv: &mut Server, idx: usize) {
    let Some(l) = srv.net.links.get_mut(idx) else {
        return;
    };
    let buf = std::mem::take(&mut l.rbuf);
    let mut pos = 0;
    let mut alive = true;
    while buf.len() - pos >= 8 {
        let Some(len) = msg::frame_len(&buf[pos..pos + 8]) else {
            crate::warn!("Bad message length or signature received from Cluster bus.");
            cl!(srv).free_link(idx);
            alive = false;
            break;
        };
        if buf.len() - pos < len {
            break;
        }
        let m = &buf[pos..pos + len];
        pos += len;
        process(srv, idx, m);
        if !cl!(srv).links.contains_key(&idx) {
            alive = false;
            break;
        }
    }
    if alive {
        if let Some(l) = srv.net.links.get_mut(idx) {
            let mut rest = buf[pos..].to_vec();
            rest.extend_from_slice(&l.rbuf);
            l.rbuf = rest;
        }
    }
}

/// Send what is queued and close the links that died (and drop the shard channels of
/// slots that left this shard).
pub fn flush(srv: &mut Server) {
    let dropped = std::mem::take(&mut cl!(srv).dropped_shard_slots);
    for slot in dropped {
        crate::commands::pubsub::drop_shard_slot(srv, slot);
    }
    loop {
        let (out, dead) = {
            let cl = cl!(srv);
            (
                std::mem::take(&mut cl.outbox),
                std::mem::take(&mut cl.dead_links),
            )
        };
        if out.is_empty() && dead.is_empty() {
            return;
        }
        for l in dead {
            link::close(srv, l);
        }
        let st = step(srv);
        for (l, bytes) in out {
            if !cl!(srv).links.contains_key(&l) || !srv.net.links.contains(l) {
                continue;
            }
            if let Progress::Failed(e) = link::send(srv, l, &bytes, 0, st) {
                crate::debug!("I/O error writing to cluster link: {}", e);
                cl!(srv).free_link(l);
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Building messages.

fn header(srv: &Server, typ: u16, out: &mut Vec<u8>) -> usize {
    let cl = srv.cluster.as_deref().expect("cluster mode");
    let me = cl.me();
    let master = match (me.is_replica(), me.slaveof) {
        (true, Some(m)) => &cl.nodes[m],
        _ => me,
    };
    let slaveof = me.slaveof.map(|m| &cl.nodes[m].name);
    let mut mflags0 = 0;
    if me.is_master() && cl.failover.mf_end != 0 {
        mflags0 |= msg::MF_PAUSED;
    }
    msg::begin(
        out,
        &msg::Hdr {
            typ,
            port: me.port,
            pport: me.pport,
            cport: me.cport,
            flags: me.flags,
            state_fail: !cl.ok,
            mflags0,
            current_epoch: cl.current_epoch,
            config_epoch: master.config_epoch,
            offset: if me.is_replica() {
                crate::replication::replica_offset(srv) as u64
            } else {
                srv.repl.offset.max(0) as u64
            },
            sender: &me.name,
            myslots: &master.slots,
            slaveof: if me.is_replica() { slaveof } else { None },
            myip: &srv.cfg.cluster_announce_ip,
        },
    )
}

fn queue(srv: &mut Server, l: usize, typ: u16, bytes: Vec<u8>) {
    let cl = cl!(srv);
    if (typ as usize) < msg::TYPE_COUNT {
        cl.sent[typ as usize] += 1;
    }
    cl.outbox.push((l, bytes));
}

fn gossip_of(n: &Node) -> Gossip {
    Gossip {
        name: n.name,
        ping_sent: (n.ping_sent / 1000) as u32,
        pong_received: (n.pong_received / 1000) as u32,
        ip: n.ip.clone(),
        port: n.port,
        cport: n.cport,
        flags: n.flags,
        pport: n.pport,
    }
}

/// PING, PONG or MEET on link `l`, with gossip about a tenth of the nodes (at least 3)
/// and every node in PFAIL.
pub fn send_ping(srv: &mut Server, l: usize, typ: u16) {
    let Some(bl) = srv.cluster.as_deref().and_then(|c| c.links.get(&l)) else {
        return;
    };
    let (inbound, node) = (bl.inbound, bl.node);
    let mut out = Vec::with_capacity(msg::HDR_LEN + 4 * msg::GOSSIP_LEN);
    if !inbound && typ == msg::PING {
        if let Some(n) = node {
            cl!(srv).nodes[n].ping_sent = now();
        }
    }
    let start = header(srv, typ, &mut out);
    let cl = cl!(srv);
    cl.pings_sent += 1;
    let mark = cl.pings_sent;
    let total = cl.nodes.len();
    let mut fresh = total.saturating_sub(2);
    let wanted = (total / 10).max(3).min(fresh);
    let mut count = 0u16;
    let ids: Vec<NodeId> = cl.nodes.iter().map(|(i, _)| i).collect();
    let mut tries = wanted * 3;
    while fresh > 0 && (count as usize) < wanted && tries > 0 {
        tries -= 1;
        let id = ids[crate::util::random_below(ids.len() as u64) as usize];
        let n = &cl.nodes[id];
        if id == cl.myself || n.flags & N_PFAIL != 0 {
            continue;
        }
        if n.flags & (N_HANDSHAKE | N_NOADDR) != 0 || (n.link.is_none() && n.numslots == 0) {
            fresh -= 1;
            continue;
        }
        if n.last_in_ping_gossip == mark {
            continue;
        }
        msg::push_gossip(&mut out, &gossip_of(n));
        cl.nodes[id].last_in_ping_gossip = mark;
        fresh -= 1;
        count += 1;
    }
    for id in &ids {
        let n = &cl.nodes[*id];
        if n.flags & N_PFAIL != 0 && n.flags & (N_HANDSHAKE | N_NOADDR) == 0 {
            msg::push_gossip(&mut out, &gossip_of(n));
            count += 1;
        }
    }
    let mut exts = 0;
    let hostname = cl.me().hostname.clone();
    if !hostname.is_empty() {
        msg::push_hostname_ext(&mut out, &hostname);
        msg::or_mflags(&mut out, start, msg::MF_EXT_DATA);
        exts = 1;
    }
    msg::finish(&mut out, start, count, exts);
    queue(srv, l, typ, out);
}

/// A message to every node we have a link to (not in handshake).
fn broadcast(srv: &mut Server, typ: u16, bytes: Vec<u8>) {
    let targets: Vec<usize> = {
        let cl = cl!(srv);
        cl.nodes
            .iter()
            .filter(|(_, n)| n.flags & (N_MYSELF | N_HANDSHAKE) == 0)
            .filter_map(|(_, n)| n.link)
            .collect()
    };
    for l in targets {
        queue(srv, l, typ, bytes.clone());
    }
}

fn simple_msg(srv: &Server, typ: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg::HDR_LEN);
    let start = header(srv, typ, &mut out);
    msg::finish(&mut out, start, 0, 0);
    out
}

/// PONG to every node, or to the replicas of our shard only.
pub fn broadcast_pong(srv: &mut Server, local_replicas_only: bool) {
    let targets: Vec<usize> = {
        let cl = cl!(srv);
        let my_master = cl.me().slaveof;
        cl.nodes
            .iter()
            .filter(|(id, n)| *id != cl.myself && !n.in_handshake())
            .filter(|(_, n)| {
                !local_replicas_only
                    || (n.is_replica()
                        && n.slaveof.is_some()
                        && (n.slaveof == Some(cl.myself) || n.slaveof == my_master))
            })
            .filter_map(|(_, n)| n.link)
            .collect()
    };
    for l in targets {
        send_ping(srv, l, msg::PONG);
    }
}

fn send_fail(srv: &mut Server, about: Name) {
    let mut out = Vec::with_capacity(msg::HDR_LEN + NAMELEN);
    let start = header(srv, msg::FAIL, &mut out);
    msg::push_fail(&mut out, &about);
    msg::finish(&mut out, start, 0, 0);
    broadcast(srv, msg::FAIL, out);
}

fn send_update(srv: &mut Server, l: Option<usize>, about: NodeId) {
    let Some(l) = l else {
        return;
    };
    let mut out = Vec::with_capacity(msg::HDR_LEN + 8 + NAMELEN + SLOT_BYTES);
    let start = header(srv, msg::UPDATE, &mut out);
    {
        let n = &srv.cluster.as_deref().expect("cluster").nodes[about];
        msg::push_update(&mut out, n.config_epoch, &n.name, &n.slots);
    }
    msg::finish(&mut out, start, 0, 0);
    queue(srv, l, msg::UPDATE, out);
}

fn publish_msg(srv: &Server, channel: &[u8], message: &[u8], shard: bool) -> (u16, Vec<u8>) {
    let typ = if shard {
        msg::PUBLISHSHARD
    } else {
        msg::PUBLISH
    };
    let mut out = Vec::with_capacity(msg::HDR_LEN + 8 + channel.len() + message.len());
    let start = header(srv, typ, &mut out);
    msg::push_publish(&mut out, channel, message);
    msg::finish(&mut out, start, 0, 0);
    (typ, out)
}

/// PUBLISH goes to every node; SPUBLISH to the nodes of this shard.
pub fn propagate_publish(srv: &mut Server, channel: &[u8], message: &[u8], shard: bool) {
    let (typ, bytes) = publish_msg(srv, channel, message, shard);
    if !shard {
        return broadcast(srv, typ, bytes);
    }
    let targets: Vec<usize> = {
        let cl = cl!(srv);
        let Some(master) = cl.my_master() else {
            return;
        };
        std::iter::once(master)
            .chain(cl.nodes[master].replicas.iter().copied())
            .filter(|&n| n != cl.myself)
            .filter_map(|n| cl.nodes[n].link)
            .collect()
    };
    for l in targets {
        queue(srv, l, typ, bytes.clone());
    }
}

// ---------------------------------------------------------------------------------
// Processing messages.

/// The IP of the node at the other end of link `l`: the one it announces, else the
/// connection's peer address.
fn peer_ip(srv: &Server, l: usize, announced: &str) -> Option<String> {
    if !announced.is_empty() {
        return Some(announced.to_string());
    }
    let link = srv.net.links.get(l)?;
    let crate::net::Stream::Tcp(s) = &link.conn.stream else {
        return None;
    };
    s.peer_addr().ok().map(|a| a.ip().to_string())
}

fn local_ip(srv: &Server, l: usize) -> Option<String> {
    let link = srv.net.links.get(l)?;
    let crate::net::Stream::Tcp(s) = &link.conn.stream else {
        return None;
    };
    s.local_addr().ok().map(|a| a.ip().to_string())
}

fn process(srv: &mut Server, l: usize, raw: &[u8]) {
    let m = Msg(raw);
    let typ = m.typ();
    let t = now();
    {
        let cl = cl!(srv);
        if (typ as usize) < msg::TYPE_COUNT {
            cl.received[typ as usize] += 1;
        }
    }
    if m.ver() != msg::PROTO_VER {
        return;
    }
    if typ as i64 == cl!(srv).drop_filter {
        crate::warn!("Dropping packet that matches debug drop filter");
        return;
    }
    if let Err(e) = m.validate() {
        crate::warn!("{}", e);
        return;
    }
    let flags = m.flags();
    let Some((link_node, inbound)) = cl!(srv).links.get(&l).map(|bl| (bl.node, bl.inbound)) else {
        return;
    };
    // The sender: the link's node once known, else by the name it gives.
    let sender = {
        let cl = cl!(srv);
        match link_node.filter(|&n| !cl.nodes[n].in_handshake()) {
            Some(n) => Some(n),
            None => {
                let s = cl.lookup(m.sender());
                if let (Some(s), None) = (s, link_node) {
                    // An inbound link gets its node on its first message from a known one.
                    if let Some(old) = cl.nodes[s].inbound.filter(|&o| o != l) {
                        crate::debug!(
                            "Replacing inbound link {} from node {} with {}",
                            old,
                            cl.nodes[s].name_str(),
                            l
                        );
                    }
                    cl.nodes[s].inbound = Some(l);
                    if let Some(bl) = cl.links.get_mut(&l) {
                        bl.node = Some(s);
                    }
                }
                s
            }
        }
    };
    let mut sender_current_epoch = 0;
    let mut sender_config_epoch = 0;
    if let Some(s) = sender {
        let cl = cl!(srv);
        cl.nodes[s].data_received = t;
        if !cl.nodes[s].in_handshake() {
            sender_current_epoch = m.current_epoch();
            sender_config_epoch = m.config_epoch();
            if sender_current_epoch > cl.current_epoch {
                cl.current_epoch = sender_current_epoch;
            }
            if sender_config_epoch > cl.nodes[s].config_epoch {
                cl.nodes[s].config_epoch = sender_config_epoch;
                cl.todo |= TODO_SAVE | TODO_FSYNC;
            }
            cl.nodes[s].repl_offset = m.offset() as i64;
            cl.nodes[s].repl_offset_time = t;
            let me = cl.me();
            if cl.failover.mf_end != 0
                && me.is_replica()
                && me.slaveof == Some(s)
                && m.mflags0() & msg::MF_PAUSED != 0
                && cl.failover.mf_master_offset.is_none()
            {
                cl.failover.mf_master_offset = Some(cl.nodes[s].repl_offset);
                crate::warn!(
                    "Received replication offset for paused master manual failover: {}",
                    cl.nodes[s].repl_offset
                );
                handle_manual_failover(srv);
            }
        }
    }

    if typ == msg::PING || typ == msg::MEET {
        // Our own address, as the node that met us sees it.
        let need_ip = typ == msg::MEET || cl!(srv).me().ip.is_empty();
        if need_ip && srv.cfg.cluster_announce_ip.is_empty() {
            if let Some(ip) = local_ip(srv, l) {
                let cl = cl!(srv);
                if cl.me().ip != ip {
                    crate::warn!("IP address for this node updated to {}", ip);
                    cl.me_mut().ip = ip;
                    cl.todo |= TODO_SAVE;
                }
            }
        }
        if sender.is_none() && typ == msg::MEET {
            let Some(ip) = peer_ip(srv, l, &m.myip()) else {
                return;
            };
            let cl = cl!(srv);
            let mut n = Node::new(None, N_HANDSHAKE);
            n.ip = ip;
            n.port = m.port();
            n.pport = m.pport();
            n.cport = m.cport();
            cl.add_node(n);
            cl.todo |= TODO_SAVE;
            process_gossip(srv, &m, l, None);
        }
        send_ping(srv, l, msg::PONG);
    }

    match typ {
        msg::PING | msg::PONG | msg::MEET => {
            if !inbound {
                let Some(ln) = link_node else {
                    return;
                };
                if cl!(srv).nodes[ln].in_handshake() {
                    if let Some(s) = sender {
                        // We already know this node: maybe under a new address.
                        if update_address_if_needed(srv, s, l, &m) {
                            cl!(srv).todo |= TODO_SAVE | TODO_UPDATE_STATE;
                        }
                        cl!(srv).del_node(ln);
                        return;
                    }
                    let cl = cl!(srv);
                    cl.rename(ln, *m.sender());
                    let n = &mut cl.nodes[ln];
                    n.flags &= !N_HANDSHAKE;
                    n.flags |= flags & (N_MASTER | N_SLAVE);
                    crate::debug!("Handshake with node {} completed.", n.name_str());
                    cl.todo |= TODO_SAVE;
                } else if &cl!(srv).nodes[ln].name != m.sender() {
                    let cl = cl!(srv);
                    let n = &mut cl.nodes[ln];
                    crate::debug!("PONG contains mismatching sender ID. About node {} added {} ms ago, having flags {}", n.name_str(), t - n.ctime, n.flags);
                    n.flags |= N_NOADDR;
                    n.ip.clear();
                    n.port = 0;
                    n.pport = 0;
                    n.cport = 0;
                    cl.free_link(l);
                    cl.todo |= TODO_SAVE;
                    return;
                }
            }
            // The sender's current view of itself wins for NOFAILOVER. (A handshake just
            // completed leaves the sender unknown for the rest of this message, as in
            // Redis: its role, slots and gossip count from its next one.)
            let sender = sender.filter(|&s| cl!(srv).nodes.contains(s));
            if let Some(s) = sender {
                let n = &mut cl!(srv).nodes[s];
                n.flags = (n.flags & !N_NOFAILOVER) | (flags & N_NOFAILOVER);
            }
            if let Some(s) = sender {
                if typ == msg::PING
                    && !cl!(srv).nodes[s].in_handshake()
                    && update_address_if_needed(srv, s, l, &m)
                {
                    cl!(srv).todo |= TODO_SAVE | TODO_UPDATE_STATE;
                }
            }
            if !inbound && typ == msg::PONG {
                if let Some(ln) = link_node.filter(|&n| cl!(srv).nodes.contains(n)) {
                    let cl = cl!(srv);
                    let n = &mut cl.nodes[ln];
                    n.pong_received = t;
                    n.ping_sent = 0;
                    if n.timed_out() {
                        n.flags &= !N_PFAIL;
                        cl.todo |= TODO_SAVE | TODO_UPDATE_STATE;
                    } else if n.failed() {
                        clear_failure_if_needed(srv, ln);
                    }
                }
            }
            let Some(s) = sender else {
                return;
            };
            // Role changes.
            match m.slaveof() {
                None => cl!(srv).set_node_as_master(s),
                Some(mname) => {
                    let cl = cl!(srv);
                    let master = cl.lookup(mname);
                    if cl.nodes[s].is_master() {
                        cl.del_node_slots(s);
                        let n = &mut cl.nodes[s];
                        n.flags &= !(N_MASTER | N_MIGRATE_TO);
                        n.flags |= N_SLAVE;
                        cl.todo |= TODO_SAVE | TODO_UPDATE_STATE;
                    }
                    if let Some(master) = master {
                        if cl.nodes[s].slaveof != Some(master) {
                            if let Some(old) = cl.nodes[s].slaveof {
                                cl.remove_replica(old, s);
                            }
                            cl.add_replica(master, s);
                            cl.nodes[s].slaveof = Some(master);
                            cl.todo |= TODO_SAVE;
                        }
                    }
                }
            }
            // Slots.
            let (sender_master, dirty) = {
                let cl = cl!(srv);
                let sm = if cl.nodes[s].is_master() {
                    Some(s)
                } else {
                    cl.nodes[s].slaveof
                };
                let dirty = sm.is_some_and(|sm| &*cl.nodes[sm].slots != m.myslots());
                (sm, dirty)
            };
            let _ = sender_master;
            if cl!(srv).nodes[s].is_master() && dirty {
                update_slots_config_with(srv, s, sender_config_epoch, m.myslots());
            }
            if dirty && cl!(srv).nodes.contains(s) {
                // The sender claims slots someone newer owns: tell it.
                let cl = cl!(srv);
                let mut target = None;
                for j in 0..SLOTS {
                    if msg::bit(m.myslots(), j) {
                        let owner = cl.slots[j];
                        if owner == s || owner == NONE {
                            continue;
                        }
                        if cl.nodes[owner].config_epoch > sender_config_epoch {
                            crate::verbose!("Node {} has old slots configuration, sending an UPDATE message about {}", cl.nodes[s].name_str(), cl.nodes[owner].name_str());
                            target = Some(owner);
                            break;
                        }
                    }
                }
                if let Some(owner) = target {
                    let l2 = cl.nodes[s].link;
                    send_update(srv, l2, owner);
                }
            }
            if !cl!(srv).nodes.contains(s) {
                return;
            }
            {
                let cl = cl!(srv);
                if cl.me().is_master()
                    && cl.nodes[s].is_master()
                    && sender_config_epoch == cl.me().config_epoch
                {
                    handle_epoch_collision(cl, s);
                }
            }
            process_gossip(srv, &m, l, Some(s));
            // Ping extensions: the hostname.
            let mut hostname = String::new();
            for (t, body) in m.ping_exts() {
                if t == msg::EXT_HOSTNAME {
                    let end = body.iter().position(|&b| b == 0).unwrap_or(body.len());
                    hostname = String::from_utf8_lossy(&body[..end]).into_owned();
                } else {
                    crate::warn!("Received unknown extension type {}", t);
                }
            }
            if let Some(n) = cl!(srv).nodes.get_mut(s) {
                n.hostname = hostname;
            }
        }
        msg::FAIL => {
            let about = *m.fail_about();
            let cl = cl!(srv);
            if sender.is_some() {
                if let Some(f) = cl.lookup(&about) {
                    if cl.nodes[f].flags & (N_FAIL | N_MYSELF) == 0 {
                        crate::notice!(
                            "FAIL message received from {} about {}",
                            String::from_utf8_lossy(m.sender()),
                            String::from_utf8_lossy(&about)
                        );
                        let n = &mut cl.nodes[f];
                        n.flags |= N_FAIL;
                        n.fail_time = t;
                        n.flags &= !N_PFAIL;
                        cl.todo |= TODO_SAVE | TODO_UPDATE_STATE;
                    }
                }
            } else {
                crate::notice!(
                    "Ignoring FAIL message from unknown node {} about {}",
                    String::from_utf8_lossy(m.sender()),
                    String::from_utf8_lossy(&about)
                );
            }
        }
        msg::PUBLISH | msg::PUBLISHSHARD => {
            if sender.is_none() {
                return;
            }
            let (ch, body) = m.publish();
            crate::commands::pubsub::publish(srv, ch, body, typ == msg::PUBLISHSHARD);
        }
        msg::AUTH_REQUEST => {
            if let Some(s) = sender {
                send_failover_auth_if_needed(srv, s, &m);
            }
        }
        msg::AUTH_ACK => {
            let Some(s) = sender else {
                return;
            };
            let cl = cl!(srv);
            if cl.nodes[s].is_master()
                && cl.nodes[s].numslots > 0
                && sender_current_epoch >= cl.failover.auth_epoch
            {
                cl.failover.auth_count += 1;
                cl.todo |= TODO_HANDLE_FAILOVER;
            }
        }
        msg::MFSTART => {
            let Some(s) = sender else {
                return;
            };
            let me = cl!(srv).myself;
            if cl!(srv).nodes[s].slaveof != Some(me) {
                return;
            }
            reset_manual_failover(srv);
            let cl = cl!(srv);
            cl.failover.mf_end = t + MF_TIMEOUT;
            cl.failover.mf_replica = Some(s);
            crate::warn!(
                "Manual failover requested by replica {}.",
                cl.nodes[s].name_str()
            );
            srv.admin.set_pause(Some(crate::server::Pause {
                until: std::time::Instant::now()
                    + Duration::from_millis((MF_TIMEOUT * MF_PAUSE_MULT) as u64),
                write_only: true,
            }));
            send_ping(srv, l, msg::PING);
        }
        msg::UPDATE => {
            if sender.is_none() {
                return;
            }
            let (epoch, name, slots) = m.update();
            let cl = cl!(srv);
            let Some(n) = cl.lookup(name) else {
                return;
            };
            if cl.nodes[n].config_epoch >= epoch {
                return;
            }
            if cl.nodes[n].is_replica() {
                cl.set_node_as_master(n);
            }
            cl.nodes[n].config_epoch = epoch;
            cl.todo |= TODO_SAVE | TODO_FSYNC;
            update_slots_config_with(srv, n, epoch, slots);
        }
        msg::MODULE => {}
        _ => crate::warn!("Received unknown packet type: {}", typ),
    }
}

/// The gossip section: failure reports from masters, fresher pong times, new nodes.
fn process_gossip(srv: &mut Server, m: &Msg, l: usize, sender: Option<NodeId>) {
    let nt = node_timeout(srv);
    let sender = sender.or_else(|| {
        let cl = srv.cluster.as_deref().expect("cluster");
        cl.links
            .get(&l)
            .and_then(|b| b.node)
            .or_else(|| cl.lookup(m.sender()))
    });
    for i in 0..m.count() as usize {
        let g = m.gossip(i);
        let cl = cl!(srv);
        match cl.lookup(&g.name) {
            Some(node) => {
                if let Some(s) = sender.filter(|&s| cl.nodes[s].is_master() && node != cl.myself) {
                    if g.flags & (N_FAIL | N_PFAIL) != 0 {
                        if cl.add_failure_report(node, s) {
                            crate::verbose!(
                                "Node {} reported node {} as not reachable.",
                                cl.nodes[s].name_str(),
                                cl.nodes[node].name_str()
                            );
                        }
                        mark_failing_if_needed(srv, node);
                    } else if cl.del_failure_report(node, s) {
                        crate::verbose!(
                            "Node {} reported node {} is back online.",
                            cl.nodes[s].name_str(),
                            cl.nodes[node].name_str()
                        );
                    }
                }
                let cl = cl!(srv);
                if g.flags & (N_FAIL | N_PFAIL) == 0
                    && cl.nodes[node].ping_sent == 0
                    && cl.failure_reports(node, nt) == 0
                {
                    let pong = g.pong_received as i64 * 1000;
                    if pong <= now() + 500 && pong > cl.nodes[node].pong_received {
                        cl.nodes[node].pong_received = pong;
                    }
                }
                let n = &cl.nodes[node];
                if n.flags & (N_FAIL | N_PFAIL) != 0
                    && g.flags & N_NOADDR == 0
                    && g.flags & (N_FAIL | N_PFAIL) == 0
                    && (!n.ip.eq_ignore_ascii_case(&g.ip) || n.port != g.port || n.cport != g.cport)
                {
                    if let Some(old) = n.link {
                        cl.free_link(old);
                    }
                    let n = &mut cl.nodes[node];
                    n.ip = g.ip.clone();
                    n.port = g.port;
                    n.pport = g.pport;
                    n.cport = g.cport;
                    n.flags &= !N_NOADDR;
                }
            }
            None => {
                // Only from a known node: otherwise we could join another cluster.
                if sender.is_some() && g.flags & N_NOADDR == 0 && !cl.blacklisted(&g.name) {
                    let mut n = Node::new(Some(g.name), g.flags);
                    n.ip = g.ip.clone();
                    n.port = g.port;
                    n.pport = g.pport;
                    n.cport = g.cport;
                    cl.add_node(n);
                }
            }
        }
    }
}

fn update_address_if_needed(srv: &mut Server, node: NodeId, l: usize, m: &Msg) -> bool {
    if cl!(srv).nodes[node].link == Some(l) {
        return false;
    }
    let Some(ip) = peer_ip(srv, l, &m.myip()) else {
        return false;
    };
    let (port, pport, cport) = (m.port(), m.pport(), m.cport());
    let cl = cl!(srv);
    let n = &cl.nodes[node];
    if n.port == port && n.cport == cport && n.pport == pport && n.ip == ip {
        return false;
    }
    if let Some(old) = n.link {
        cl.free_link(old);
    }
    let n = &mut cl.nodes[node];
    n.ip = ip;
    n.port = port;
    n.pport = pport;
    n.cport = cport;
    n.flags &= !N_NOADDR;
    crate::warn!(
        "Address updated for node {}, now {}:{}",
        n.name_str(),
        n.ip,
        n.port
    );
    let (ip, port) = (n.ip.clone(), n.port);
    if cl.me().is_replica() && cl.me().slaveof == Some(node) {
        let _ = crate::replication::replica::replicaof(srv, Some((ip, port)), "cluster");
    }
    true
}

fn handle_epoch_collision(cl: &mut Cluster, sender: NodeId) {
    let me = cl.me();
    if cl.nodes[sender].config_epoch != me.config_epoch
        || !cl.nodes[sender].is_master()
        || !me.is_master()
    {
        return;
    }
    // The node with the lesser name bumps its epoch.
    if cl.nodes[sender].name <= me.name {
        return;
    }
    cl.current_epoch += 1;
    let e = cl.current_epoch;
    cl.me_mut().config_epoch = e;
    if let Err(e) = cl.save_config(true) {
        crate::warn!("Fatal: can't update cluster config file: {}", e);
    }
    crate::verbose!(
        "WARNING: configEpoch collision with node {}. configEpoch set to {}",
        cl.nodes[sender].name_str(),
        e
    );
}

fn mark_failing_if_needed(srv: &mut Server, node: NodeId) {
    let nt = node_timeout(srv);
    let cl = cl!(srv);
    let quorum = cl.size / 2 + 1;
    if !cl.nodes[node].timed_out() || cl.nodes[node].failed() {
        return;
    }
    let mut failures = cl.failure_reports(node, nt);
    if cl.me().is_master() {
        failures += 1;
    }
    if failures < quorum {
        return;
    }
    crate::notice!(
        "Marking node {} as failing (quorum reached).",
        cl.nodes[node].name_str()
    );
    let n = &mut cl.nodes[node];
    n.flags &= !N_PFAIL;
    n.flags |= N_FAIL;
    n.fail_time = now();
    let name = n.name;
    cl.todo |= TODO_UPDATE_STATE | TODO_SAVE;
    send_fail(srv, name);
}

fn clear_failure_if_needed(srv: &mut Server, node: NodeId) {
    let nt = node_timeout(srv);
    let cl = cl!(srv);
    let n = &mut cl.nodes[node];
    if n.is_replica() || n.numslots == 0 {
        crate::notice!(
            "Clear FAIL state for node {}: {} is reachable again.",
            n.name_str(),
            if n.is_replica() {
                "replica"
            } else {
                "master without slots"
            }
        );
        n.flags &= !N_FAIL;
        cl.todo |= TODO_UPDATE_STATE | TODO_SAVE;
        return;
    }
    if n.is_master() && n.numslots > 0 && now() - n.fail_time > nt * FAIL_UNDO_TIME_MULT {
        crate::notice!("Clear FAIL state for node {}: is reachable again and nobody is serving its slots after some time.", n.name_str());
        n.flags &= !N_FAIL;
        cl.todo |= TODO_UPDATE_STATE | TODO_SAVE;
    }
}

/// Slots `sender` claims with `epoch`: take those we think someone older owns. If our
/// own shard lost all its slots this way, follow the new owner.
pub fn update_slots_config_with(
    srv: &mut Server,
    sender: NodeId,
    epoch: u64,
    slots: &[u8; SLOT_BYTES],
) {
    let allow_migration = srv.cfg.cluster_allow_replica_migration;
    let cl = cl!(srv);
    if sender == cl.myself {
        crate::warn!("Discarding UPDATE message about myself.");
        return;
    }
    let Some(curmaster) = cl.my_master() else {
        return;
    };
    let mut dirty = Vec::new();
    let mut newmaster = None;
    let (mut sender_slots, mut migrated_ours) = (0, 0);
    for j in 0..SLOTS {
        if msg::bit(slots, j) {
            sender_slots += 1;
            if cl.slots[j] == sender {
                clear_bit(&mut cl.owner_not_claiming, j);
                continue;
            }
            if cl.importing[j] != NONE {
                continue;
            }
            let owner = cl.slots[j];
            if owner == NONE || cl.nodes[owner].config_epoch < epoch {
                if owner == cl.myself {
                    dirty.push(j);
                }
                if owner == curmaster {
                    newmaster = Some(sender);
                    migrated_ours += 1;
                }
                cl.del_slot(j);
                cl.add_slot(sender, j);
                clear_bit(&mut cl.owner_not_claiming, j);
                cl.todo |= TODO_SAVE | TODO_UPDATE_STATE | TODO_FSYNC;
            }
        } else if cl.slots[j] == sender {
            set_bit(&mut cl.owner_not_claiming, j);
        }
    }
    let me = cl.me();
    let grandmaster = me
        .slaveof
        .and_then(|m| cl.nodes[m].slaveof)
        .filter(|&g| g != cl.myself);
    if newmaster.is_some()
        && cl.nodes[curmaster].numslots == 0
        && (allow_migration || sender_slots == migrated_ours)
    {
        crate::warn!(
            "Configuration change detected. Reconfiguring myself as a replica of {}",
            cl.nodes[sender].name_str()
        );
        set_master(srv, sender);
        cl!(srv).todo |= TODO_SAVE | TODO_UPDATE_STATE | TODO_FSYNC;
    } else if let Some(g) = grandmaster {
        crate::warn!(
            "I'm a sub-replica! Reconfiguring myself as a replica of grandmaster {}",
            cl.nodes[g].name_str()
        );
        set_master(srv, g);
        cl!(srv).todo |= TODO_SAVE | TODO_UPDATE_STATE | TODO_FSYNC;
    } else {
        // Keys of slots we lost (our copy is stale): delete them.
        let dirty: Vec<usize> = dirty
            .into_iter()
            .filter(|&j| keys_in_slot(srv, j) > 0)
            .collect();
        for j in dirty {
            del_keys_in_slot(srv, j);
        }
    }
}

pub fn keys_in_slot(srv: &Server, slot: usize) -> usize {
    srv.data.ks.dbs[0]
        .slots
        .as_ref()
        .map_or(0, |ix| ix.count(slot as u16))
}

/// Delete every key of a slot (propagated as DELs), as Redis's delKeysInSlot.
pub fn del_keys_in_slot(srv: &mut Server, slot: usize) -> usize {
    let keys: Vec<Vec<u8>> = {
        let db = &srv.data.ks.dbs[0];
        let Some(ix) = db.slots.as_ref() else {
            return 0;
        };
        ix.positions(slot as u16)
            .filter_map(|p| db.at(p).map(|e| e.key().to_vec()))
            .collect()
    };
    for k in &keys {
        if srv.data.ks.dbs[0].remove(k).is_some() {
            crate::commands::multi::touch_key(srv, 0, k);
            crate::notify::notify_db(srv, 0, crate::notify::GENERIC, "del", k);
            srv.data.prop.deletion(0, k, false);
            srv.data.dirty += 1;
        }
    }
    keys.len()
}

/// Become a replica of `n` (CLUSTER REPLICATE, a lost shard, replica migration).
pub fn set_master(srv: &mut Server, n: NodeId) {
    let cl = cl!(srv);
    let me = cl.myself;
    if cl.nodes[me].is_master() {
        let node = &mut cl.nodes[me];
        node.flags &= !(N_MASTER | N_MIGRATE_TO);
        node.flags |= N_SLAVE;
        cl.close_all_slots();
    } else if let Some(old) = cl.nodes[me].slaveof {
        cl.remove_replica(old, me);
    }
    cl.nodes[me].slaveof = Some(n);
    cl.add_replica(n, me);
    let (ip, port) = (cl.nodes[n].ip.clone(), cl.nodes[n].port);
    let _ = crate::replication::replica::replicaof(srv, Some((ip, port)), "cluster");
    reset_manual_failover(srv);
}

// ---------------------------------------------------------------------------------
// Failover.

fn send_failover_auth_if_needed(srv: &mut Server, node: NodeId, req: &Msg) {
    let nt = node_timeout(srv);
    let cl = cl!(srv);
    let master = cl.nodes[node].slaveof;
    let req_current = req.current_epoch();
    let req_config = req.config_epoch();
    let force_ack = req.mflags0() & msg::MF_FORCEACK != 0;
    if cl.me().is_replica() || cl.me().numslots == 0 {
        return;
    }
    let name = cl.nodes[node].name_str().to_string();
    if req_current < cl.current_epoch {
        crate::warn!(
            "Failover auth denied to {}: reqEpoch ({}) < curEpoch({})",
            name,
            req_current,
            cl.current_epoch
        );
        return;
    }
    if cl.last_vote_epoch == cl.current_epoch {
        crate::warn!(
            "Failover auth denied to {}: already voted for epoch {}",
            name,
            cl.current_epoch
        );
        return;
    }
    if cl.nodes[node].is_master() {
        crate::warn!("Failover auth denied to {}: it is a master node", name);
        return;
    }
    let Some(master) = master else {
        crate::warn!("Failover auth denied to {}: I don't know its master", name);
        return;
    };
    if !cl.nodes[master].failed() && !force_ack {
        crate::warn!("Failover auth denied to {}: its master is up", name);
        return;
    }
    let since = now() - cl.nodes[master].voted_time;
    if since < nt * 2 {
        crate::warn!(
            "Failover auth denied to {}: can't vote about this master before {} milliseconds",
            name,
            nt * 2 - since
        );
        return;
    }
    for j in 0..SLOTS {
        if !msg::bit(req.myslots(), j) {
            continue;
        }
        let owner = cl.slots[j];
        if owner == NONE || cl.nodes[owner].config_epoch <= req_config {
            continue;
        }
        crate::warn!(
            "Failover auth denied to {}: slot {} epoch ({}) > reqEpoch ({})",
            name,
            j,
            cl.nodes[owner].config_epoch,
            req_config
        );
        return;
    }
    cl.last_vote_epoch = cl.current_epoch;
    cl.nodes[master].voted_time = now();
    cl.todo |= TODO_SAVE | TODO_FSYNC;
    let epoch = cl.current_epoch;
    if let Some(l) = cl.nodes[node].link {
        let bytes = simple_msg(srv, msg::AUTH_ACK);
        queue(srv, l, msg::AUTH_ACK, bytes);
    }
    crate::warn!("Failover auth granted to {} for epoch {}", name, epoch);
}

fn replica_rank(srv: &Server) -> usize {
    let cl = srv.cluster.as_deref().expect("cluster");
    let Some(master) = cl.me().slaveof else {
        return 0;
    };
    let my = srv.repl.offset;
    cl.nodes[master]
        .replicas
        .iter()
        .filter(|&&r| {
            r != cl.myself && cl.nodes[r].flags & N_NOFAILOVER == 0 && cl.nodes[r].repl_offset > my
        })
        .count()
}

fn log_cant_failover(srv: &mut Server, reason: u8) {
    let nt = node_timeout(srv);
    let cl = cl!(srv);
    let t = now();
    if reason == cl.failover.cant_reason && t - cl.failover.cant_logged < 300_000 {
        return;
    }
    cl.failover.cant_reason = reason;
    if let Some(m) = cl.me().slaveof {
        if cl.nodes[m].failed() && t - cl.nodes[m].fail_time < nt + 5000 {
            return;
        }
    }
    let text = match reason {
        CANT_DATA_AGE => "Disconnected from master for longer than allowed. Please check the 'cluster-replica-validity-factor' configuration option.",
        CANT_WAITING_DELAY => "Waiting the delay before I can start a new failover.",
        CANT_EXPIRED => "Failover attempt expired.",
        CANT_WAITING_VOTES => "Waiting for votes, but majority still not reached.",
        _ => "Unknown reason code.",
    };
    cl.failover.cant_logged = t;
    crate::warn!("Currently unable to failover: {}", text);
}

/// Take over the master's slots (an election won, CLUSTER FAILOVER TAKEOVER).
pub fn failover_replace_master(srv: &mut Server) {
    let cl = cl!(srv);
    let me = cl.myself;
    let Some(old) = cl.nodes[me].slaveof.filter(|_| cl.nodes[me].is_replica()) else {
        return;
    };
    cl.set_node_as_master(me);
    let _ = crate::replication::replica::replicaof(srv, None, "cluster failover");
    let cl = cl!(srv);
    for j in 0..SLOTS {
        if cl.nodes[old].has_slot(j) {
            cl.del_slot(j);
            cl.add_slot(me, j);
        }
    }
    let (fc, nt) = (srv.cfg.cluster_require_full_coverage, node_timeout(srv));
    let cl = cl!(srv);
    cl.update_state(fc, nt);
    if let Err(e) = cl.save_config(true) {
        crate::warn!("Fatal: can't update cluster config file: {}", e);
    }
    broadcast_pong(srv, false);
    reset_manual_failover(srv);
}

pub fn reset_manual_failover(srv: &mut Server) {
    let cl = cl!(srv);
    if cl.failover.mf_replica.is_some() {
        srv.admin.set_pause(None);
    }
    let cl = cl!(srv);
    cl.failover.mf_end = 0;
    cl.failover.mf_can_start = false;
    cl.failover.mf_replica = None;
    cl.failover.mf_master_offset = None;
}

fn handle_manual_failover(srv: &mut Server) {
    let offset = srv.repl.offset;
    let cl = cl!(srv);
    if cl.failover.mf_end == 0 || cl.failover.mf_can_start {
        return;
    }
    let Some(mo) = cl.failover.mf_master_offset else {
        return;
    };
    if mo == offset {
        cl.failover.mf_can_start = true;
        crate::warn!("All master replication stream processed, manual failover can start.");
        cl.todo |= TODO_HANDLE_FAILOVER;
    }
}

/// A replica whose master failed (or that was asked to) runs for election.
fn handle_replica_failover(srv: &mut Server) {
    let nt = node_timeout(srv);
    let validity = srv.cfg.cluster_replica_validity_factor;
    let ping_period = srv.cfg.repl_ping_replica_period;
    let no_failover = srv.cfg.cluster_replica_no_failover;
    let data_age = {
        let m = srv.repl.master.as_ref();
        match (m.and_then(|m| m.client), m) {
            (Some(c), _) => srv
                .net
                .clients
                .get(c)
                .map_or(0, |c| c.last_interaction.elapsed().as_millis() as i64),
            (None, Some(m)) => m
                .down_since
                .map_or(i64::MAX / 4, |d| d.elapsed().as_millis() as i64),
            (None, None) => i64::MAX / 4,
        }
    };
    let cl = cl!(srv);
    cl.todo &= !TODO_HANDLE_FAILOVER;
    let t = now();
    let auth_age = t - cl.failover.auth_time;
    let quorum = cl.size / 2 + 1;
    let manual = cl.failover.mf_end != 0 && cl.failover.mf_can_start;
    let auth_timeout = (nt * 2).max(2000);
    let auth_retry = auth_timeout * 2;
    let me = cl.me();
    let master = me.slaveof;
    if me.is_master()
        || master.is_none()
        || (!cl.nodes[master.unwrap()].failed() && !manual)
        || (no_failover && !manual)
        || cl.nodes[master.unwrap()].numslots == 0
    {
        cl.failover.cant_reason = 0;
        return;
    }
    let mut age = data_age;
    if age > nt {
        age -= nt;
    }
    if validity > 0 && age > ping_period * 1000 + nt * validity && !manual {
        log_cant_failover(srv, CANT_DATA_AGE);
        return;
    }
    if auth_age > auth_retry {
        let rank = replica_rank(srv);
        let cl = cl!(srv);
        cl.failover.auth_time = t + 500 + crate::util::random_below(500) as i64;
        cl.failover.auth_count = 0;
        cl.failover.auth_sent = false;
        cl.failover.auth_rank = rank;
        cl.failover.auth_time += rank as i64 * 1000;
        if cl.failover.mf_end != 0 {
            cl.failover.auth_time = t;
            cl.failover.auth_rank = 0;
            cl.todo |= TODO_HANDLE_FAILOVER;
        }
        crate::warn!(
            "Start of election delayed for {} milliseconds (rank #{}, offset {}).",
            cl.failover.auth_time - t,
            cl.failover.auth_rank,
            srv.repl.offset
        );
        broadcast_pong(srv, true);
        return;
    }
    if !cl!(srv).failover.auth_sent && cl!(srv).failover.mf_end == 0 {
        let rank = replica_rank(srv);
        let cl = cl!(srv);
        if rank > cl.failover.auth_rank {
            let added = (rank - cl.failover.auth_rank) as i64 * 1000;
            cl.failover.auth_time += added;
            cl.failover.auth_rank = rank;
            crate::warn!(
                "Replica rank updated to #{}, added {} milliseconds of delay.",
                rank,
                added
            );
        }
    }
    if t < cl!(srv).failover.auth_time {
        log_cant_failover(srv, CANT_WAITING_DELAY);
        return;
    }
    if auth_age > auth_timeout {
        log_cant_failover(srv, CANT_EXPIRED);
        return;
    }
    if !cl!(srv).failover.auth_sent {
        let cl = cl!(srv);
        cl.current_epoch += 1;
        cl.failover.auth_epoch = cl.current_epoch;
        crate::warn!(
            "Starting a failover election for epoch {}.",
            cl.current_epoch
        );
        let mut bytes = simple_msg(srv, msg::AUTH_REQUEST);
        if cl!(srv).failover.mf_end != 0 {
            msg::or_mflags(&mut bytes, 0, msg::MF_FORCEACK);
        }
        broadcast(srv, msg::AUTH_REQUEST, bytes);
        let cl = cl!(srv);
        cl.failover.auth_sent = true;
        cl.todo |= TODO_SAVE | TODO_UPDATE_STATE | TODO_FSYNC;
        return;
    }
    let cl = cl!(srv);
    if cl.failover.auth_count >= quorum {
        crate::warn!("Failover election won: I'm the new master.");
        if cl.me().config_epoch < cl.failover.auth_epoch {
            let e = cl.failover.auth_epoch;
            cl.me_mut().config_epoch = e;
            crate::warn!("configEpoch set to {} after successful failover", e);
        }
        failover_replace_master(srv);
    } else {
        log_cant_failover(srv, CANT_WAITING_VOTES);
    }
}

fn replica_migration(srv: &mut Server, max_replicas: usize) {
    let barrier = srv.cfg.cluster_migration_barrier.max(0) as usize;
    let cl = cl!(srv);
    if !cl.ok {
        return;
    }
    let Some(mymaster) = cl.me().slaveof else {
        return;
    };
    let ok = cl.nodes[mymaster]
        .replicas
        .iter()
        .filter(|&&r| !cl.nodes[r].failed() && !cl.nodes[r].timed_out())
        .count();
    if ok <= barrier {
        return;
    }
    let mut candidate = cl.myself;
    let mut target = None;
    let ids: Vec<NodeId> = cl.nodes.iter().map(|(i, _)| i).collect();
    for id in ids {
        let n = &cl.nodes[id];
        let mut orphaned = !(n.is_replica() || n.failed()) && n.flags & N_MIGRATE_TO != 0;
        let okr = if n.is_master() {
            cl.count_non_failing_replicas(id)
        } else {
            0
        };
        if okr > 0 {
            orphaned = false;
        }
        if orphaned {
            if target.is_none() && n.numslots > 0 {
                target = Some(id);
            }
            if n.orphaned_time == 0 {
                cl.nodes[id].orphaned_time = now();
            }
        } else {
            cl.nodes[id].orphaned_time = 0;
        }
        if okr == max_replicas {
            for &r in &cl.nodes[id].replicas {
                if cl.nodes[r].name < cl.nodes[candidate].name {
                    candidate = r;
                }
            }
        }
    }
    if let Some(t) = target {
        if candidate == cl.myself && now() - cl.nodes[t].orphaned_time > REPLICA_MIGRATION_DELAY {
            crate::warn!("Migrating to orphaned master {}", cl.nodes[t].name_str());
            set_master(srv, t);
        }
    }
}

// ---------------------------------------------------------------------------------
// Periodic work.

/// Open the link to a node that has none (PING, or MEET for a node being met).
fn connect(srv: &mut Server, id: NodeId) {
    let tls = if srv.cfg.tls_cluster {
        match srv.net.tls_info.client_config.clone() {
            Some(c) => Some(c),
            None => {
                if let Some(skipped) = srv.net.log_limit.allow("cluster-tls") {
                    crate::warn!("Unable to connect to cluster nodes: tls-cluster needs tls-ca-cert-file or tls-ca-cert-dir{}", crate::log::skipped_note(skipped));
                }
                return;
            }
        }
    } else {
        None
    };
    let (ip, cport, meet, old_ping) = {
        let n = &cl!(srv).nodes[id];
        (n.ip.clone(), n.cport, n.flags & N_MEET != 0, n.ping_sent)
    };
    let st = step(srv);
    match link::open(srv, &ip, cport, tls, st, Owner::Bus) {
        Ok(l) => {
            // Bus messages, not RESP replies.
            srv.net.links[l].raw = true;
            let cl = cl!(srv);
            cl.links.insert(
                l,
                BusLink {
                    node: Some(id),
                    inbound: false,
                    ctime: now(),
                },
            );
            cl.nodes[id].link = Some(l);
            send_ping(srv, l, if meet { msg::MEET } else { msg::PING });
            let n = &mut cl!(srv).nodes[id];
            if old_ping != 0 {
                n.ping_sent = old_ping;
            }
            n.flags &= !N_MEET;
        }
        Err(e) => {
            let n = &mut cl!(srv).nodes[id];
            if n.ping_sent == 0 {
                n.ping_sent = now();
            }
            crate::debug!(
                "Unable to connect to Cluster Node [{}]:{} -> {}",
                ip,
                cport,
                e
            );
        }
    }
}

/// Every 100 ms: links, pings, failure detection, elections (Redis's clusterCron).
pub fn cron(srv: &mut Server) {
    refresh_myself(srv);
    let nt = node_timeout(srv);
    let handshake_timeout = nt.max(1000);
    let t = now();
    // A link whose peer does not read what we send is cut at cluster-link-sendbuf-limit.
    let limit = srv.cfg.cluster_link_sendbuf_limit.max(0) as usize;
    if limit > 0 {
        let over: Vec<usize> = cl!(srv)
            .links
            .keys()
            .copied()
            .filter(|&l| srv.net.links.get(l).is_some_and(|k| k.pending() > limit))
            .collect();
        let cl = cl!(srv);
        for l in over {
            cl.links_buffer_limit_exceeded += 1;
            crate::warn!("Freeing cluster link({}), since its send buffer passed cluster-link-sendbuf-limit ({} bytes)", l, limit);
            cl.free_link(l);
        }
    }
    let cl = cl!(srv);
    cl.iteration += 1;
    let iteration = cl.iteration;
    cl.pfail_nodes = 0;
    let ids: Vec<NodeId> = cl.nodes.iter().map(|(i, _)| i).collect();
    for &id in &ids {
        let cl = cl!(srv);
        let Some(n) = cl.nodes.get(id) else {
            continue;
        };
        if n.flags & (N_MYSELF | N_NOADDR) != 0 {
            continue;
        }
        if n.flags & N_PFAIL != 0 {
            cl.pfail_nodes += 1;
        }
        if n.in_handshake() && t - n.ctime > handshake_timeout {
            cl.del_node(id);
            continue;
        }
        if n.link.is_none() {
            connect(srv, id);
        }
    }
    // Once a second, ping the node among 5 random ones we heard from least recently.
    if iteration.is_multiple_of(10) {
        let cl = cl!(srv);
        let ids: Vec<NodeId> = cl.nodes.iter().map(|(i, _)| i).collect();
        let mut best: Option<(NodeId, i64)> = None;
        for _ in 0..5 {
            let id = ids[crate::util::random_below(ids.len() as u64) as usize];
            let n = &cl.nodes[id];
            if n.link.is_none() || n.ping_sent != 0 || n.flags & (N_MYSELF | N_HANDSHAKE) != 0 {
                continue;
            }
            if best.is_none_or(|(_, p)| p > n.pong_received) {
                best = Some((id, n.pong_received));
            }
        }
        if let Some((id, _)) = best {
            if let Some(l) = cl.nodes[id].link {
                send_ping(srv, l, msg::PING);
            }
        }
    }
    let mut orphaned = 0;
    let mut max_replicas = 0;
    let mut this_replicas = 0;
    let mut update = false;
    let ids: Vec<NodeId> = cl!(srv).nodes.iter().map(|(i, _)| i).collect();
    for id in ids {
        let t = now();
        let cl = cl!(srv);
        let Some(n) = cl.nodes.get(id) else {
            continue;
        };
        if n.flags & (N_MYSELF | N_NOADDR | N_HANDSHAKE) != 0 {
            continue;
        }
        if cl.me().is_replica() && n.is_master() && !n.failed() {
            let okr = cl.count_non_failing_replicas(id);
            let n = &cl.nodes[id];
            if okr == 0 && n.numslots > 0 && n.flags & N_MIGRATE_TO != 0 {
                orphaned += 1;
            }
            max_replicas = max_replicas.max(okr);
            if cl.me().slaveof == Some(id) {
                this_replicas = okr;
            }
        }
        let n = &cl.nodes[id];
        let ping_delay = t - n.ping_sent;
        let data_delay = t - n.data_received;
        if let Some(l) = n.link {
            let lt = cl.links.get(&l).map_or(t, |b| b.ctime);
            if t - lt > nt && n.ping_sent != 0 && ping_delay > nt / 2 && data_delay > nt / 2 {
                // The link looks fine but nothing comes back: reconnect.
                cl.free_link(l);
            }
        }
        let n = &cl.nodes[id];
        if let Some(l) = n.link {
            if n.ping_sent == 0 && t - n.pong_received > nt / 2 {
                send_ping(srv, l, msg::PING);
                continue;
            }
            if cl.failover.mf_end != 0 && cl.me().is_master() && cl.failover.mf_replica == Some(id)
            {
                send_ping(srv, l, msg::PING);
                continue;
            }
        }
        let cl = cl!(srv);
        let n = &mut cl.nodes[id];
        if n.ping_sent == 0 {
            continue;
        }
        let delay = ping_delay.min(data_delay);
        if delay > nt && n.flags & (N_PFAIL | N_FAIL) == 0 {
            crate::debug!("*** NODE {} possibly failing", n.name_str());
            n.flags |= N_PFAIL;
            update = true;
        }
    }
    // A replica (from nodes.conf, or after a failover) follows its master.
    let cl = cl!(srv);
    let me = cl.me();
    if me.is_replica() && srv.repl.master.is_none() {
        if let Some(m) = me
            .slaveof
            .filter(|&m| cl.nodes[m].has_addr() && !cl.nodes[m].ip.is_empty())
        {
            let (ip, port) = (cl.nodes[m].ip.clone(), cl.nodes[m].port);
            let _ = crate::replication::replica::replicaof(srv, Some((ip, port)), "cluster");
        }
    }
    let cl = cl!(srv);
    if cl.failover.mf_end != 0 && cl.failover.mf_end < now() {
        crate::warn!("Manual failover timed out.");
        reset_manual_failover(srv);
    }
    if cl!(srv).me().is_replica() {
        handle_manual_failover(srv);
        handle_replica_failover(srv);
        if orphaned > 0
            && max_replicas >= 2
            && this_replicas == max_replicas
            && srv.cfg.cluster_allow_replica_migration
        {
            replica_migration(srv, max_replicas);
        }
    }
    let (fc, nt) = (srv.cfg.cluster_require_full_coverage, node_timeout(srv));
    let cl = cl!(srv);
    if update || !cl.ok {
        cl.update_state(fc, nt);
    }
    super::route::redirect_blocked(srv);
    flush(srv);
}

/// Before the event loop sleeps: what processing asked for (an election step, the
/// state, nodes.conf), then the queued messages.
pub fn before_sleep(srv: &mut Server) {
    let todo = cl!(srv).todo;
    if todo & TODO_HANDLE_FAILOVER != 0 {
        if cl!(srv).me().is_replica() {
            handle_manual_failover(srv);
            handle_replica_failover(srv);
        } else {
            cl!(srv).todo &= !TODO_HANDLE_FAILOVER;
        }
    }
    let (fc, nt) = (srv.cfg.cluster_require_full_coverage, node_timeout(srv));
    let cl = cl!(srv);
    if cl.todo & TODO_UPDATE_STATE != 0 {
        cl.update_state(fc, nt);
    }
    if cl.todo & TODO_SAVE != 0 {
        let fsync = cl.todo & TODO_FSYNC != 0;
        if let Err(e) = cl.save_config(fsync) {
            // Redis exits here; the old file is still whole (written aside, renamed),
            // so this node keeps serving and retries at the next change.
            crate::warn!("Can't update cluster config file: {}", e);
        }
    }
    flush(srv);
}

/// MFSTART to our master: a manual failover asks it to pause its writers.
pub fn send_mfstart(srv: &mut Server, master: NodeId) {
    let Some(l) = cl!(srv).nodes[master].link else {
        return;
    };
    let bytes = simple_msg(srv, msg::MFSTART);
    queue(srv, l, msg::MFSTART, bytes);
}
