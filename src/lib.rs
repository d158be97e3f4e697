//! ferrokv: a Redis-compatible key-value server. One thread, one mio reactor, rustls for TLS.
// Every unsafe block says why it is sound (CI's clippy runs with -D warnings).
#![warn(clippy::undocumented_unsafe_blocks)]
pub mod acl;
pub mod blocking;
pub mod child;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod evict;
pub mod fdlimit;
pub mod keyspace;
pub mod latency;
pub mod link;
pub mod listen;
pub mod log;
pub mod net;
pub mod notify;
pub mod persist;
pub mod propagate;
pub mod reactor;
pub mod replication;
pub mod resp;
pub mod scripting;
pub mod server;
pub mod stats;
#[cfg(test)]
mod testkit;
pub mod tls;

// Unit tests allocate as the server does (maxmemory reads jemalloc's counters).
#[cfg(test)]
#[global_allocator]
static TEST_ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
pub mod tracking;
pub mod types;
pub mod util;

/// The Redis version ferrokv reports (INFO, HELLO): the one whose behaviour it follows.
pub const REDIS_VERSION: &str = "7.0.15";

use config::file::Loader;

/// Load configuration from a file and command-line words, as redis-server does.
pub fn load_config(file: Option<&str>, words: &[String]) -> Result<Loader, String> {
    let mut l = Loader::new();
    if let Some(f) = file {
        l.load_file(f)?;
    }
    if !words.is_empty() {
        let text = Loader::args_to_text(words)?;
        l.load_text(&text, "(command line)")?;
    }
    Ok(l)
}

/// `daemonize yes`: the server goes on in a child of its own session, its standard
/// streams on /dev/null; the process started returns at once (Redis's daemonize).
fn daemonize() {
    // SAFETY: fork before any thread is started; the parent only exits, the child runs
    // on alone.
    unsafe {
        match libc::fork() {
            -1 => return,
            0 => {}
            _ => libc::_exit(0),
        }
        libc::setsid();
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if fd >= 0 {
            libc::dup2(fd, 0);
            libc::dup2(fd, 1);
            libc::dup2(fd, 2);
            if fd > 2 {
                libc::close(fd);
            }
        }
    }
}

/// Start the server and run until shutdown. Errors are fatal startup problems.
pub fn run(loader: Loader, config_file: Option<String>) -> Result<(), String> {
    let mut cfg = loader.config;
    if cfg.daemonize {
        daemonize();
        // Redis's default pid file for a daemon.
        if cfg.pidfile.is_empty() {
            cfg.pidfile = "/var/run/redis.pid".into();
        }
    }
    log::set_level(cfg.loglevel.0);
    evict::update_clock();
    evict::configure(&cfg);
    if !cfg.dir.is_empty() {
        std::env::set_current_dir(&cfg.dir)
            .map_err(|e| format!("Can't chdir to '{}': {}", cfg.dir, e))?;
    }
    // After the chdir: a relative logfile is in `dir`, as Redis's (which opens it from
    // the working directory `dir` made).
    log::set_file(&cfg.logfile)?;
    let mut table = commands::Table::build(&commands::families());
    for (old, new) in &loader.extras.renames {
        table.rename(old, new)?;
    }
    let poll = mio::Poll::new().map_err(|e| e.to_string())?;
    let registry = poll.registry().try_clone().map_err(|e| e.to_string())?;
    let mut srv = server::Server::new(cfg, loader.extras, config_file, table, registry);
    acl::init(&mut srv)?;
    notice!("oO0OoO0OoO0Oo ferrokv is starting oO0OoO0OoO0Oo");
    notice!(
        "ferrokv version={}, redis-compat={}, bits=64, pid={}, just started",
        env!("CARGO_PKG_VERSION"),
        REDIS_VERSION,
        std::process::id()
    );
    srv.cfg.maxclients = fdlimit::adjust(srv.cfg.maxclients)?;
    srv.net.spare_fd = fdlimit::spare();
    if srv.cfg.port == 0 && srv.cfg.tls_port == 0 && srv.cfg.unixsocket.is_empty() {
        return Err("Configured to not listen anywhere, exiting.".into());
    }
    if srv.cfg.tls_port != 0 {
        srv.reload_tls()?;
    }
    if srv.cfg.cluster_enabled {
        cluster::init(&mut srv)?;
    }
    srv.rebind().map_err(|e| {
        format!(
            "{e}\nFailed listening on port {} (tcp), aborting.",
            srv.cfg.port
        )
    })?;
    log::banner(
        srv.cfg.always_show_logo,
        srv.cfg.port,
        if srv.cluster.is_some() {
            "cluster"
        } else {
            "standalone"
        },
    );
    if !srv.cfg.pidfile.is_empty() {
        let _ = std::fs::write(&srv.cfg.pidfile, format!("{}\n", std::process::id()));
    }
    notice!("Server initialized");
    // Clients may connect while the dataset loads: they get -LOADING meanwhile.
    reactor::prepare(&mut srv, poll);
    srv.repl.hooks = Some(replication::Hooks {
        replay: commands::replay,
        held: commands::replay_held,
        load: commands::server::load_for_replication,
        swap_in: commands::server::swap_in_for_replication,
    });
    let master = srv.cfg.replicaof.clone();
    let follow = master.split_once(' ').and_then(|(host, port)| {
        let no_one = host.eq_ignore_ascii_case("no") && port.eq_ignore_ascii_case("one");
        (!no_one).then(|| (host.to_string(), port.trim().parse::<u16>().unwrap_or(6379)))
    });
    // A cluster node's role comes from nodes.conf (Redis's iAmMaster at load).
    let cluster_replica = srv
        .cluster
        .as_deref()
        .is_some_and(|cl| cl.nodes[cl.myself].is_replica());
    let replica = follow.is_some() || cluster_replica;
    if replica {
        // A replica loads its keys expired or not (Redis's iAmMaster at load): its
        // master's DELs will come, and a partial resync continues from this very data.
        crate::keyspace::clock::set_following(true);
    } else {
        // A master's keys expired at load become DELs for the replicas that continue.
        srv.admin.rdb.expired_at_load = Some(Vec::new());
    }
    commands::server::load_at_startup(&mut srv)?;
    // The history the loaded snapshot was saved in, continued as master or replica.
    let loaded = if srv.cfg.appendonly {
        None
    } else {
        srv.admin.rdb.loaded_repl.take()
    };
    replication::restore_history(&mut srv, loaded, replica);
    if let Some(target) = follow {
        let _ = replication::replica::replicaof(&mut srv, Some(target), "config");
        replication::replica::restore_stream_db(&mut srv);
    }
    for l in &srv.net.listeners {
        notice!(
            "Ready to accept connections {} on {}",
            if l.tls {
                "tls"
            } else if l.addr.starts_with('/') {
                "unix"
            } else {
                "tcp"
            },
            l.addr
        );
    }
    reactor::run(&mut srv).map_err(|e| e.to_string())
}
