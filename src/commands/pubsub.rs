//! Pub/Sub: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH PUBSUB and the sharded
//! SSUBSCRIBE SUNSUBSCRIBE SPUBLISH. Messages go straight into the subscribers' output
//! buffers (flushed by the reactor after this iteration); RESP3 clients get push frames.
//! The executing client's own output is taken out of its `Client` while it runs, so pushes
//! for it (confirmations, messages it published to itself) are collected in `PubSub::own`
//! and spliced in front of the command's reply by `execute`/`call`: that also keeps them
//! when CLIENT REPLY OFF/SKIP silences the normal reply, as Redis does.
use super::*;
use crate::config::ObufLimit;
use crate::keyspace::Key;
use crate::resp::Reply;
use crate::util::glob_match;
use hashbrown::HashSet;

pub static COMMANDS: &[Command] = &[
    cmd(
        "subscribe",
        -2,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        0,
        subscribe,
    )
    .doc(
        "Listen for messages published to the given channels",
        "2.0.0",
    ),
    cmd(
        "unsubscribe",
        -1,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        0,
        unsubscribe,
    )
    .doc(
        "Stop listening for messages posted to the given channels",
        "2.0.0",
    ),
    cmd(
        "psubscribe",
        -2,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        0,
        psubscribe,
    )
    .doc(
        "Listen for messages published to channels matching the given patterns",
        "2.0.0",
    ),
    cmd(
        "punsubscribe",
        -1,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        0,
        punsubscribe,
    )
    .doc(
        "Stop listening for messages posted to channels matching the given patterns",
        "2.0.0",
    ),
    cmd(
        "publish",
        3,
        PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
        0,
        publish_cmd,
    )
    .doc("Post a message to a channel", "2.0.0"),
    cmd(
        "ssubscribe",
        -2,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        0,
        ssubscribe,
    )
    .doc(
        "Listen for messages published to the given shard channels",
        "7.0.0",
    ),
    cmd(
        "sunsubscribe",
        -1,
        PUBSUB | NOSCRIPT | LOADING | STALE,
        0,
        sunsubscribe,
    )
    .doc(
        "Stop listening for messages posted to the given shard channels",
        "7.0.0",
    ),
    cmd(
        "spublish",
        3,
        PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
        0,
        spublish,
    )
    .doc("Post a message to a shard channel", "7.0.0"),
    cmd("pubsub", -2, 0, 0, container)
        .subs(PUBSUB_SUBS)
        .doc("A container for Pub/Sub commands", "2.8.0"),
];

static PUBSUB_SUBS: &[Command] = &[
    cmd("channels", -2, PUBSUB | LOADING | STALE, 0, pubsub_channels)
        .doc("List active channels", "2.8.0"),
    cmd("numsub", -2, PUBSUB | LOADING | STALE, 0, pubsub_numsub)
        .doc("Get the count of subscribers for channels", "2.8.0"),
    cmd("numpat", 2, PUBSUB | LOADING | STALE, 0, pubsub_numpat).doc(
        "Get the count of unique patterns pattern subscriptions",
        "2.8.0",
    ),
    cmd(
        "shardchannels",
        -2,
        PUBSUB | LOADING | STALE,
        0,
        pubsub_shardchannels,
    )
    .doc("List active shard channels", "7.0.0"),
    cmd(
        "shardnumsub",
        -2,
        PUBSUB | LOADING | STALE,
        0,
        pubsub_shardnumsub,
    )
    .doc("Get the count of subscribers for shard channels", "7.0.0"),
    cmd("help", 2, LOADING | STALE, 0, pubsub_help)
        .doc("Show helpful text about the different subcommands", "6.2.0"),
];

/// A client's subscriptions.
#[derive(Default)]
pub struct Subs {
    channels: HashSet<Key>,
    patterns: HashSet<Key>,
    shard: HashSet<Key>,
}

impl Subs {
    /// Channels plus patterns (the count SUBSCRIBE/PSUBSCRIBE replies).
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }
    pub fn channels(&self) -> usize {
        self.channels.len()
    }
    pub fn patterns(&self) -> usize {
        self.patterns.len()
    }
    pub fn shard(&self) -> usize {
        self.shard.len()
    }
    /// Subscribed to anything: the client is in Pub/Sub mode.
    /// Whether every subscription passes `ok(name, is_pattern)` (ACL re-check).
    pub fn all_allowed(&self, ok: impl Fn(&[u8], bool) -> bool) -> bool {
        self.channels
            .iter()
            .chain(&self.shard)
            .all(|c| ok(c, false))
            && self.patterns.iter().all(|p| ok(p, true))
    }
    pub fn any(&self) -> bool {
        !(self.channels.is_empty() && self.patterns.is_empty() && self.shard.is_empty())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Kind::Channel => ("subscribe", "unsubscribe"),
            Kind::Pattern => ("psubscribe", "punsubscribe"),
            Kind::Shard => ("ssubscribe", "sunsubscribe"),
        }
    }
    fn of(self, s: &Subs) -> &HashSet<Key> {
        match self {
            Kind::Channel => &s.channels,
            Kind::Pattern => &s.patterns,
            Kind::Shard => &s.shard,
        }
    }
    fn of_mut(self, s: &mut Subs) -> &mut HashSet<Key> {
        match self {
            Kind::Channel => &mut s.channels,
            Kind::Pattern => &mut s.patterns,
            Kind::Shard => &mut s.shard,
        }
    }
    /// The count a (un)subscribe confirmation carries.
    fn count(self, s: &Subs) -> usize {
        match self {
            Kind::Shard => s.shard.len(),
            _ => s.count(),
        }
    }
}

/// Server-side registry: channel/pattern -> subscribed clients, in subscription order.
#[derive(Default)]
pub struct PubSub {
    channels: HashMap<Key, Vec<usize>>,
    patterns: HashMap<Key, Vec<usize>>,
    shard: HashMap<Key, Vec<usize>>,
    /// The client whose command is running (its output buffer is not in its `Client`).
    pub current: Option<usize>,
    /// Pushes for `current`, spliced into its reply after the command.
    pub own: Reply,
}

impl PubSub {
    fn map(&self, k: Kind) -> &HashMap<Key, Vec<usize>> {
        match k {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard,
        }
    }
    fn map_mut(&mut self, k: Kind) -> &mut HashMap<Key, Vec<usize>> {
        match k {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }
    /// INFO pubsub_channels.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }
    /// INFO pubsub_patterns.
    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }
    /// INFO pubsubshard_channels.
    pub fn shard_count(&self) -> usize {
        self.shard.len()
    }
}

/// Whether a RESP2 client in Pub/Sub mode may run this command.
#[inline]
pub fn allowed_when_subscribed(cmd: &Command) -> bool {
    matches!(
        cmd.name,
        "ping"
            | "subscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "quit"
            | "reset"
    )
}

/// Called by `execute` before a command runs: pushes for this client are collected aside.
#[inline]
pub fn begin(srv: &mut Server, idx: usize, resp3: bool) {
    srv.data.pubsub.current = Some(idx);
    srv.data.pubsub.own.resp3 = resp3;
}

/// Move the running client's collected pushes into its reply at `at`.
#[inline]
pub fn splice_own(srv: &mut Server, out: &mut Reply, at: usize) {
    if srv.data.pubsub.own.buf.is_empty() {
        return;
    }
    let own = &mut srv.data.pubsub.own.buf;
    if at >= out.buf.len() {
        out.buf.append(own);
    } else {
        out.buf.splice(at..at, own.drain(..));
    }
}

/// Where published messages go: the registry's output for the running client, the
/// other clients' buffers, the flush list and the pubsub output-buffer limit.
struct Sink<'a> {
    clients: &'a mut slab::Slab<Client>,
    own: &'a mut Reply,
    current: Option<usize>,
    pending: &'a mut Vec<usize>,
    limit: ObufLimit,
    stats: &'a mut crate::stats::Stats,
}

impl Sink<'_> {
    /// Write to a subscriber: the running client's pushes are collected aside, others go
    /// straight into their output buffer and get flushed after this iteration.
    fn deliver(&mut self, idx: usize, write: impl FnOnce(&mut Reply)) {
        if self.current == Some(idx) {
            write(self.own);
            return;
        }
        let Some(c) = self.clients.get_mut(idx) else {
            return;
        };
        if c.close_asap {
            return;
        }
        let idle = c.pending_output() == 0;
        write(&mut c.out);
        if idle {
            self.pending.push(idx);
        } else if over_limit(c, self.limit) {
            // Its socket is full (it is waiting for WRITABLE): a slow subscriber is cut
            // off here, before its buffer grows without bound; flushing closes it.
            crate::warn!("Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.", c.id, c.peer);
            c.close_asap = true;
            self.stats.client_outbuf_limit_disconnections += 1;
            self.pending.push(idx);
        }
    }
}

/// client-output-buffer-limit pubsub: hard limit, or soft limit held long enough.
fn over_limit(c: &mut Client, lim: ObufLimit) -> bool {
    let pending = c.pending_output() as i64;
    if lim.hard > 0 && pending >= lim.hard {
        return true;
    }
    if lim.soft > 0 && pending >= lim.soft {
        let since = *c
            .obuf_soft_since
            .get_or_insert_with(std::time::Instant::now);
        return since.elapsed().as_secs() as i64 >= lim.soft_secs;
    }
    false
}

fn message(out: &mut Reply, kind: &[u8], channel: &[u8], msg: &[u8]) {
    out.push(3);
    out.bulk(kind);
    out.bulk(channel);
    out.bulk(msg);
}

fn pmessage(out: &mut Reply, pattern: &[u8], channel: &[u8], msg: &[u8]) {
    out.push(4);
    out.bulk(b"pmessage");
    out.bulk(pattern);
    out.bulk(channel);
    out.bulk(msg);
}

/// Publish to a channel (or a shard channel, which ignores patterns). Returns receivers.
pub fn publish(srv: &mut Server, channel: &[u8], msg: &[u8], shard: bool) -> usize {
    let limit = srv.cfg.client_output_buffer_limit.0[crate::config::OBUF_PUBSUB];
    // Disjoint parts of the server, borrowed together.
    let (pubsub, clients, pending_write, stats) = (
        &mut srv.data.pubsub,
        &mut srv.net.clients,
        &mut srv.net.pending_write,
        &mut srv.admin.stats,
    );
    let PubSub {
        channels,
        patterns,
        shard: shards,
        current,
        own,
    } = pubsub;
    let mut sink = Sink {
        clients,
        own,
        current: *current,
        pending: pending_write,
        limit,
        stats,
    };
    let mut n = 0;
    let (map, kind): (&HashMap<Key, Vec<usize>>, &[u8]) = if shard {
        (shards, b"smessage")
    } else {
        (channels, b"message")
    };
    if let Some(list) = map.get(channel) {
        for &idx in list {
            sink.deliver(idx, |o| message(o, kind, channel, msg));
            n += 1;
        }
    }
    if shard {
        return n;
    }
    for (pat, list) in patterns.iter() {
        if !glob_match(pat, channel, false) {
            continue;
        }
        for &idx in list {
            sink.deliver(idx, |o| pmessage(o, pat, channel, msg));
            n += 1;
        }
    }
    n
}

/// Cluster: the shard channels of `slot` go (the slot left this node's shard): each
/// subscriber gets its `sunsubscribe` push, as Redis's removeChannelsInSlot.
pub fn drop_shard_slot(srv: &mut Server, slot: u16) {
    if srv.data.pubsub.shard.is_empty() {
        return;
    }
    let chans: Vec<Key> = srv
        .data
        .pubsub
        .shard
        .keys()
        .filter(|c| crate::keyspace::slots::key_slot(c) == slot)
        .cloned()
        .collect();
    for ch in chans {
        let subscribers = srv.data.pubsub.shard.remove(&ch).unwrap_or_default();
        for idx in subscribers {
            let Some(c) = srv.net.clients.get_mut(idx) else {
                continue;
            };
            c.subs.shard.remove(&ch);
            let count = c.subs.shard.len();
            c.out.push(3);
            c.out.bulk_str("sunsubscribe");
            c.out.bulk(&ch);
            c.out.int(count as i64);
            srv.net.pending_write.push(idx);
        }
    }
}

/// Whether anybody listens at all (lets keyspace notifications skip building names).
#[inline]
pub fn has_subscribers(srv: &Server) -> bool {
    !(srv.data.pubsub.channels.is_empty() && srv.data.pubsub.patterns.is_empty())
}

/// A (un)subscribe confirmation for the running client.
fn confirm(srv: &mut Server, name: &str, what: Option<&[u8]>, count: usize) {
    let own = &mut srv.data.pubsub.own;
    own.push(3);
    own.bulk_str(name);
    match what {
        Some(w) => own.bulk(w),
        None => own.null(),
    }
    own.int(count as i64);
}

fn add(srv: &mut Server, idx: usize, kind: Kind, name: &[u8]) {
    let subs = &mut srv.net.clients[idx].subs;
    if kind.of_mut(subs).insert(name.into()) {
        srv.data
            .pubsub
            .map_mut(kind)
            .entry(name.into())
            .or_default()
            .push(idx);
    }
    let count = kind.count(&srv.net.clients[idx].subs);
    confirm(srv, kind.names().0, Some(name), count);
}

/// Remove one subscription; with `notify` the client gets the confirmation.
fn remove(srv: &mut Server, idx: usize, kind: Kind, name: &[u8], notify: bool) -> bool {
    let removed = kind.of_mut(&mut srv.net.clients[idx].subs).remove(name);
    if removed {
        forget(&mut srv.data.pubsub, kind, idx, name);
    }
    if notify {
        let count = kind.count(&srv.net.clients[idx].subs);
        confirm(srv, kind.names().1, Some(name), count);
    }
    removed
}

fn forget(ps: &mut PubSub, kind: Kind, idx: usize, name: &[u8]) {
    let map = ps.map_mut(kind);
    if let Some(list) = map.get_mut(name) {
        list.retain(|&i| i != idx);
        if list.is_empty() {
            map.remove(name);
        }
    }
}

/// Remove every subscription of one kind; with `notify`, one confirmation each (or one
/// with a null name when there was none).
fn remove_all(srv: &mut Server, idx: usize, kind: Kind, notify: bool) {
    let names: Vec<Key> = kind
        .of(&srv.net.clients[idx].subs)
        .iter()
        .cloned()
        .collect();
    for n in &names {
        remove(srv, idx, kind, n, notify);
    }
    if notify && names.is_empty() {
        let count = kind.count(&srv.net.clients[idx].subs);
        confirm(srv, kind.names().1, None, count);
    }
}

fn subscribe_kind(ctx: &mut Ctx, args: Args, kind: Kind) {
    for a in args.iter().skip(1) {
        add(ctx.srv, ctx.id, kind, a);
    }
}

fn unsubscribe_kind(ctx: &mut Ctx, args: Args, kind: Kind) {
    if args.len() == 1 {
        remove_all(ctx.srv, ctx.id, kind, true);
    } else {
        for a in args.iter().skip(1) {
            remove(ctx.srv, ctx.id, kind, a, true);
        }
    }
}

fn subscribe(ctx: &mut Ctx, args: Args) {
    subscribe_kind(ctx, args, Kind::Channel)
}
fn psubscribe(ctx: &mut Ctx, args: Args) {
    subscribe_kind(ctx, args, Kind::Pattern)
}
fn ssubscribe(ctx: &mut Ctx, args: Args) {
    // Inside EXEC the client cannot wait for more replies than one per command.
    if ctx.srv.data.watches.in_exec {
        return ctx
            .out
            .error("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client");
    }
    subscribe_kind(ctx, args, Kind::Shard)
}
fn unsubscribe(ctx: &mut Ctx, args: Args) {
    unsubscribe_kind(ctx, args, Kind::Channel)
}
fn punsubscribe(ctx: &mut Ctx, args: Args) {
    unsubscribe_kind(ctx, args, Kind::Pattern)
}
fn sunsubscribe(ctx: &mut Ctx, args: Args) {
    unsubscribe_kind(ctx, args, Kind::Shard)
}

fn publish_cmd(ctx: &mut Ctx, args: Args) {
    let n = publish(ctx.srv, args.get(1), args.get(2), false);
    if ctx.srv.cluster.is_some() {
        // Every node of the cluster delivers it to its subscribers.
        crate::cluster::bus::propagate_publish(ctx.srv, args.get(1), args.get(2), false);
    } else {
        // Replicas deliver it to their own subscribers (not the AOF: nothing to restore).
        ctx.srv.data.prop.force(crate::propagate::REPL);
    }
    ctx.out.int(n as i64);
}

fn spublish(ctx: &mut Ctx, args: Args) {
    let n = publish(ctx.srv, args.get(1), args.get(2), true);
    if ctx.srv.cluster.is_some() {
        crate::cluster::bus::propagate_publish(ctx.srv, args.get(1), args.get(2), true);
    } else {
        ctx.srv.data.prop.force(crate::propagate::REPL);
    }
    ctx.out.int(n as i64);
}

fn channel_list(ctx: &mut Ctx, args: Args, kind: Kind) {
    if args.len() > 3 {
        return subcommand_syntax(ctx, args);
    }
    let pat = (args.len() == 3).then(|| args.get(2));
    let (ps, out) = (&ctx.srv.data.pubsub, &mut *ctx.out);
    let names: Vec<&Key> = ps
        .map(kind)
        .keys()
        .filter(|c| pat.is_none_or(|p| glob_match(p, c, false)))
        .collect();
    out.array(names.len());
    for n in names {
        out.bulk(n);
    }
}

fn numsub(ctx: &mut Ctx, args: Args, kind: Kind) {
    let (ps, out) = (&ctx.srv.data.pubsub, &mut *ctx.out);
    // A flat array even in RESP3, as Redis replies.
    out.array(2 * (args.len() - 2));
    for c in args.iter().skip(2) {
        out.bulk(c);
        out.int(ps.map(kind).get(c).map_or(0, |l| l.len()) as i64);
    }
}

fn subcommand_syntax(ctx: &mut Ctx, args: Args) {
    ctx.out.error(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
        String::from_utf8_lossy(args.get(1))
    ));
}

fn pubsub_channels(ctx: &mut Ctx, args: Args) {
    channel_list(ctx, args, Kind::Channel)
}
fn pubsub_shardchannels(ctx: &mut Ctx, args: Args) {
    channel_list(ctx, args, Kind::Shard)
}
fn pubsub_numsub(ctx: &mut Ctx, args: Args) {
    numsub(ctx, args, Kind::Channel)
}
fn pubsub_shardnumsub(ctx: &mut Ctx, args: Args) {
    numsub(ctx, args, Kind::Shard)
}
fn pubsub_numpat(ctx: &mut Ctx, _: Args) {
    let n = ctx.srv.data.pubsub.patterns.len();
    ctx.out.int(n as i64);
}

fn pubsub_help(ctx: &mut Ctx, _: Args) {
    super::server::help(
        ctx,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    );
}

/// RESET: drop every subscription without confirmations.
pub fn reset_client(srv: &mut Server, idx: usize) {
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        remove_all(srv, idx, kind, false);
    }
}

/// A client went away (it is already out of the slab): drop it from the registry.
pub fn on_client_closed(srv: &mut Server, idx: usize, c: &Client) {
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        for name in kind.of(&c.subs) {
            forget(&mut srv.data.pubsub, kind, idx, name);
        }
    }
    if srv.data.pubsub.current == Some(idx) {
        srv.data.pubsub.current = None;
        srv.data.pubsub.own.buf.clear();
    }
}
