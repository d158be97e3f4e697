//! Child processes: fork, the rules a child lives by, and reaping in the parent.
//!
//! A child is a copy of this single-threaded server taken in the middle of a command. It
//! never returns into the event loop: it does its one job and leaves with `_exit`, so no
//! destructor of the parent's state runs twice (no TLS close_notify to the parent's
//! clients, no file removed). A panic in the child is caught and ends it with status 1.
//! It never touches the epoll registry, which it shares with the parent: the parent in
//! turn takes every socket out of epoll before closing it ([`crate::reactor`]), as a
//! child may keep the socket alive past that close.
//!
//! Children: forked Lua debugging sessions (SCRIPT DEBUG YES), BGSAVE and AOF rewrites.
use crate::server::Server;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A forked Lua debugging session (SCRIPT DEBUG YES).
    Ldb,
    /// A BGSAVE (crate::persist::snapshot).
    Rdb,
    /// An AOF rewrite (crate::persist::aof).
    Aof,
}

#[derive(Debug)]
pub struct Child {
    pub pid: libc::pid_t,
    pub kind: Kind,
}

/// Where `fork` left us.
pub enum Forked {
    Parent(libc::pid_t),
    Child,
}

/// fork(2). In the child, SIGTERM and SIGINT are ignored (the parent's shutdown stops
/// its children) and the listening sockets are closed, so a port is free once the parent
/// exits even while a child still runs.
pub fn fork(srv: &mut Server, kind: Kind) -> std::io::Result<Forked> {
    // SAFETY: the server is single-threaded, so the child gets a consistent copy of all
    // memory and no lock can be held by a thread that does not exist in the child.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error()),
        0 => {
            // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
            unsafe {
                libc::signal(libc::SIGTERM, libc::SIG_IGN);
                libc::signal(libc::SIGINT, libc::SIG_IGN);
            }
            // Dropping a listener only closes our copy of its descriptor; the parent's
            // epoll registration lives on through the parent's copy.
            srv.admin.children.clear();
            srv.net.listeners.clear();
            Ok(Forked::Child)
        }
        pid => {
            srv.admin.stats.total_forks += 1;
            srv.admin.children.push(Child { pid, kind });
            Ok(Forked::Parent(pid))
        }
    }
}

/// Run the child's job and leave: status 0 when it returned true, 1 when it returned
/// false or panicked. Never returns, and nothing of the parent's unwinds or is dropped on
/// the way out.
pub fn run_and_exit(job: impl FnOnce() -> bool) -> ! {
    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).unwrap_or(false);
    // SAFETY: _exit ends the process without running atexit handlers or destructors.
    unsafe { libc::_exit(if ok { 0 } else { 1 }) }
}

/// Whether a child that writes the dataset (BGSAVE, AOF rewrite) runs: one at a
/// time, as in Redis. Debugging sessions do not count.
pub fn writer_running(srv: &Server) -> bool {
    srv.admin.children.iter().any(|c| c.kind != Kind::Ldb)
}

/// Collect the children that have exited (from the cron).
pub fn reap(srv: &mut Server) {
    let mut done = Vec::new();
    srv.admin.children.retain(|c| {
        let mut status = 0;
        // SAFETY: waitpid on a pid of our own child, no pointers but a local int.
        let r = unsafe { libc::waitpid(c.pid, &mut status, libc::WNOHANG) };
        if r == c.pid || r == -1 {
            let ok = r == c.pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
            match c.kind {
                Kind::Ldb => crate::verbose!("Lua debugging session child {} exited", c.pid),
                kind => done.push((c.pid, kind, ok)),
            }
            return false;
        }
        true
    });
    for (pid, kind, ok) in done {
        if kind == Kind::Aof {
            crate::persist::aof::child_done(srv, pid, ok);
        } else {
            crate::persist::snapshot::child_done(srv, pid, ok);
        }
        crate::replication::master::after_child(srv, pid, ok);
    }
    for pid in std::mem::take(&mut srv.admin.killed_children) {
        crate::replication::master::after_child(srv, pid, false);
    }
}

/// Kill the forked debugging sessions (at shutdown, as Redis does).
pub fn kill_debug_sessions(srv: &mut Server) {
    for c in srv.admin.children.iter().filter(|c| c.kind == Kind::Ldb) {
        crate::warn!("Killing debugging session {}", c.pid);
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(c.pid, libc::SIGKILL) };
    }
    srv.admin.children.retain(|c| c.kind != Kind::Ldb);
}
