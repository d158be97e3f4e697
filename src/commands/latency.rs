//! SLOWLOG and LATENCY: Redis's latency tools over the instruments in `crate::latency`.
use super::*;
use crate::latency::{Histogram, Series};

pub static COMMANDS: &[Command] = &[
    cmd("slowlog", -2, 0, 0, container)
        .subs(SLOWLOG)
        .doc("A container for slow log commands", "2.2.12"),
    cmd("latency", -2, 0, 0, container)
        .subs(LATENCY)
        .doc("A container for latency diagnostics commands", "2.8.13"),
];

static SLOWLOG: &[Command] = &[
    cmd("get", -2, ADMIN | LOADING | STALE, 0, slowlog_get)
        .doc("Get the slow log's entries", "2.2.12"),
    cmd("len", 2, ADMIN | LOADING | STALE, 0, slowlog_len)
        .doc("Get the slow log's length", "2.2.12"),
    cmd("reset", 2, ADMIN | LOADING | STALE, 0, slowlog_reset)
        .doc("Clear all entries from the slow log", "2.2.12"),
    cmd("help", 2, LOADING | STALE, 0, slowlog_help)
        .doc("Show helpful text about the different subcommands", "6.2.0"),
];

const LAT_FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

static LATENCY: &[Command] = &[
    cmd("doctor", 2, LAT_FLAGS, 0, latency_doctor)
        .doc("Return a human readable latency analysis report.", "2.8.13"),
    cmd("graph", 3, LAT_FLAGS, 0, latency_graph)
        .doc("Return a latency graph for the event.", "2.8.13"),
    cmd("help", 2, LOADING | STALE, 0, latency_help).doc(
        "Show helpful text about the different subcommands.",
        "2.8.13",
    ),
    cmd("histogram", -2, LAT_FLAGS, 0, latency_histogram).doc(
        "Return the cumulative distribution of latencies of a subset of commands or all.",
        "7.0.0",
    ),
    cmd("history", 3, LAT_FLAGS, 0, latency_history)
        .doc("Return timestamp-latency samples for the event.", "2.8.13"),
    cmd("latest", 2, LAT_FLAGS, 0, latency_latest).doc(
        "Return the latest latency samples for all events.",
        "2.8.13",
    ),
    cmd("reset", -2, LAT_FLAGS, 0, latency_reset)
        .doc("Reset latency data for one or more events.", "2.8.13"),
];

// ---------------- SLOWLOG ----------------

/// SLOWLOG GET [count]: newest first, 10 by default, -1 for all.
fn slowlog_get(ctx: &mut Ctx, args: Args) {
    const COUNT_ERR: &str = "ERR count should be greater than or equal to -1";
    let count =
        match args.len() {
            2 => 10,
            3 => match crate::util::parse_i64(args.get(2)) {
                Some(-1) => usize::MAX,
                Some(n) if n >= 0 => n as usize,
                _ => return ctx.out.error(COUNT_ERR),
            },
            _ => return ctx.out.error(
                "ERR unknown subcommand or wrong number of arguments for 'get'. Try SLOWLOG HELP.",
            ),
        };
    let Ctx { srv, out, .. } = ctx;
    let log = &srv.admin.latency.slowlog;
    out.array(count.min(log.len()));
    for e in log.iter().take(count) {
        out.array(6);
        out.int(e.id as i64);
        out.int(e.time);
        out.int(e.usec as i64);
        out.array(e.args.len());
        for a in &e.args {
            out.bulk(a);
        }
        out.bulk(e.peer.as_bytes());
        out.bulk(&e.name);
    }
}

fn slowlog_len(ctx: &mut Ctx, _: Args) {
    let n = ctx.srv.admin.latency.slowlog.len();
    ctx.out.int(n as i64);
}

fn slowlog_reset(ctx: &mut Ctx, _: Args) {
    ctx.srv.admin.latency.slowlog.clear();
    ctx.out.ok();
}

fn slowlog_help(ctx: &mut Ctx, _: Args) {
    server::help(
        ctx,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
}

// ---------------- LATENCY ----------------

fn latency_latest(ctx: &mut Ctx, _: Args) {
    let Ctx { srv, out, .. } = ctx;
    out.array(srv.admin.latency.events.len());
    for s in &srv.admin.latency.events {
        let (time, ms) = s.latest();
        out.array(4);
        out.bulk_str(s.name);
        out.int(time);
        out.int(ms as i64);
        out.int(s.max as i64);
    }
}

fn latency_history(ctx: &mut Ctx, args: Args) {
    let Ctx { srv, out, .. } = ctx;
    let Some(s) = srv.admin.latency.event(args.get(2)) else {
        return out.array(0);
    };
    let samples: Vec<(i64, u64)> = s.samples().collect();
    out.array(samples.len());
    for (time, ms) in samples {
        out.array(2);
        out.int(time);
        out.int(ms as i64);
    }
}

fn latency_reset(ctx: &mut Ctx, args: Args) {
    let lat = &mut ctx.srv.admin.latency;
    let n = if args.len() == 2 {
        lat.reset_events(None)
    } else {
        args.iter().skip(2).map(|e| lat.reset_events(Some(e))).sum()
    };
    ctx.out.int(n as i64);
}

/// Rows of the ASCII graph.
const GRAPH_ROWS: usize = 4;
/// Columns of the ASCII graph.
const GRAPH_COLS: usize = 80;

/// "12s", "3m", "2h", "1d": how long ago a sample was taken.
fn ago(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// LATENCY GRAPH event: one column per sample (oldest left), bar height scaled between
/// the lowest and highest sample, and the sample's age written vertically below.
fn graph(s: &Series) -> String {
    let samples: Vec<(i64, u64)> = s.samples().collect();
    let now = crate::util::now_ms() / 1000;
    let lo = samples.iter().map(|x| x.1).min().unwrap_or(0);
    let hi = samples.iter().map(|x| x.1).max().unwrap_or(0);
    let mut g = format!(
        "{} - high {} ms, low {} ms (all time high {} ms)\n{}\n",
        s.name,
        hi,
        lo,
        s.max,
        "-".repeat(GRAPH_COLS)
    );
    let shown = &samples[samples.len().saturating_sub(GRAPH_COLS)..];
    let height = |ms: u64| -> usize {
        if hi == lo {
            GRAPH_ROWS
        } else {
            1 + ((ms - lo) as usize * (GRAPH_ROWS - 1) + (hi - lo) as usize / 2)
                / (hi - lo) as usize
        }
    };
    for row in (1..=GRAPH_ROWS).rev() {
        let line: String = shown
            .iter()
            .map(|&(_, ms)| if height(ms) >= row { '#' } else { ' ' })
            .collect();
        g.push_str(line.trim_end());
        g.push('\n');
    }
    let labels: Vec<Vec<char>> = shown
        .iter()
        .map(|&(t, _)| ago(now - t).chars().collect())
        .collect();
    let depth = labels.iter().map(|l| l.len()).max().unwrap_or(0);
    for i in 0..depth {
        let line: String = labels
            .iter()
            .map(|l| l.get(i).copied().unwrap_or(' '))
            .collect();
        g.push_str(line.trim_end());
        g.push('\n');
    }
    g
}

fn latency_graph(ctx: &mut Ctx, args: Args) {
    let text = match ctx.srv.admin.latency.event(args.get(2)) {
        Some(s) => graph(s),
        None => {
            let msg = format!(
                "ERR No samples available for event '{}'",
                String::from_utf8_lossy(args.get(2))
            );
            return ctx.out.error(&msg);
        }
    };
    ctx.out.verbatim(text.as_bytes());
}

/// LATENCY DOCTOR: a plain report of what the latency monitor saw, with hints.
fn doctor_report(srv: &Server) -> String {
    let threshold = srv.cfg.latency_monitor_threshold;
    if threshold == 0 {
        return "Latency monitoring is disabled (latency-monitor-threshold is 0). Enable it \
                with CONFIG SET latency-monitor-threshold <milliseconds> to record events \
                that take at least that long.\n"
            .into();
    }
    let lat = &srv.admin.latency;
    if lat.events.is_empty() {
        return format!(
            "No latency event of {threshold} ms or more was recorded since the server started \
             or the events were last reset.\n"
        );
    }
    let mut r = format!(
        "Latency events of at least {threshold} ms were recorded for {} event class(es):\n\n",
        lat.events.len()
    );
    for (i, s) in lat.events.iter().enumerate() {
        let v: Vec<(i64, u64)> = s.samples().collect();
        let n = v.len().max(1) as f64;
        let avg = v.iter().map(|x| x.1 as f64).sum::<f64>() / n;
        let mad = v.iter().map(|x| (x.1 as f64 - avg).abs()).sum::<f64>() / n;
        let period = match (v.first(), v.last()) {
            (Some(a), Some(b)) if v.len() > 1 => (b.0 - a.0) as f64 / (v.len() - 1) as f64,
            _ => 0.0,
        };
        r.push_str(&format!(
            "{}. {}: {} spike(s), average {:.0} ms, mean deviation {:.0} ms, one every {:.2} s; worst ever {} ms.\n",
            i + 1,
            s.name,
            v.len(),
            avg,
            mad,
            period,
            s.max
        ));
    }
    r.push_str("\nHints:\n");
    let slow = srv.cfg.slowlog_log_slower_than;
    for s in &lat.events {
        match s.name {
            "command" | "fast-command" => {
                if slow < 0 || slow > threshold * 1000 {
                    r.push_str(&format!(
                        "- Slow commands were seen; log them with CONFIG SET slowlog-log-slower-than {} and read SLOWLOG GET.\n",
                        threshold * 1000
                    ));
                } else {
                    r.push_str(
                        "- Slow commands were seen; SLOWLOG GET names them. Commands over big \
                         values (KEYS, SMEMBERS, LRANGE 0 -1, ...) are the usual cause.\n",
                    );
                }
                if s.name == "fast-command" {
                    r.push_str(
                        "- O(1)/O(log N) commands were slow: the host itself is likely starved \
                         of CPU (other processes, a noisy neighbour, swapping). INFO loopstats \
                         shows stalls not caused by commands.\n",
                    );
                }
            }
            "expire-cycle" => r.push_str(
                "- The expiry cycle was slow: many keys expiring at once or big keys expiring; \
                 spread expiry times or split big keys.\n",
            ),
            _ => {}
        }
    }
    r
}

fn latency_doctor(ctx: &mut Ctx, _: Args) {
    let text = doctor_report(ctx.srv);
    ctx.out.verbatim(text.as_bytes());
}

fn histogram_reply(out: &mut crate::resp::Reply, name: &str, h: &Histogram) {
    out.bulk_str(name);
    out.map(2);
    out.bulk_str("calls");
    out.int(h.total() as i64);
    out.bulk_str("histogram_usec");
    let cum = h.cumulative_usec();
    out.map(cum.len());
    for (usec, n) in cum {
        out.int(usec as i64);
        out.int(n as i64);
    }
}

/// LATENCY HISTOGRAM [command ...]: per-command cumulative latency distributions. A
/// container command stands for its subcommands; unknown names are skipped.
fn latency_histogram(ctx: &mut Ctx, args: Args) {
    let srv = &*ctx.srv;
    let mut ids: Vec<usize> = Vec::new();
    let with_data =
        |id: usize| srv.admin.cmd_stats[id].calls > 0 && srv.admin.latency.histogram(id).is_some();
    if args.len() == 2 {
        ids.extend((0..srv.cmds.len()).filter(|&i| with_data(i)));
    } else {
        for name in args.iter().skip(2) {
            let id = match name.iter().position(|&b| b == b'|') {
                Some(p) => srv
                    .cmds
                    .lookup(&name[..p])
                    .and_then(|c| srv.cmds.lookup_sub(c, &name[p + 1..])),
                None => srv.cmds.lookup(name),
            };
            let Some(id) = id else { continue };
            let subs = srv.cmds.entries[id].subs.values().copied();
            let mut subs: Vec<usize> = subs.collect();
            subs.sort_unstable();
            ids.extend(std::iter::once(id).chain(subs).filter(|&i| with_data(i)));
        }
    }
    let Ctx { srv, out, .. } = ctx;
    out.map(ids.len());
    for id in ids {
        if let Some(h) = srv.admin.latency.histogram(id) {
            histogram_reply(out, &srv.cmds.entries[id].full_name, h);
        }
    }
}

fn latency_help(ctx: &mut Ctx, _: Args) {
    server::help(
        ctx,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
}
