//! Replication commands: REPLICAOF (SLAVEOF), SYNC, PSYNC, REPLCONF. The work is
//! `crate::replication`'s; ROLE, WAIT and INFO replication read its state.
use super::*;
use crate::util::eq_ic;

pub static COMMANDS: &[Command] = &[
    cmd(
        "replicaof",
        3,
        ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING,
        0,
        replicaof,
    ),
    cmd(
        "slaveof",
        3,
        ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING,
        0,
        replicaof,
    ),
    cmd("failover", -1, ADMIN | NOSCRIPT | STALE, 0, failover),
    cmd(
        "sync",
        1,
        ADMIN | NOSCRIPT | NO_MULTI | NO_ASYNC_LOADING,
        0,
        sync,
    ),
    cmd(
        "psync",
        -3,
        ADMIN | NOSCRIPT | NO_MULTI | NO_ASYNC_LOADING,
        0,
        psync,
    ),
    cmd(
        "replconf",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY,
        0,
        replconf,
    ),
];

/// REPLICAOF host port | NO ONE.
fn replicaof(ctx: &mut Ctx, args: Args) {
    if ctx.srv.cfg.cluster_enabled {
        return ctx.out.error("ERR REPLICAOF not allowed in cluster mode.");
    }
    let target = if eq_ic(args.get(1), "no") && eq_ic(args.get(2), "one") {
        None
    } else {
        let Some(port) = crate::util::parse_i64(args.get(2)).filter(|p| (0..=65535).contains(p))
        else {
            return ctx.out.error("ERR Invalid master port");
        };
        let host = String::from_utf8_lossy(args.get(1)).into_owned();
        Some((host, port as u16))
    };
    let by = {
        let c = ctx.client();
        format!("id={} addr={} user={}", c.id, c.peer, c.user)
    };
    match crate::replication::replica::replicaof(ctx.srv, target, &by) {
        Ok(msg) => ctx.out.simple(msg),
        Err(e) => ctx.out.error(&e),
    }
}

fn sync(ctx: &mut Ctx, args: Args) {
    crate::replication::master::sync(ctx, args, false);
}

fn psync(ctx: &mut Ctx, args: Args) {
    crate::replication::master::sync(ctx, args, true);
}

fn replconf(ctx: &mut Ctx, args: Args) {
    crate::replication::master::replconf(ctx, args);
}

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms].
fn failover(ctx: &mut Ctx, args: Args) {
    let (mut target, mut force, mut abort, mut timeout) = (None, false, false, 0i64);
    let mut i = 1;
    while i < args.len() {
        let a = args.get(i);
        if eq_ic(a, "to") && i + 2 < args.len() && target.is_none() {
            let Some(port) =
                crate::util::parse_i64(args.get(i + 2)).filter(|p| (0..=65535).contains(p))
            else {
                return ctx.out.error("ERR Invalid port");
            };
            target = Some((
                String::from_utf8_lossy(args.get(i + 1)).into_owned(),
                port as u16,
            ));
            i += 3;
        } else if eq_ic(a, "timeout") && i + 1 < args.len() && timeout == 0 {
            match crate::util::parse_i64(args.get(i + 1)) {
                Some(t) if t > 0 => timeout = t,
                Some(_) => return ctx.out.error("ERR FAILOVER timeout must be greater than 0"),
                None => return ctx.out.error("ERR value is not an integer or out of range"),
            }
            i += 2;
        } else if eq_ic(a, "force") && !force {
            force = true;
            i += 1;
        } else if eq_ic(a, "abort") && !abort {
            abort = true;
            i += 1;
        } else {
            return ctx.out.error(SYNTAX);
        }
    }
    let r = if abort {
        if target.is_some() || force || timeout != 0 {
            return ctx.out.error(SYNTAX);
        }
        crate::replication::failover::abort(ctx.srv)
    } else {
        if force && (timeout == 0 || target.is_none()) {
            return ctx.out.error(
                "ERR FAILOVER with force option requires both a timeout and target HOST and IP.",
            );
        }
        crate::replication::failover::start(ctx.srv, target, timeout, force)
    };
    match r {
        Ok(()) => ctx.out.ok(),
        Err(e) => ctx.out.error(&e),
    }
}
