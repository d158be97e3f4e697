//! Latency instruments: per-command latency histograms (INFO latencystats, LATENCY
//! HISTOGRAM), the slow log (SLOWLOG), latency-monitor event series (LATENCY LATEST/HISTORY)
//! and, beyond Redis, an event-loop iteration histogram with the worst recent loop stalls
//! and what caused them (INFO loopstats), plus a TLS handshake-time histogram.
//!
//! Cost on the hot path: `after_command` does a few compares and one histogram increment;
//! it allocates only when a slow log entry is actually written (and once per command the
//! first time its histogram is used).
use crate::commands::{FAST, SKIP_SLOWLOG};
use crate::resp::Args;
use crate::server::Server;
use std::collections::VecDeque;
use std::time::Duration;

// ---------------- histogram ----------------

/// Linear sub-buckets per power of two: values are kept within 1/16 (6.25%) of their size.
const SUB_BITS: u32 = 4;
const SUB: usize = 1 << SUB_BITS;
/// Largest recorded value: 2^40 ns (about 18 minutes); larger values are clamped.
const MAX_EXP: u32 = 40;
const BUCKETS: usize = (MAX_EXP as usize - SUB_BITS as usize + 1) * SUB;

/// A log-linear histogram of nanosecond durations: fixed size, no allocation to record.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            total: 0,
            max: 0,
        }
    }
}

#[inline]
fn bucket_of(v: u64) -> usize {
    let v = v.min((1u64 << MAX_EXP) - 1);
    if v < (SUB as u64) << 1 {
        return v as usize;
    }
    let e = 63 - v.leading_zeros(); // floor(log2 v) >= SUB_BITS + 1
    let shift = e - SUB_BITS;
    let m = (v >> shift) as usize; // in [SUB, 2*SUB)
    shift as usize * SUB + m
}

/// The highest value a bucket holds (what HdrHistogram calls the highest equivalent value).
fn bucket_high(idx: usize) -> u64 {
    if idx < SUB * 2 {
        return idx as u64;
    }
    let shift = (idx / SUB - 1) as u32;
    let m = (idx % SUB + SUB) as u64;
    ((m + 1) << shift) - 1
}

impl Histogram {
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.counts[bucket_of(ns)] += 1;
        self.total += 1;
        if ns > self.max {
            self.max = ns;
        }
    }
    pub fn total(&self) -> u64 {
        self.total
    }
    pub fn max(&self) -> u64 {
        self.max
    }
    pub fn clear(&mut self) {
        self.counts.fill(0);
        self.total = 0;
        self.max = 0;
    }
    /// The value at percentile `p` (0..=100), in ns: the top of the bucket holding it.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let want = ((p.clamp(0.0, 100.0) / 100.0) * self.total as f64).ceil() as u64;
        let want = want.max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return bucket_high(i).min(self.max);
            }
        }
        self.max
    }
    /// Cumulative counts at power-of-two bounds from 1024 ns, as (bound in µs, count),
    /// only where the count grew: the shape of LATENCY HISTOGRAM's `histogram_usec`.
    pub fn cumulative_usec(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut seen = 0u64;
        let mut prev = 0u64;
        let mut bound = 1024u64;
        let mut i = 0;
        while seen < self.total && bound <= 1 << MAX_EXP {
            while i < BUCKETS && bucket_high(i) < bound {
                seen += self.counts[i];
                i += 1;
            }
            if seen > prev {
                out.push((bound / 1000, seen));
                prev = seen;
            }
            bound <<= 1;
        }
        out
    }
}

/// "p50=1.023,p99=2.047" for the configured percentiles, values in µs with 3 decimals.
pub fn percentiles_line(h: &Histogram, percentiles: &[f64]) -> String {
    let mut s = String::new();
    for (i, p) in percentiles.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!("p{}={:.3}", p, h.percentile(*p) as f64 / 1000.0));
    }
    s
}

// ---------------- slow log ----------------

/// Redis keeps at most this many arguments and bytes per argument in a slow log entry.
const SLOWLOG_MAX_ARGS: usize = 32;
const SLOWLOG_MAX_ARG_BYTES: usize = 128;

pub struct SlowEntry {
    pub id: u64,
    pub time: i64,
    pub usec: u64,
    pub args: Vec<Vec<u8>>,
    pub peer: String,
    pub name: Vec<u8>,
}

// ---------------- latency monitor ----------------

/// Samples kept per event (as Redis).
const SERIES_LEN: usize = 160;

/// One latency-monitor event: a ring of (unix time, ms) samples, one per second at most.
pub struct Series {
    pub name: &'static str,
    samples: [(i64, u64); SERIES_LEN],
    idx: usize,
    pub max: u64,
}

impl Series {
    fn new(name: &'static str) -> Self {
        Series {
            name,
            samples: [(0, 0); SERIES_LEN],
            idx: 0,
            max: 0,
        }
    }
    fn add(&mut self, now: i64, ms: u64) {
        self.max = self.max.max(ms);
        let prev = (self.idx + SERIES_LEN - 1) % SERIES_LEN;
        if self.samples[prev].0 == now {
            self.samples[prev].1 = self.samples[prev].1.max(ms);
            return;
        }
        self.samples[self.idx] = (now, ms);
        self.idx = (self.idx + 1) % SERIES_LEN;
    }
    /// Samples oldest first.
    pub fn samples(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        (0..SERIES_LEN)
            .map(move |j| self.samples[(self.idx + j) % SERIES_LEN])
            .filter(|s| s.0 != 0)
    }
    pub fn latest(&self) -> (i64, u64) {
        self.samples[(self.idx + SERIES_LEN - 1) % SERIES_LEN]
    }
}

// ---------------- event loop ----------------

/// What made an event-loop iteration slow.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Cause {
    /// A command (named in the stall).
    Command,
    /// TLS handshake processing.
    Handshake,
    /// The active expiry cycle.
    Expire,
    /// Writing large replies.
    BigReply,
    /// Anything else: reads, writes, accepting, cron.
    Io,
}

impl Cause {
    pub fn name(self) -> &'static str {
        match self {
            Cause::Command => "command",
            Cause::Handshake => "tls-handshake",
            Cause::Expire => "expire-cycle",
            Cause::BigReply => "big-reply",
            Cause::Io => "io",
        }
    }
}

/// An iteration that took at least `STALL_NS`.
#[derive(Clone, Copy)]
pub struct Stall {
    pub at_ms: i64,
    pub busy_ns: u64,
    pub cause: Cause,
    /// Command name when the cause is a command.
    pub detail: &'static str,
    /// Time of the cause itself (the command, the handshake steps, the expiry cycle).
    pub cause_ns: u64,
    pub commands: u32,
    pub out_bytes: u64,
}

/// An iteration this long or longer is a stall worth remembering.
const STALL_NS: u64 = 1_000_000;
/// Recent stalls kept.
const STALLS_KEPT: usize = 16;
/// Reply bytes in one iteration above which a slow write is blamed on a big reply.
const BIG_REPLY_BYTES: u64 = 1 << 20;

/// What happened during the current loop iteration so far.
#[derive(Default)]
struct Iteration {
    start: Option<quanta::Instant>,
    out_bytes_at_start: u64,
    commands: u32,
    command_ns: u64,
    worst_cmd_ns: u64,
    /// Command table entry of the slowest command.
    worst_cmd: usize,
    handshake_ns: u64,
    expire_ns: u64,
}

// ---------------- state ----------------

pub struct Latency {
    /// Per command table entry; allocated the first time the command is tracked.
    hists: Vec<Option<Box<Histogram>>>,
    pub slowlog: VecDeque<SlowEntry>,
    pub slowlog_next_id: u64,
    pub events: Vec<Series>,
    /// Busy time (between polls) of every loop iteration.
    pub loop_hist: Histogram,
    /// Accept-to-established time of TLS handshakes.
    pub handshake_hist: Histogram,
    pub stalls: VecDeque<Stall>,
    pub stalls_total: u64,
    iter: Iteration,
}

impl Latency {
    pub fn new(commands: usize) -> Self {
        Latency {
            hists: (0..commands).map(|_| None).collect(),
            slowlog: VecDeque::new(),
            slowlog_next_id: 0,
            events: Vec::new(),
            loop_hist: Histogram::default(),
            handshake_hist: Histogram::default(),
            stalls: VecDeque::new(),
            stalls_total: 0,
            iter: Iteration::default(),
        }
    }
    /// A command's histogram, if it has recorded anything.
    pub fn histogram(&self, id: usize) -> Option<&Histogram> {
        self.hists
            .get(id)
            .and_then(|h| h.as_deref())
            .filter(|h| h.total > 0)
    }
    /// Add a latency-monitor sample (ms) to an event when it reaches the threshold.
    pub fn add_sample_if_needed(&mut self, threshold_ms: i64, event: &'static str, ms: u64) {
        if threshold_ms <= 0 || (ms as i64) < threshold_ms {
            return;
        }
        let now = crate::util::now_ms() / 1000;
        match self.events.iter_mut().find(|s| s.name == event) {
            Some(s) => s.add(now, ms),
            None => {
                let mut s = Series::new(event);
                s.add(now, ms);
                self.events.push(s);
            }
        }
    }
    pub fn event(&self, name: &[u8]) -> Option<&Series> {
        self.events
            .iter()
            .find(|s| s.name.as_bytes().eq_ignore_ascii_case(name))
    }
    /// Forget one event (or all with `None`); returns how many were reset.
    pub fn reset_events(&mut self, name: Option<&[u8]>) -> usize {
        let before = self.events.len();
        match name {
            None => self.events.clear(),
            Some(n) => self
                .events
                .retain(|s| !s.name.as_bytes().eq_ignore_ascii_case(n)),
        }
        before - self.events.len()
    }
}

/// Account for one executed command: its latency histogram, the latency monitor, the slow
/// log, and the current loop iteration. `id` is the command table entry that ran. A
/// command that blocked its client is logged (histogram, slow log) when it is unblocked.
#[inline]
pub fn after_command(srv: &mut Server, id: usize, client: usize, args: Args, ns: u64) {
    // Almost always nobody is blocked: one length check, no client lookup.
    let blocked = srv.data.blocking.blocked_count() > 0
        && srv
            .net
            .clients
            .get(client)
            .is_some_and(|c| c.blocked.is_some());
    let lat = &mut srv.admin.latency;
    if let Some(slot) = lat.hists.get_mut(id) {
        // CONFIG RESETSTAT zeroes the call counters; a command's first call after that
        // starts its histogram afresh, so histograms follow the counters without a hook.
        if srv.admin.cmd_stats[id].calls == 1 {
            if let Some(h) = slot {
                h.clear();
            }
        }
        if srv.cfg.latency_tracking && !blocked {
            slot.get_or_insert_with(Box::default).record(ns);
        }
    }
    let it = &mut lat.iter;
    it.commands += 1;
    it.command_ns += ns;
    if ns > it.worst_cmd_ns {
        it.worst_cmd_ns = ns;
        it.worst_cmd = id;
    }
    let usec = ns / 1000;
    let threshold = srv.cfg.latency_monitor_threshold;
    if threshold > 0 && (usec / 1000) as i64 >= threshold {
        monitor_command(srv, id, usec / 1000);
    }
    if !blocked {
        slowlog_if_slower(srv, id, client, args, usec);
    }
}

/// A blocked command answered (served after `ns` of work, or timed out / unblocked):
/// what `after_command` left for this moment, as Redis's unblock accounting does.
#[cold]
pub fn after_unblock(srv: &mut Server, id: usize, client: usize, args: Args, ns: u64) {
    srv.admin.cmd_stats[id].usec += ns / 1000;
    if srv.cfg.latency_tracking {
        if let Some(slot) = srv.admin.latency.hists.get_mut(id) {
            slot.get_or_insert_with(Box::default).record(ns);
        }
    }
    let threshold = srv.cfg.latency_monitor_threshold;
    srv.admin
        .latency
        .add_sample_if_needed(threshold, "command-unblocking", ns / 1_000_000);
    slowlog_if_slower(srv, id, client, args, ns / 1000);
}

#[inline(always)]
fn slowlog_if_slower(srv: &mut Server, id: usize, client: usize, args: Args, usec: u64) {
    let slower_than = srv.cfg.slowlog_log_slower_than;
    if slower_than < 0 {
        return;
    }
    // Trimmed after every command, as Redis does (so a lowered slowlog-max-len applies
    // at once), but the trimming itself is out of line.
    if usec as i64 >= slower_than
        || srv.admin.latency.slowlog.len() > srv.cfg.slowlog_max_len as usize
    {
        slowlog_push_trim(srv, id, client, args, usec, usec as i64 >= slower_than);
    }
}

#[cold]
#[inline(never)]
fn slowlog_push_trim(
    srv: &mut Server,
    id: usize,
    client: usize,
    args: Args,
    usec: u64,
    push: bool,
) {
    if push {
        slowlog_push(srv, id, client, args, usec);
    }
    let max = srv.cfg.slowlog_max_len.max(0) as usize;
    while srv.admin.latency.slowlog.len() > max {
        srv.admin.latency.slowlog.pop_back();
    }
}

#[cold]
fn monitor_command(srv: &mut Server, id: usize, ms: u64) {
    let event = if srv.cmds.entries[id].cmd.flags & FAST != 0 {
        "fast-command"
    } else {
        "command"
    };
    let threshold = srv.cfg.latency_monitor_threshold;
    srv.admin.latency.add_sample_if_needed(threshold, event, ms);
}

#[cold]
fn slowlog_push(srv: &mut Server, id: usize, client: usize, args: Args, usec: u64) {
    let entry = &srv.cmds.entries[id];
    if entry.cmd.flags & SKIP_SLOWLOG != 0 {
        return;
    }
    let (peer, name) = match srv.net.clients.get(client) {
        Some(c) => (c.peer.clone(), c.name.clone().unwrap_or_default()),
        None => (String::new(), Vec::new()),
    };
    let lat = &mut srv.admin.latency;
    lat.slowlog.push_front(SlowEntry {
        id: lat.slowlog_next_id,
        time: crate::util::now_ms() / 1000,
        usec,
        args: slowlog_args(args),
        peer,
        name,
    });
    lat.slowlog_next_id += 1;
}

/// Positions of the arguments that carry secrets (passwords, sensitive config values),
/// which SLOWLOG and MONITOR both show as "(redacted)", as the commands themselves redact
/// them in Redis: AUTH's user and password (its two- and three-word forms), HELLO's and
/// MIGRATE's AUTH/AUTH2 operands, all of ACL SETUSER's arguments, and the values of
/// CONFIG SET's sensitive parameters. Empty (no allocation) for every other command.
pub fn redacted_args(args: Args) -> Vec<usize> {
    let n = args.len();
    let is = |j: usize, w: &str| args.get(j).eq_ignore_ascii_case(w.as_bytes());
    let mut hide = Vec::new();
    if n == 0 {
        return hide;
    }
    // Options parsed left to right: an operand is never read as an option.
    let options = |hide: &mut Vec<usize>, from: usize, auth_words: usize| {
        let mut j = from;
        while j < n {
            if is(j, "auth") && j + auth_words < n {
                hide.extend(j + 1..=j + auth_words);
                j += auth_words;
            } else if auth_words == 1 && is(j, "auth2") && j + 2 < n {
                hide.extend([j + 1, j + 2]);
                j += 2;
            }
            j += 1;
        }
    };
    if is(0, "auth") {
        if n <= 3 {
            hide.extend(1..n);
        }
    } else if is(0, "hello") {
        options(&mut hide, 2, 2);
    } else if is(0, "migrate") {
        options(&mut hide, 6, 1);
    } else if n >= 3 && is(0, "acl") && is(1, "setuser") {
        hide.extend(2..n);
    } else if n >= 4 && is(0, "config") && is(1, "set") {
        for j in (2..n - 1).step_by(2) {
            let name = String::from_utf8_lossy(args.get(j));
            if crate::config::lookup(&name)
                .is_some_and(|s| s.flags & crate::config::types::SENSITIVE != 0)
            {
                hide.push(j + 1);
            }
        }
    }
    hide
}

/// The arguments as a slow log entry keeps them: at most 32, each at most 128 bytes.
fn slowlog_args(args: Args) -> Vec<Vec<u8>> {
    let n = args.len();
    let hidden = redacted_args(args);
    let kept = n.min(SLOWLOG_MAX_ARGS);
    let mut out = Vec::with_capacity(kept);
    for i in 0..kept {
        if kept < n && i == kept - 1 {
            out.push(format!("... ({} more arguments)", n - kept + 1).into_bytes());
            break;
        }
        if hidden.contains(&i) {
            out.push(b"(redacted)".to_vec());
            continue;
        }
        let a = args.get(i);
        if a.len() > SLOWLOG_MAX_ARG_BYTES {
            let mut v = a[..SLOWLOG_MAX_ARG_BYTES].to_vec();
            v.extend_from_slice(
                format!("... ({} more bytes)", a.len() - SLOWLOG_MAX_ARG_BYTES).as_bytes(),
            );
            out.push(v);
        } else {
            out.push(a.to_vec());
        }
    }
    out
}

// ---------------- event-loop hooks (called from the reactor) ----------------

/// An iteration starts: the poll returned.
#[inline]
pub fn loop_begin(srv: &mut Server) {
    srv.admin.latency.iter = Iteration {
        start: Some(quanta::Instant::now()),
        out_bytes_at_start: srv.admin.stats.net_output_bytes,
        ..Iteration::default()
    };
}

/// Time spent on one cause outside commands (handshake steps, the expiry cycle).
#[inline]
pub fn note(srv: &mut Server, cause: Cause, d: Duration) {
    let ns = d.as_nanos() as u64;
    match cause {
        Cause::Handshake => srv.admin.latency.iter.handshake_ns += ns,
        Cause::Expire => {
            srv.admin.latency.iter.expire_ns += ns;
            let threshold = srv.cfg.latency_monitor_threshold;
            srv.admin
                .latency
                .add_sample_if_needed(threshold, "expire-cycle", ns / 1_000_000);
        }
        _ => {}
    }
}

/// An iteration ends (before the next poll): record its busy time and, when it stalled
/// the loop, what made it slow.
#[inline]
pub fn loop_end(srv: &mut Server) {
    let lat = &mut srv.admin.latency;
    let Some(start) = lat.iter.start.take() else {
        return;
    };
    let busy = start.elapsed().as_nanos() as u64;
    lat.loop_hist.record(busy);
    if busy < STALL_NS {
        return;
    }
    let it = &lat.iter;
    let out_bytes = srv.admin.stats.net_output_bytes - it.out_bytes_at_start;
    let other = busy.saturating_sub(it.command_ns + it.handshake_ns + it.expire_ns);
    let other_cause = if out_bytes >= BIG_REPLY_BYTES {
        Cause::BigReply
    } else {
        Cause::Io
    };
    let (cause, cause_ns) = [
        (Cause::Command, it.worst_cmd_ns),
        (Cause::Handshake, it.handshake_ns),
        (Cause::Expire, it.expire_ns),
        (other_cause, other),
    ]
    .into_iter()
    .max_by_key(|x| x.1)
    .unwrap_or((Cause::Io, 0));
    let stall = Stall {
        at_ms: crate::util::now_ms(),
        busy_ns: busy,
        cause,
        detail: if cause == Cause::Command {
            srv.cmds
                .entries
                .get(it.worst_cmd)
                .map_or("", |e| e.cmd.name)
        } else {
            ""
        },
        cause_ns,
        commands: it.commands,
        out_bytes,
    };
    lat.stalls_total += 1;
    if lat.stalls.len() == STALLS_KEPT {
        lat.stalls.pop_back();
    }
    lat.stalls.push_front(stall);
}

// ---------------- INFO sections ----------------

/// INFO latencystats and INFO loopstats.
pub fn info_section(srv: &Server, section: &str, o: &mut String) {
    use std::fmt::Write;
    let pcts = &srv.cfg.latency_tracking_info_percentiles.0;
    match section {
        "latencystats" => {
            for (id, e) in srv.cmds.entries.iter().enumerate() {
                if srv.admin.cmd_stats[id].calls == 0 {
                    continue;
                }
                if let Some(h) = srv.admin.latency.histogram(id) {
                    let name = e.full_name.replace(['\r', '\n', ':'], "_");
                    let _ = write!(
                        o,
                        "latency_percentiles_usec_{}:{}\r\n",
                        name,
                        percentiles_line(h, pcts)
                    );
                }
            }
        }
        "loopstats" => {
            let lat = &srv.admin.latency;
            let _ = write!(o, "eventloop_iterations:{}\r\n", lat.loop_hist.total());
            let _ = write!(
                o,
                "eventloop_busy_usec_percentiles:{}\r\n",
                percentiles_line(&lat.loop_hist, pcts)
            );
            let _ = write!(
                o,
                "eventloop_busy_usec_max:{}\r\n",
                lat.loop_hist.max() / 1000
            );
            let _ = write!(o, "tls_handshakes_timed:{}\r\n", lat.handshake_hist.total());
            let _ = write!(
                o,
                "tls_handshake_usec_percentiles:{}\r\n",
                percentiles_line(&lat.handshake_hist, pcts)
            );
            let _ = write!(o, "eventloop_stalls:{}\r\n", lat.stalls_total);
            let now = crate::util::now_ms();
            for (i, s) in lat.stalls.iter().enumerate() {
                let _ = write!(
                    o,
                    "eventloop_stall_{}:ago_ms={},busy_usec={},cause={},detail={},cause_usec={},commands={},out_bytes={}\r\n",
                    i,
                    now - s.at_ms,
                    s.busy_ns / 1000,
                    s.cause.name(),
                    s.detail,
                    s.cause_ns / 1000,
                    s.commands,
                    s.out_bytes
                );
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut prev = 0;
        for v in (0..100_000u64).chain([1 << 20, (1 << 30) + 12345, 1 << 39]) {
            let b = bucket_of(v);
            assert!(b >= prev || v < 100_000, "bucket order at {v}");
            prev = b;
            let hi = bucket_high(b);
            assert!(hi >= v, "{v} above its bucket top {hi}");
            assert!(hi - v <= v / 16 + 1, "{v} bucket top {hi} too loose");
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn percentiles() {
        let mut h = Histogram::default();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        let p50 = h.percentile(50.0);
        assert!((480_000..=540_000).contains(&p50), "{p50}");
        assert_eq!(h.percentile(100.0), 1_000_000);
        assert!(h.percentile(0.0) <= 1100);
        let cum = h.cumulative_usec();
        assert_eq!(cum.last().unwrap().1, 1000);
        assert_eq!(cum[0], (1, 1));
        assert!(cum.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1));
    }

    #[test]
    fn series_keeps_one_sample_per_second() {
        let mut s = Series::new("command");
        s.add(100, 5);
        s.add(100, 9);
        s.add(100, 3);
        s.add(101, 4);
        let v: Vec<_> = s.samples().collect();
        assert_eq!(v, vec![(100, 9), (101, 4)]);
        assert_eq!(s.max, 9);
        assert_eq!(s.latest(), (101, 4));
    }

    fn args_of(words: &[&str]) -> (Vec<u8>, Vec<(u32, u32)>) {
        let mut buf = Vec::new();
        let mut spans = Vec::new();
        for w in words {
            let s = buf.len() as u32;
            buf.extend_from_slice(w.as_bytes());
            spans.push((s, buf.len() as u32));
        }
        (buf, spans)
    }

    #[test]
    fn slowlog_redacts_secrets() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            (
                "hello",
                &["HELLO", "3", "AUTH", "u", "p", "SETNAME", "n"],
                &[
                    "HELLO",
                    "3",
                    "AUTH",
                    "(redacted)",
                    "(redacted)",
                    "SETNAME",
                    "n",
                ],
            ),
            (
                "migrate",
                &[
                    "MIGRATE", "h", "1", "k", "0", "5", "AUTH2", "u", "p", "KEYS", "a",
                ],
                &[
                    "MIGRATE",
                    "h",
                    "1",
                    "k",
                    "0",
                    "5",
                    "AUTH2",
                    "(redacted)",
                    "(redacted)",
                    "KEYS",
                    "a",
                ],
            ),
            (
                "acl|setuser",
                &["ACL", "SETUSER", "bob", ">pw", "on"],
                &["ACL", "SETUSER", "(redacted)", "(redacted)", "(redacted)"],
            ),
            (
                "config|set",
                &["CONFIG", "SET", "requirepass", "pw", "hz", "10"],
                &["CONFIG", "SET", "requirepass", "(redacted)", "hz", "10"],
            ),
            ("get", &["GET", "auth"], &["GET", "auth"]),
            ("auth", &["AUTH", "pw"], &["AUTH", "(redacted)"]),
            // Four words are a syntax error before Redis redacts anything.
            ("auth", &["AUTH", "a", "b", "c"], &["AUTH", "a", "b", "c"]),
            (
                "config|set",
                &["CONFIG", "SET", "masterauth", "pw", "masteruser", "u"],
                &[
                    "CONFIG",
                    "SET",
                    "masterauth",
                    "(redacted)",
                    "masteruser",
                    "(redacted)",
                ],
            ),
        ];
        for (name, words, want) in cases {
            let (buf, spans) = args_of(words);
            let got = slowlog_args(Args::new(&buf, &spans));
            let want: Vec<Vec<u8>> = want.iter().map(|w| w.as_bytes().to_vec()).collect();
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn slowlog_trims_like_redis() {
        let words: Vec<Vec<u8>> = (0..40).map(|i| format!("a{i}").into_bytes()).collect();
        let mut buf = Vec::new();
        let mut spans = Vec::new();
        for w in &words {
            let s = buf.len() as u32;
            buf.extend_from_slice(w);
            spans.push((s, buf.len() as u32));
        }
        let out = slowlog_args(Args::new(&buf, &spans));
        assert_eq!(out.len(), 32);
        assert_eq!(out[31], b"... (9 more arguments)");
        let long = vec![b'A'; 130];
        let spans = [(0u32, 4u32), (4, 134)];
        let mut b = b"auth".to_vec();
        b.extend_from_slice(&long);
        let out = slowlog_args(Args::new(&b, &spans));
        assert_eq!(out[1], b"(redacted)");
        let mut b = b"echo".to_vec();
        b.extend_from_slice(&long);
        let out = slowlog_args(Args::new(&b, &spans));
        assert!(out[1].ends_with(b"... (2 more bytes)"));
        assert_eq!(out[1].len(), 128 + b"... (2 more bytes)".len());
    }
}
