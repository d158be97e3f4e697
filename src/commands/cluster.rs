//! CLUSTER and the cluster client commands READONLY, READWRITE, ASKING. Without
//! cluster-enabled every one answers that cluster support is disabled, as Redis does.
use super::*;
use crate::cluster::{self, bus, msg, route, Cluster, Node, NodeId, NONE};
use crate::util::{eq_ic, parse_i64};

pub static COMMANDS: &[Command] = &[
    cmd("cluster", -2, 0, 0, container).subs(CLUSTER),
    cmd("readonly", 1, FAST | LOADING | STALE, CONNECTION, readonly),
    cmd(
        "readwrite",
        1,
        FAST | LOADING | STALE,
        CONNECTION,
        readwrite,
    ),
    cmd("asking", 1, FAST, CONNECTION, asking),
];

static CLUSTER: &[Command] = &[
    cmd(
        "addslots",
        -3,
        ADMIN | STALE | NO_ASYNC_LOADING,
        0,
        addslots,
    ),
    cmd(
        "addslotsrange",
        -4,
        ADMIN | STALE | NO_ASYNC_LOADING,
        0,
        addslotsrange,
    ),
    cmd(
        "bumpepoch",
        2,
        ADMIN | STALE | NO_ASYNC_LOADING,
        0,
        bumpepoch,
    ),
    cmd(
        "count-failure-reports",
        3,
        ADMIN | STALE,
        0,
        count_failure_reports,
    ),
    cmd("countkeysinslot", 3, STALE, 0, countkeysinslot),
    cmd(
        "delslots",
        -3,
        ADMIN | STALE | NO_ASYNC_LOADING,
        0,
        delslots,
    ),
    cmd(
        "delslotsrange",
        -4,
        ADMIN | STALE | NO_ASYNC_LOADING,
        0,
        delslotsrange,
    ),
    cmd(
        "failover",
        -2,
        ADMIN | STALE | NO_ASYNC_LOADING,
        0,
        failover,
    ),
    cmd(
        "flushslots",
        2,
        ADMIN | STALE | NO_ASYNC_LOADING,
        0,
        flushslots,
    ),
    cmd("forget", 3, ADMIN | STALE | NO_ASYNC_LOADING, 0, forget),
    cmd("getkeysinslot", 4, STALE, 0, getkeysinslot),
    cmd("help", 2, LOADING | STALE, 0, help),
    cmd("info", 2, STALE, 0, info),
    cmd("keyslot", 3, STALE, 0, keyslot),
    cmd("links", 2, STALE, 0, links),
    cmd("meet", -4, ADMIN | STALE | NO_ASYNC_LOADING, 0, meet),
    cmd("myid", 2, STALE, 0, myid),
    cmd("nodes", 2, STALE, 0, nodes),
    cmd("replicas", 3, ADMIN | STALE, 0, replicas),
    cmd(
        "replicate",
        3,
        ADMIN | STALE | NO_ASYNC_LOADING,
        0,
        replicate,
    ),
    cmd("reset", -2, ADMIN | STALE | NOSCRIPT, 0, reset),
    cmd(
        "saveconfig",
        2,
        ADMIN | STALE | NO_ASYNC_LOADING,
        0,
        saveconfig,
    ),
    cmd(
        "set-config-epoch",
        3,
        ADMIN | STALE | NO_ASYNC_LOADING,
        0,
        set_config_epoch,
    ),
    cmd("setslot", -4, ADMIN | STALE | NO_ASYNC_LOADING, 0, setslot),
    cmd("shards", 2, STALE, 0, shards),
    cmd("slaves", 3, ADMIN | STALE, 0, replicas),
    cmd("slots", 2, STALE, 0, slots),
];

const DISABLED: &str = "ERR This instance has cluster support disabled";

/// The cluster state, or the reply that there is none.
macro_rules! cluster_or_reply {
    ($ctx:expr) => {
        match $ctx.srv.cluster.as_deref_mut() {
            Some(c) => c,
            None => return $ctx.out.error(DISABLED),
        }
    };
}

fn readonly(ctx: &mut Ctx, _: Args) {
    cluster_or_reply!(ctx);
    ctx.client().cluster_readonly = true;
    ctx.out.ok();
}

fn readwrite(ctx: &mut Ctx, _: Args) {
    cluster_or_reply!(ctx);
    ctx.client().cluster_readonly = false;
    ctx.out.ok();
}

fn asking(ctx: &mut Ctx, _: Args) {
    cluster_or_reply!(ctx);
    ctx.client().asking = true;
    ctx.out.ok();
}

fn help(ctx: &mut Ctx, _: Args) {
    cluster_or_reply!(ctx);
    super::server::help(
        ctx,
        "CLUSTER",
        &[
            "ADDSLOTS <slot> [<slot> ...]",
            "    Assign slots to current node.",
            "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
            "    Assign slots which are between <start-slot> and <end-slot> to current node.",
            "BUMPEPOCH",
            "    Advance the cluster config epoch.",
            "COUNT-FAILURE-REPORTS <node-id>",
            "    Return number of failure reports for <node-id>.",
            "COUNTKEYSINSLOT <slot>",
            "    Return the number of keys in <slot>.",
            "DELSLOTS <slot> [<slot> ...]",
            "    Delete slots information from current node.",
            "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
            "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
            "FAILOVER [FORCE|TAKEOVER]",
            "    Promote current replica node to being a master.",
            "FORGET <node-id>",
            "    Remove a node from the cluster.",
            "GETKEYSINSLOT <slot> <count>",
            "    Return key names stored by current node in a slot.",
            "FLUSHSLOTS",
            "    Delete current node own slots information.",
            "INFO",
            "    Return information about the cluster.",
            "KEYSLOT <key>",
            "    Return the hash slot for <key>.",
            "MEET <ip> <port> [<bus-port>]",
            "    Connect nodes into a working cluster.",
            "MYID",
            "    Return the node id.",
            "NODES",
            "    Return cluster configuration seen by node. Output format:",
            "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
            "REPLICATE <node-id>",
            "    Configure current node as replica to <node-id>.",
            "RESET [HARD|SOFT]",
            "    Reset current node (default: soft).",
            "SET-CONFIG-EPOCH <epoch>",
            "    Set config epoch of current node.",
            "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
            "    Set slot state.",
            "REPLICAS <node-id>",
            "    Return <node-id> replicas.",
            "SAVECONFIG",
            "    Force saving cluster configuration on disk.",
            "SLOTS",
            "    Return information about slots range mappings. Each range is made of:",
            "    start, end, master and replicas IP addresses, ports and ids",
            "SHARDS",
            "    Return information about slot range mappings and the nodes associated with them.",
            "LINKS",
            "    Return information about all network links between this node and its peers.",
            "    Output format is an array where each array element is a map containing attributes of a link",
        ],
    );
}

fn slot_arg(a: &[u8]) -> Result<usize, &'static str> {
    match parse_i64(a) {
        Some(s) if (0..msg::SLOTS as i64).contains(&s) => Ok(s as usize),
        _ => Err("ERR Invalid or out of range slot"),
    }
}

/// Check every slot of the request (busy/unassigned, given twice) before changing any.
fn check_slots(
    cl: &Cluster,
    marks: &mut [u8],
    del: bool,
    a: usize,
    b: usize,
) -> Result<(), String> {
    for (s, mark) in marks.iter_mut().enumerate().take(b + 1).skip(a) {
        if del && cl.slots[s] == NONE {
            return Err(format!("ERR Slot {s} is already unassigned"));
        }
        if !del && cl.slots[s] != NONE {
            return Err(format!("ERR Slot {s} is already busy"));
        }
        *mark += 1;
        if *mark == 2 {
            return Err(format!("ERR Slot {s} specified multiple times"));
        }
    }
    Ok(())
}

fn update_slots(cl: &mut Cluster, marks: &[u8], del: bool) {
    for (s, &m) in marks.iter().enumerate() {
        if m != 0 {
            cl.importing[s] = NONE;
            if del {
                cl.del_slot(s);
            } else {
                let me = cl.myself;
                cl.add_slot(me, s);
            }
        }
    }
    cl.todo |= cluster::TODO_UPDATE_STATE | cluster::TODO_SAVE;
}

fn add_del_slots(ctx: &mut Ctx, args: Args, del: bool) {
    cluster_or_reply!(ctx);
    let mut slots = Vec::with_capacity(args.len() - 2);
    for a in args.iter().skip(2) {
        match slot_arg(a) {
            Ok(s) => slots.push(s),
            Err(e) => return ctx.out.error(e),
        }
    }
    let cl = cluster_or_reply!(ctx);
    let mut marks = vec![0u8; msg::SLOTS];
    for s in slots {
        if let Err(e) = check_slots(cl, &mut marks, del, s, s) {
            return ctx.out.error(&e);
        }
    }
    update_slots(cl, &marks, del);
    ctx.out.ok();
}

fn add_del_ranges(ctx: &mut Ctx, args: Args, del: bool) {
    cluster_or_reply!(ctx);
    if args.len() % 2 == 1 {
        let name = if del {
            "delslotsrange"
        } else {
            "addslotsrange"
        };
        return ctx.out.error(&format!(
            "ERR wrong number of arguments for 'cluster|{name}' command"
        ));
    }
    let mut marks = vec![0u8; msg::SLOTS];
    let mut i = 2;
    while i < args.len() {
        let (a, b) = match (slot_arg(args.get(i)), slot_arg(args.get(i + 1))) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => return ctx.out.error(e),
        };
        if a > b {
            return ctx.out.error(&format!(
                "ERR start slot number {a} is greater than end slot number {b}"
            ));
        }
        let cl = cluster_or_reply!(ctx);
        if let Err(e) = check_slots(cl, &mut marks, del, a, b) {
            return ctx.out.error(&e);
        }
        i += 2;
    }
    let cl = cluster_or_reply!(ctx);
    update_slots(cl, &marks, del);
    ctx.out.ok();
}

fn addslots(ctx: &mut Ctx, args: Args) {
    add_del_slots(ctx, args, false)
}
fn delslots(ctx: &mut Ctx, args: Args) {
    add_del_slots(ctx, args, true)
}
fn addslotsrange(ctx: &mut Ctx, args: Args) {
    add_del_ranges(ctx, args, false)
}
fn delslotsrange(ctx: &mut Ctx, args: Args) {
    add_del_ranges(ctx, args, true)
}

fn flushslots(ctx: &mut Ctx, _: Args) {
    cluster_or_reply!(ctx);
    if !ctx.srv.data.ks.dbs[0].is_empty() {
        return ctx
            .out
            .error("ERR DB must be empty to perform CLUSTER FLUSHSLOTS.");
    }
    let cl = cluster_or_reply!(ctx);
    let me = cl.myself;
    cl.del_node_slots(me);
    cl.todo |= cluster::TODO_UPDATE_STATE | cluster::TODO_SAVE;
    ctx.out.ok();
}

fn bumpepoch(ctx: &mut Ctx, _: Args) {
    let cl = cluster_or_reply!(ctx);
    let bumped = cl.bump_epoch_without_consensus();
    let e = cl.me().config_epoch;
    ctx.out.simple(&format!(
        "{} {}",
        if bumped { "BUMPED" } else { "STILL" },
        e
    ));
}

fn count_failure_reports(ctx: &mut Ctx, args: Args) {
    let nt = ctx.srv.cfg.cluster_node_timeout.max(1);
    let cl = cluster_or_reply!(ctx);
    match cl.lookup(args.get(2)) {
        Some(n) => {
            let c = cl.failure_reports(n, nt);
            ctx.out.int(c as i64)
        }
        None => unknown_node(ctx, args.get(2)),
    }
}

fn unknown_node(ctx: &mut Ctx, name: &[u8]) {
    ctx.out.error(&format!(
        "ERR Unknown node {}",
        String::from_utf8_lossy(name)
    ));
}

fn countkeysinslot(ctx: &mut Ctx, args: Args) {
    cluster_or_reply!(ctx);
    let Some(slot) = parse_i64(args.get(2)) else {
        return ctx.out.error("ERR value is not an integer or out of range");
    };
    if !(0..msg::SLOTS as i64).contains(&slot) {
        return ctx.out.error("ERR Invalid slot");
    }
    let n = bus::keys_in_slot(ctx.srv, slot as usize);
    ctx.out.int(n as i64);
}

fn getkeysinslot(ctx: &mut Ctx, args: Args) {
    cluster_or_reply!(ctx);
    let (Some(slot), Some(max)) = (parse_i64(args.get(2)), parse_i64(args.get(3))) else {
        return ctx.out.error("ERR value is not an integer or out of range");
    };
    if !(0..msg::SLOTS as i64).contains(&slot) || max < 0 {
        return ctx.out.error("ERR Invalid slot or number of keys");
    }
    let db = &ctx.srv.data.ks.dbs[0];
    let keys: Vec<&[u8]> = match db.slots.as_ref() {
        Some(ix) => ix
            .positions(slot as u16)
            .take(max as usize)
            .filter_map(|p| db.at(p).map(|e| e.key()))
            .collect(),
        None => Vec::new(),
    };
    ctx.out.array(keys.len());
    for k in keys {
        ctx.out.bulk(k);
    }
}

fn info(ctx: &mut Ctx, _: Args) {
    let cl = cluster_or_reply!(ctx);
    let (mut assigned, mut ok, mut pfail, mut fail) = (0, 0, 0, 0);
    for &s in &cl.slots {
        if s == NONE {
            continue;
        }
        assigned += 1;
        let n = &cl.nodes[s];
        if n.failed() {
            fail += 1;
        } else if n.timed_out() {
            pfail += 1;
        } else {
            ok += 1;
        }
    }
    let me = cl.me();
    let my_epoch = match (me.is_replica(), me.slaveof) {
        (true, Some(m)) => cl.nodes[m].config_epoch,
        _ => me.config_epoch,
    };
    let mut s = format!(
        "cluster_state:{}\r\ncluster_slots_assigned:{}\r\ncluster_slots_ok:{}\r\ncluster_slots_pfail:{}\r\ncluster_slots_fail:{}\r\ncluster_known_nodes:{}\r\ncluster_size:{}\r\ncluster_current_epoch:{}\r\ncluster_my_epoch:{}\r\n",
        if cl.ok { "ok" } else { "fail" },
        assigned,
        ok,
        pfail,
        fail,
        cl.nodes.len(),
        cl.size,
        cl.current_epoch,
        my_epoch
    );
    let mut total = 0;
    for (t, &n) in cl.sent.iter().enumerate() {
        if n != 0 {
            total += n;
            s.push_str(&format!(
                "cluster_stats_messages_{}_sent:{}\r\n",
                msg::type_name(t as u16),
                n
            ));
        }
    }
    s.push_str(&format!("cluster_stats_messages_sent:{total}\r\n"));
    let mut total = 0;
    for (t, &n) in cl.received.iter().enumerate() {
        if n != 0 {
            total += n;
            s.push_str(&format!(
                "cluster_stats_messages_{}_received:{}\r\n",
                msg::type_name(t as u16),
                n
            ));
        }
    }
    s.push_str(&format!("cluster_stats_messages_received:{total}\r\n"));
    s.push_str(&format!(
        "total_cluster_links_buffer_limit_exceeded:{}\r\n",
        cl.links_buffer_limit_exceeded
    ));
    ctx.out.verbatim(s.as_bytes());
}

fn keyslot(ctx: &mut Ctx, args: Args) {
    cluster_or_reply!(ctx);
    ctx.out
        .int(crate::keyspace::slots::key_slot(args.get(2)) as i64);
}

fn links(ctx: &mut Ctx, _: Args) {
    let cl = cluster_or_reply!(ctx);
    let mut items: Vec<(bool, NodeId, usize, i64)> = Vec::new();
    for (id, n) in cl.nodes.iter() {
        for (l, inbound) in [(n.link, false), (n.inbound, true)] {
            if let Some(l) = l {
                let ctime = cl.links.get(&l).map_or(0, |b| b.ctime);
                items.push((inbound, id, l, ctime));
            }
        }
    }
    let names: Vec<String> = items
        .iter()
        .map(|i| cl.nodes[i.1].name_str().to_string())
        .collect();
    ctx.out.array(items.len());
    for ((inbound, _, l, ctime), name) in items.into_iter().zip(names) {
        let (events, used, allocated) = match ctx.srv.net.links.get(l) {
            Some(link) => (
                if link.written() { "r" } else { "rw" },
                link.pending(),
                link.out_capacity(),
            ),
            None => ("", 0, 0),
        };
        ctx.out.map(6);
        ctx.out.bulk_str("direction");
        ctx.out.bulk_str(if inbound { "from" } else { "to" });
        ctx.out.bulk_str("node");
        ctx.out.bulk_str(&name);
        ctx.out.bulk_str("create-time");
        ctx.out.int(ctime);
        ctx.out.bulk_str("events");
        ctx.out.bulk_str(events);
        ctx.out.bulk_str("send-buffer-allocated");
        ctx.out.int(allocated as i64);
        ctx.out.bulk_str("send-buffer-used");
        ctx.out.int(used as i64);
    }
}

/// CLUSTER MEET ip port [bus-port]: start a handshake with that address.
fn meet(ctx: &mut Ctx, args: Args) {
    cluster_or_reply!(ctx);
    if args.len() > 5 {
        return ctx.out.error(
            "ERR Unknown subcommand or wrong number of arguments for 'meet'. Try CLUSTER HELP.",
        );
    }
    let Some(port) = parse_i64(args.get(3)) else {
        return ctx.out.error(&format!(
            "ERR Invalid TCP base port specified: {}",
            String::from_utf8_lossy(args.get(3))
        ));
    };
    let cport = if args.len() == 5 {
        match parse_i64(args.get(4)) {
            Some(c) => c,
            None => {
                return ctx.out.error(&format!(
                    "ERR Invalid TCP bus port specified: {}",
                    String::from_utf8_lossy(args.get(4))
                ))
            }
        }
    } else {
        port + 10000
    };
    let ip = String::from_utf8_lossy(args.get(2)).into_owned();
    let cl = cluster_or_reply!(ctx);
    match start_handshake(cl, &ip, port, cport) {
        Err(BadAddress) => ctx.out.error(&format!(
            "ERR Invalid node address specified: {}:{}",
            ip,
            String::from_utf8_lossy(args.get(3))
        )),
        Ok(_) => ctx.out.ok(),
    }
}

/// Not an IP address, or a port out of range.
#[derive(Debug)]
pub struct BadAddress;

/// Add a node in handshake for an address (normalized), unless one is already under
/// way. Err: not an IP address, or a port out of range.
pub fn start_handshake(
    cl: &mut Cluster,
    ip: &str,
    port: i64,
    cport: i64,
) -> Result<bool, BadAddress> {
    let Ok(addr) = ip.parse::<std::net::IpAddr>() else {
        return Err(BadAddress);
    };
    if !(1..=65535).contains(&port) || !(1..=65535).contains(&cport) {
        return Err(BadAddress);
    }
    let norm = addr.to_string();
    let busy = cl.nodes.iter().any(|(_, n)| {
        n.in_handshake()
            && n.ip.eq_ignore_ascii_case(&norm)
            && n.port as i64 == port
            && n.cport as i64 == cport
    });
    if busy {
        return Ok(false);
    }
    let mut n = Node::new(None, cluster::N_HANDSHAKE | cluster::N_MEET);
    n.ip = norm;
    n.port = port as u16;
    n.cport = cport as u16;
    cl.add_node(n);
    Ok(true)
}

fn myid(ctx: &mut Ctx, _: Args) {
    let cl = cluster_or_reply!(ctx);
    let name = cl.me().name;
    ctx.out.bulk(&name);
}

fn nodes(ctx: &mut Ctx, _: Args) {
    cluster_or_reply!(ctx);
    let pport = route::use_pport(ctx.srv, ctx.id);
    let cl = ctx.srv.cluster.as_deref().expect("cluster");
    let text = cl.nodes_description(0, pport);
    ctx.out.verbatim(text.as_bytes());
}

fn replicas(ctx: &mut Ctx, args: Args) {
    cluster_or_reply!(ctx);
    let pport = route::use_pport(ctx.srv, ctx.id);
    let cl = ctx.srv.cluster.as_deref().expect("cluster");
    let Some(n) = cl.lookup(args.get(2)) else {
        return unknown_node(ctx, args.get(2));
    };
    if cl.nodes[n].is_replica() {
        return ctx.out.error("ERR The specified node is not a master");
    }
    let lines: Vec<String> = cl.nodes[n]
        .replicas
        .iter()
        .map(|&r| cl.node_description(r, pport))
        .collect();
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.bulk_str(&l);
    }
}

fn replicate(ctx: &mut Ctx, args: Args) {
    let cl = cluster_or_reply!(ctx);
    let Some(n) = cl.lookup(args.get(2)) else {
        return unknown_node(ctx, args.get(2));
    };
    if n == cl.myself {
        return ctx.out.error("ERR Can't replicate myself");
    }
    if cl.nodes[n].is_replica() {
        return ctx
            .out
            .error("ERR I can only replicate a master, not a replica.");
    }
    let me_master_busy = cl.me().is_master() && cl.me().numslots != 0;
    if cl.me().is_master() && (me_master_busy || !ctx.srv.data.ks.dbs[0].is_empty()) {
        return ctx
            .out
            .error("ERR To set a master the node must be empty and without assigned slots.");
    }
    bus::set_master(ctx.srv, n);
    let cl = cluster_or_reply!(ctx);
    cl.todo |= cluster::TODO_UPDATE_STATE | cluster::TODO_SAVE;
    ctx.out.ok();
}

fn reset(ctx: &mut Ctx, args: Args) {
    cluster_or_reply!(ctx);
    let hard = if args.len() == 3 {
        if eq_ic(args.get(2), "hard") {
            true
        } else if eq_ic(args.get(2), "soft") {
            false
        } else {
            return ctx.out.error("ERR syntax error");
        }
    } else if args.len() > 3 {
        return ctx.out.error("ERR syntax error");
    } else {
        false
    };
    let is_master = ctx
        .srv
        .cluster
        .as_deref()
        .expect("cluster")
        .me()
        .is_master();
    if is_master && !ctx.srv.data.ks.dbs[ctx.db].is_empty() {
        return ctx
            .out
            .error("ERR CLUSTER RESET can't be called with master nodes containing keys");
    }
    cluster_reset(ctx.srv, hard);
    ctx.out.ok();
}

/// CLUSTER RESET: forget every other node and every slot; a replica becomes an empty
/// master; HARD also takes a new name and zeroes the epochs.
pub fn cluster_reset(srv: &mut Server, hard: bool) {
    let me = srv.cluster.as_deref().expect("cluster").myself;
    if srv.cluster.as_deref().expect("cluster").me().is_replica() {
        srv.cluster
            .as_deref_mut()
            .expect("cluster")
            .set_node_as_master(me);
        let _ = crate::replication::replica::replicaof(srv, None, "cluster reset");
        super::server::empty_data(srv);
    }
    let cl = srv.cluster.as_deref_mut().expect("cluster");
    cl.close_all_slots();
    for s in 0..msg::SLOTS {
        cl.del_slot(s);
    }
    let others: Vec<NodeId> = cl
        .nodes
        .iter()
        .map(|(i, _)| i)
        .filter(|&i| i != me)
        .collect();
    for n in others {
        cl.del_node(n);
    }
    if hard {
        cl.current_epoch = 0;
        cl.last_vote_epoch = 0;
        cl.me_mut().config_epoch = 0;
        crate::warn!("configEpoch set to 0 via CLUSTER RESET HARD");
        cl.rename(me, cluster::random_name());
        crate::notice!("Node hard reset, now I'm {}", cl.me().name_str());
    }
    cl.todo |= cluster::TODO_SAVE | cluster::TODO_UPDATE_STATE | cluster::TODO_FSYNC;
    bus::reset_manual_failover(srv);
}

fn saveconfig(ctx: &mut Ctx, _: Args) {
    let cl = cluster_or_reply!(ctx);
    match cl.save_config(true) {
        Ok(()) => ctx.out.ok(),
        Err(e) => ctx
            .out
            .error(&format!("ERR error saving the cluster node config: {e}")),
    }
}

fn set_config_epoch(ctx: &mut Ctx, args: Args) {
    let cl = cluster_or_reply!(ctx);
    let Some(epoch) = parse_i64(args.get(2)) else {
        return ctx.out.error("ERR value is not an integer or out of range");
    };
    if epoch < 0 {
        ctx.out
            .error(&format!("ERR Invalid config epoch specified: {epoch}"));
    } else if cl.nodes.len() > 1 {
        ctx.out.error("ERR The user can assign a config epoch only when the node does not know any other node.");
    } else if cl.me().config_epoch != 0 {
        ctx.out.error("ERR Node config epoch is already non-zero");
    } else {
        cl.me_mut().config_epoch = epoch as u64;
        crate::warn!("configEpoch set to {} via CLUSTER SET-CONFIG-EPOCH", epoch);
        if cl.current_epoch < epoch as u64 {
            cl.current_epoch = epoch as u64;
        }
        cl.todo |= cluster::TODO_UPDATE_STATE | cluster::TODO_SAVE;
        ctx.out.ok();
    }
}

/// The other end of SETSLOT MIGRATING/IMPORTING: a known master.
fn migration_peer(cl: &Cluster, name: &[u8]) -> Result<NodeId, String> {
    let Some(n) = cl.lookup(name) else {
        return Err(format!(
            "ERR I don't know about node {}",
            String::from_utf8_lossy(name)
        ));
    };
    if cl.nodes[n].is_replica() {
        return Err("ERR Target node is not a master".into());
    }
    Ok(n)
}

fn setslot(ctx: &mut Ctx, args: Args) {
    let cl = cluster_or_reply!(ctx);
    if cl.me().is_replica() {
        return ctx.out.error("ERR Please use SETSLOT only with masters.");
    }
    let slot = match slot_arg(args.get(2)) {
        Ok(s) => s,
        Err(e) => return ctx.out.error(e),
    };
    let action = args.get(3);
    if eq_ic(action, "migrating") && args.len() == 5 {
        if cl.slots[slot] != cl.myself {
            return ctx
                .out
                .error(&format!("ERR I'm not the owner of hash slot {slot}"));
        }
        match migration_peer(cl, args.get(4)) {
            Ok(n) => cl.migrating[slot] = n,
            Err(e) => return ctx.out.error(&e),
        }
    } else if eq_ic(action, "importing") && args.len() == 5 {
        if cl.slots[slot] == cl.myself {
            return ctx
                .out
                .error(&format!("ERR I'm already the owner of hash slot {slot}"));
        }
        match migration_peer(cl, args.get(4)) {
            Ok(n) => cl.importing[slot] = n,
            Err(e) => return ctx.out.error(&e),
        }
    } else if eq_ic(action, "stable") && args.len() == 4 {
        cl.importing[slot] = NONE;
        cl.migrating[slot] = NONE;
    } else if eq_ic(action, "node") && args.len() == 5 {
        let Some(n) = cl.lookup(args.get(4)) else {
            return unknown_node(ctx, args.get(4));
        };
        if cl.nodes[n].is_replica() {
            return ctx.out.error("ERR Target node is not a master");
        }
        let keys = bus::keys_in_slot(ctx.srv, slot);
        let cl = ctx.srv.cluster.as_deref_mut().expect("cluster");
        if cl.slots[slot] == cl.myself && n != cl.myself && keys != 0 {
            return ctx.out.error(&format!("ERR Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot."));
        }
        if keys == 0 && cl.migrating[slot] != NONE {
            cl.migrating[slot] = NONE;
        }
        let was_mine = cl.slots[slot] == cl.myself;
        cl.del_slot(slot);
        cl.add_slot(n, slot);
        if was_mine
            && n != cl.myself
            && cl.me().numslots == 0
            && ctx.srv.cfg.cluster_allow_replica_migration
        {
            crate::warn!(
                "Configuration change detected. Reconfiguring myself as a replica of {}",
                cl.nodes[n].name_str()
            );
            bus::set_master(ctx.srv, n);
            let cl = ctx.srv.cluster.as_deref_mut().expect("cluster");
            cl.todo |= cluster::TODO_SAVE | cluster::TODO_UPDATE_STATE | cluster::TODO_FSYNC;
        }
        let cl = ctx.srv.cluster.as_deref_mut().expect("cluster");
        if n == cl.myself && cl.importing[slot] != NONE {
            // Our import is over: claim it with a new epoch, and say so at once.
            if cl.bump_epoch_without_consensus() {
                crate::warn!("configEpoch updated after importing slot {}", slot);
            }
            cl.importing[slot] = NONE;
            bus::broadcast_pong(ctx.srv, false);
        }
    } else {
        return ctx
            .out
            .error("ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP");
    }
    let cl = ctx.srv.cluster.as_deref_mut().expect("cluster");
    cl.todo |= cluster::TODO_SAVE | cluster::TODO_UPDATE_STATE;
    ctx.out.ok();
}

fn forget(ctx: &mut Ctx, args: Args) {
    let cl = cluster_or_reply!(ctx);
    let Some(n) = cl.lookup(args.get(2)) else {
        return unknown_node(ctx, args.get(2));
    };
    if n == cl.myself {
        return ctx
            .out
            .error("ERR I tried hard but I can't forget myself...");
    }
    if cl.me().is_replica() && cl.me().slaveof == Some(n) {
        return ctx.out.error("ERR Can't forget my master!");
    }
    let name = cl.nodes[n].name;
    cl.blacklist_add(name);
    cl.del_node(n);
    cl.todo |= cluster::TODO_UPDATE_STATE | cluster::TODO_SAVE;
    ctx.out.ok();
}

fn failover(ctx: &mut Ctx, args: Args) {
    cluster_or_reply!(ctx);
    let (mut force, mut takeover) = (false, false);
    if args.len() == 3 {
        if eq_ic(args.get(2), "force") {
            force = true;
        } else if eq_ic(args.get(2), "takeover") {
            takeover = true;
            force = true;
        } else {
            return ctx.out.error("ERR syntax error");
        }
    } else if args.len() > 3 {
        return ctx.out.error("ERR syntax error");
    }
    let cl = cluster_or_reply!(ctx);
    if cl.me().is_master() {
        return ctx
            .out
            .error("ERR You should send CLUSTER FAILOVER to a replica");
    }
    let Some(master) = cl.me().slaveof else {
        return ctx
            .out
            .error("ERR I'm a replica but my master is unknown to me");
    };
    if !force && (cl.nodes[master].failed() || cl.nodes[master].link.is_none()) {
        return ctx
            .out
            .error("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE");
    }
    bus::reset_manual_failover(ctx.srv);
    let cl = ctx.srv.cluster.as_deref_mut().expect("cluster");
    cl.failover.mf_end = cluster::now() + 5000;
    if takeover {
        crate::warn!("Taking over the master (user request).");
        cl.bump_epoch_without_consensus();
        bus::failover_replace_master(ctx.srv);
    } else if force {
        crate::warn!("Forced failover user request accepted.");
        cl.failover.mf_can_start = true;
    } else {
        crate::warn!("Manual failover user request accepted.");
        bus::send_mfstart(ctx.srv, master);
    }
    ctx.out.ok();
}

/// The endpoint, port and ID of a node, and its other address forms (CLUSTER SLOTS).
fn node_reply(ctx: &mut Ctx, n: NodeId) {
    let ep_type = ctx.srv.cfg.cluster_preferred_endpoint_type.0;
    let port = route::client_port(ctx.srv, ctx.id, n);
    let cl = ctx.srv.cluster.as_deref().expect("cluster");
    let node = &cl.nodes[n];
    let (ip, hostname, name) = (node.ip.clone(), node.hostname.clone(), node.name);
    ctx.out.array(4);
    match ep_type {
        0 => ctx.out.bulk_str(&ip),
        1 => ctx
            .out
            .bulk_str(if hostname.is_empty() { "?" } else { &hostname }),
        _ => ctx.out.null(),
    }
    ctx.out.int(port as i64);
    ctx.out.bulk(&name);
    let with_ip = ep_type != 0;
    let with_host = ep_type != 1 && !hostname.is_empty();
    ctx.out.map(with_ip as usize + with_host as usize);
    if with_ip {
        ctx.out.bulk_str("ip");
        ctx.out.bulk_str(&ip);
    }
    if with_host {
        ctx.out.bulk_str("hostname");
        ctx.out.bulk_str(&hostname);
    }
}

fn replica_available(srv: &Server, cl: &Cluster, r: NodeId) -> bool {
    let n = &cl.nodes[r];
    if n.failed() {
        return false;
    }
    let off = if r == cl.myself {
        crate::replication::replica_offset(srv)
    } else {
        n.repl_offset
    };
    off != 0
}

fn slots(ctx: &mut Ctx, _: Args) {
    cluster_or_reply!(ctx);
    let cl = ctx.srv.cluster.as_deref().expect("cluster");
    // Runs of consecutive slots with one owner.
    let mut runs: Vec<(usize, usize, NodeId, Vec<NodeId>)> = Vec::new();
    let mut s = 0;
    while s < msg::SLOTS {
        let n = cl.slots[s];
        if n == NONE {
            s += 1;
            continue;
        }
        let start = s;
        while s < msg::SLOTS && cl.slots[s] == n {
            s += 1;
        }
        let reps: Vec<NodeId> = cl.nodes[n]
            .replicas
            .iter()
            .copied()
            .filter(|&r| replica_available(ctx.srv, cl, r))
            .collect();
        runs.push((start, s - 1, n, reps));
    }
    ctx.out.array(runs.len());
    for (a, b, n, reps) in runs {
        ctx.out.array(3 + reps.len());
        ctx.out.int(a as i64);
        ctx.out.int(b as i64);
        node_reply(ctx, n);
        for r in reps {
            node_reply(ctx, r);
        }
    }
}

fn shard_node(ctx: &mut Ctx, n: NodeId) {
    let tls_cluster = ctx.srv.cfg.tls_cluster;
    let ep_type = ctx.srv.cfg.cluster_preferred_endpoint_type.0;
    let cl = ctx.srv.cluster.as_deref().expect("cluster");
    let node = &cl.nodes[n];
    let plain = if tls_cluster { node.pport } else { node.port };
    let tls = if tls_cluster { node.port } else { 0 };
    let offset = if n == cl.myself {
        if node.is_replica() {
            crate::replication::replica_offset(ctx.srv)
        } else {
            ctx.srv.repl.offset
        }
    } else {
        node.repl_offset
    };
    let endpoint = match ep_type {
        0 => node.ip.clone(),
        1 => {
            if node.hostname.is_empty() {
                "?".into()
            } else {
                node.hostname.clone()
            }
        }
        _ => String::new(),
    };
    let health = if node.failed() {
        "fail"
    } else if node.is_replica() && offset == 0 {
        "loading"
    } else {
        "online"
    };
    let fields =
        6 + (plain != 0) as usize + (tls != 0) as usize + !node.hostname.is_empty() as usize;
    let (name, ip, hostname, replica) = (
        node.name,
        node.ip.clone(),
        node.hostname.clone(),
        node.is_replica(),
    );
    ctx.out.map(fields);
    ctx.out.bulk_str("id");
    ctx.out.bulk(&name);
    if plain != 0 {
        ctx.out.bulk_str("port");
        ctx.out.int(plain as i64);
    }
    if tls != 0 {
        ctx.out.bulk_str("tls-port");
        ctx.out.int(tls as i64);
    }
    ctx.out.bulk_str("ip");
    ctx.out.bulk_str(&ip);
    ctx.out.bulk_str("endpoint");
    ctx.out.bulk_str(&endpoint);
    if !hostname.is_empty() {
        ctx.out.bulk_str("hostname");
        ctx.out.bulk_str(&hostname);
    }
    ctx.out.bulk_str("role");
    ctx.out.bulk_str(if replica { "replica" } else { "master" });
    ctx.out.bulk_str("replication-offset");
    ctx.out.int(offset);
    ctx.out.bulk_str("health");
    ctx.out.bulk_str(health);
}

fn shards(ctx: &mut Ctx, _: Args) {
    cluster_or_reply!(ctx);
    let cl = ctx.srv.cluster.as_deref().expect("cluster");
    type Shard = (Vec<(usize, usize)>, Vec<NodeId>);
    let masters: Vec<Shard> = cl
        .nodes
        .iter()
        .filter(|(_, n)| n.is_master())
        .map(|(id, n)| {
            let mut members = vec![id];
            members.extend(n.replicas.iter().copied());
            (cluster::ranges(&n.slots), members)
        })
        .collect();
    ctx.out.array(masters.len());
    for (ranges, members) in masters {
        ctx.out.map(2);
        ctx.out.bulk_str("slots");
        ctx.out.array(ranges.len() * 2);
        for (a, b) in ranges {
            ctx.out.int(a as i64);
            ctx.out.int(b as i64);
        }
        ctx.out.bulk_str("nodes");
        ctx.out.array(members.len());
        for m in members {
            shard_node(ctx, m);
        }
    }
}
