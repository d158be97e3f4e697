//! Listening sockets for `bind` x (`port`, `tls-port`) and `unixsocket`. Kept by the
//! server so CONFIG SET port / tls-port / bind can rebind at runtime and report failure.
use crate::config::Config;
use mio::net::{TcpListener, UnixListener};
use mio::{Interest, Registry, Token};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::{IpAddr, SocketAddr};

/// Tokens at and above this value are listeners; below are clients and outgoing links
/// (`crate::link::LINK_TOKEN`).
pub const LISTENER_BASE: usize = 1 << 63;

pub enum Sock {
    Tcp(TcpListener),
    Unix(UnixListener),
}

pub struct Listener {
    pub sock: Sock,
    pub tls: bool,
    pub addr: String,
    /// The cluster bus port (cluster-enabled yes): its connections are bus links.
    pub bus: bool,
}

/// The (address, optional) pairs of `bind`: a leading '-' makes failure to bind non-fatal.
fn bind_addrs(cfg: &Config) -> Vec<(String, bool)> {
    let words = if cfg.bind.0.is_empty() {
        vec!["*".to_string(), "-::*".to_string()]
    } else {
        cfg.bind.0.clone()
    };
    words
        .into_iter()
        .map(|w| match w.strip_prefix('-') {
            Some(a) => (a.to_string(), true),
            None => (w, false),
        })
        .collect()
}

fn tcp_listener(ip: IpAddr, port: u16, backlog: i32) -> std::io::Result<TcpListener> {
    let addr = SocketAddr::new(ip, port);
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if ip.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.set_reuse_address(true)?;
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(backlog)?;
    Ok(TcpListener::from_std(sock.into()))
}

fn parse_ip(a: &str) -> Option<IpAddr> {
    match a {
        "*" => Some(IpAddr::from([0u8, 0, 0, 0])),
        "::*" => Some(IpAddr::from([0u16; 8])),
        _ => a.parse().ok(),
    }
}

/// Listeners on `port` for every `bind` address (an optional one may be missing);
/// Err: Redis's message for a failed bind (the bus port's or a client port's).
fn tcp_listeners(
    cfg: &Config,
    port: u16,
    tls: bool,
    bus: bool,
    out: &mut Vec<Listener>,
) -> Result<(), String> {
    let backlog = cfg.tcp_backlog.min(i32::MAX as i64) as i32;
    for (a, optional) in bind_addrs(cfg) {
        let Some(ip) = parse_ip(&a) else {
            return Err(format!("Invalid bind address '{a}'"));
        };
        match tcp_listener(ip, port, backlog) {
            Ok(l) => out.push(Listener {
                sock: Sock::Tcp(l),
                tls,
                addr: fmt_addr(ip, port),
                bus,
            }),
            Err(e)
                if optional
                    && matches!(
                        e.raw_os_error(),
                        Some(libc::EAFNOSUPPORT)
                            | Some(libc::EADDRNOTAVAIL)
                            | Some(libc::EPROTONOSUPPORT)
                    ) => {}
            Err(e) if bus => {
                return Err(format!(
                    "Failed listening on port {} (cluster), aborting. {}: {}",
                    port,
                    fmt_addr(ip, port),
                    e
                ))
            }
            Err(e) => {
                return Err(format!(
                    "Warning: Could not create server TCP listening socket {}: {}",
                    fmt_addr(ip, port),
                    e
                ))
            }
        }
    }
    Ok(())
}

/// Open every listener the config asks for. On error nothing stays open.
pub fn open_all(cfg: &Config) -> Result<Vec<Listener>, String> {
    let mut out = Vec::new();
    for (port, tls) in [(cfg.port, false), (cfg.tls_port, true)] {
        if port != 0 {
            tcp_listeners(cfg, port as u16, tls, false, &mut out)?;
        }
    }
    if cfg.cluster_enabled {
        // The cluster bus: TLS when tls-cluster yes.
        let port = crate::cluster::bus_port(cfg);
        tcp_listeners(cfg, port, cfg.tls_cluster, true, &mut out)?;
    }
    if !cfg.unixsocket.is_empty() {
        let _ = std::fs::remove_file(&cfg.unixsocket);
        let l = UnixListener::bind(&cfg.unixsocket)
            .map_err(|e| format!("Failed opening Unix socket: {e}"))?;
        if cfg.unixsocketperm.0 != 0 {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(
                &cfg.unixsocket,
                std::fs::Permissions::from_mode(cfg.unixsocketperm.0),
            );
        }
        out.push(Listener {
            sock: Sock::Unix(l),
            tls: false,
            addr: cfg.unixsocket.clone(),
            bus: false,
        });
    }
    Ok(out)
}

fn fmt_addr(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V6(_) => format!("[{ip}]:{port}"),
        IpAddr::V4(_) => format!("{ip}:{port}"),
    }
}

pub fn register(reg: &Registry, ls: &mut [Listener]) -> std::io::Result<()> {
    for (i, l) in ls.iter_mut().enumerate() {
        let t = Token(LISTENER_BASE + i);
        match &mut l.sock {
            Sock::Tcp(s) => reg.register(s, t, Interest::READABLE)?,
            Sock::Unix(s) => reg.register(s, t, Interest::READABLE)?,
        }
    }
    Ok(())
}

pub fn deregister(reg: &Registry, ls: &mut [Listener]) {
    for l in ls.iter_mut() {
        let _ = match &mut l.sock {
            Sock::Tcp(s) => reg.deregister(s),
            Sock::Unix(s) => reg.deregister(s),
        };
    }
}
