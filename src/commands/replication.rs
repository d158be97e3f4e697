//! Replication commands: REPLICAOF (SLAVEOF), SYNC, PSYNC, REPLCONF. The work is
//! `crate::replication`'s; ROLE, WAIT and INFO replication read its state.
use super::*;
use crate::util::eq_ic;

pub static COMMANDS: &[Command] = &[
    cmd("replicaof", 3, ADMIN | NOSCRIPT | STALE, 0, replicaof),
    cmd("slaveof", 3, ADMIN | NOSCRIPT | STALE, 0, replicaof),
    cmd("sync", 1, ADMIN | NOSCRIPT | NO_MULTI, 0, sync),
    cmd("psync", -3, ADMIN | NOSCRIPT | NO_MULTI, 0, psync),
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
