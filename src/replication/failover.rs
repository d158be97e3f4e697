//! FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]: a coordinated switch of roles
//! between this master and one of its replicas, as Redis 7.0 does it. Writes are paused,
//! the master waits until the replica acknowledged everything (waiting-for-sync), then
//! becomes a replica of it and asks for the stream with `PSYNC replid offset FAILOVER`
//! (failover-in-progress), which tells the replica to promote itself first; the old
//! master then continues partially, and writes resume.
use crate::server::Server;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Phase {
    WaitingForSync,
    InProgress,
}

pub struct Failover {
    pub phase: Phase,
    /// The replica to promote (None: the first one that catches up).
    pub target: Option<(String, u16)>,
    pub deadline: Option<Instant>,
    pub force: bool,
}

/// INFO's master_failover_state.
pub fn state_name(srv: &Server) -> &'static str {
    match srv.repl.failover.as_ref().map(|f| f.phase) {
        None => "no-failover",
        Some(Phase::WaitingForSync) => "waiting-for-sync",
        Some(Phase::InProgress) => "failover-in-progress",
    }
}

/// The FAILOVER command (arguments already parsed). Err: Redis's error text.
pub fn start(
    srv: &mut Server,
    target: Option<(String, u16)>,
    timeout_ms: i64,
    force: bool,
) -> Result<(), String> {
    if srv.cfg.cluster_enabled {
        return Err("ERR FAILOVER not allowed in cluster mode.".into());
    }
    if srv.repl.is_replica() {
        return Err("ERR FAILOVER is not valid when server is a replica.".into());
    }
    if srv.repl.replicas.is_empty() {
        return Err("ERR FAILOVER requires connected replicas.".into());
    }
    if srv.repl.failover.is_some() {
        return Err("ERR FAILOVER already in progress.".into());
    }
    if let Some((host, port)) = target.as_ref() {
        let found = srv.repl.replicas.iter().find_map(|&i| {
            let c = srv.net.clients.get(i)?;
            let r = c.repl.as_ref()?;
            (super::master::replica_ip(c).eq_ignore_ascii_case(host) && r.listening_port == *port)
                .then_some(r.online())
        });
        match found {
            None => return Err("ERR FAILOVER target HOST and PORT is not a replica.".into()),
            Some(false) => return Err("ERR FAILOVER target replica is not online.".into()),
            Some(true) => {}
        }
    }
    let deadline =
        (timeout_ms > 0).then(|| Instant::now() + Duration::from_millis(timeout_ms as u64));
    crate::notice!(
        "FAILOVER requested to {}.",
        target
            .as_ref()
            .map_or("any replica".to_string(), |(h, p)| format!("{h}:{p}"))
    );
    srv.repl.failover = Some(Failover {
        phase: Phase::WaitingForSync,
        target,
        deadline,
        force,
    });
    // Writes wait (as CLIENT PAUSE WRITE) while the replica catches up.
    srv.admin.set_pause(Some(crate::server::Pause {
        until: Instant::now() + Duration::from_secs(365 * 86400),
        write_only: true,
    }));
    srv.repl.getack = true;
    Ok(())
}

/// FAILOVER ABORT.
pub fn abort(srv: &mut Server) -> Result<(), String> {
    if srv.repl.failover.is_none() {
        return Err("ERR FAILOVER is not in progress.".into());
    }
    end(srv, Some("Failover aborted by user"));
    Ok(())
}

/// The failover ends (aborted when `why`): writes resume; a master that had started
/// following its replica goes back to being a master.
fn end(srv: &mut Server, why: Option<&str>) {
    let Some(f) = srv.repl.failover.take() else {
        return;
    };
    if let Some(why) = why {
        crate::warn!("FAILOVER aborted: {why}");
        if f.phase == Phase::InProgress {
            let _ = super::replica::replicaof(srv, None, "failover abort");
        }
    } else {
        crate::notice!("Failover target replied successfully, failover complete.");
    }
    srv.admin.set_pause(None);
}

/// From the cron and after acknowledgements: move the failover on.
pub fn progress(srv: &mut Server) {
    let Some(f) = srv.repl.failover.as_ref() else {
        return;
    };
    match f.phase {
        Phase::WaitingForSync => {
            let offset = super::current_offset(srv);
            let caught_up = srv.repl.replicas.iter().find_map(|&i| {
                let c = srv.net.clients.get(i)?;
                let r = c.repl.as_ref()?;
                let host = super::master::replica_ip(c);
                let wanted = match f.target.as_ref() {
                    Some((h, p)) => h.eq_ignore_ascii_case(&host) && *p == r.listening_port,
                    None => true,
                };
                (wanted && r.online() && r.ack_off >= offset).then_some((host, r.listening_port))
            });
            let timed_out = f.deadline.is_some_and(|d| Instant::now() >= d);
            let target = match (caught_up, timed_out) {
                (Some(t), _) => t,
                (None, true) if f.force => {
                    crate::warn!(
                        "FAILOVER to {}:{} time out exceeded, failing over.",
                        f.target.as_ref().map_or("", |t| t.0.as_str()),
                        f.target.as_ref().map_or(0, |t| t.1)
                    );
                    f.target.clone().expect("FORCE needs a target")
                }
                (None, true) => return end(srv, Some("Replica never caught up before timeout")),
                // Not yet: the replicas acknowledge every second (a GETACK here would move
                // the offset it waits for ahead of every acknowledgement).
                (None, false) => return,
            };
            crate::notice!(
                "Failover target {}:{} is synced, failing over.",
                target.0,
                target.1
            );
            let fo = srv.repl.failover.as_mut().expect("a failover");
            fo.phase = Phase::InProgress;
            fo.target = Some(target.clone());
            let _ = super::replica::replicaof(srv, Some(target), "failover");
            if let Some(m) = srv.repl.master.as_mut() {
                m.psync_failover = true;
            }
        }
        Phase::InProgress => {
            let connected = srv.repl.master_client().is_some();
            if connected {
                end(srv, None);
            } else if srv.repl.master.as_ref().is_some_and(|m| m.failover_refused) {
                end(srv, Some("Failover target rejected psync request"));
            }
        }
    }
}
