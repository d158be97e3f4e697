//! Test harness: start ferrokv as a child process, wait until it accepts, kill on drop.
#![allow(dead_code)]
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

thread_local! {
    /// The file-size limit the next server this thread spawns starts with.
    static FSIZE: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The server binary under test: this build's, or FERROKV_BIN (e.g. an older build, to
/// check that a new test fails on the code before its fix).
pub fn bin() -> String {
    std::env::var("FERROKV_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_ferrokv").to_string())
}

/// A fresh directory of its own. Named by a process-wide counter: a name from a free port
/// (as before) could be handed to two tests at once, and the first to finish removed the
/// other's directory (its AOF gone under it: "Can't chdir", a digest mismatch).
pub fn temp_dir(tag: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    loop {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let d =
            std::env::temp_dir().join(format!("ferrokv-test-{}-{}-{}", tag, std::process::id(), n));
        // An existing one (a leftover of an earlier run with the same pid) is skipped.
        match std::fs::create_dir(&d) {
            Ok(()) => return d,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("{}: {e}", d.display()),
        }
    }
}

impl Server {
    /// A server process started elsewhere (the redis-server a test compares with), to be
    /// talked to and killed on drop as ours are.
    pub fn adopt(child: Child, port: u16, dir: PathBuf) -> Server {
        Server { child, port, dir }
    }

    /// Start with extra `--name value` arguments; listens on 127.0.0.1:<port>.
    pub fn start(extra: &[&str]) -> Server {
        // Another test's server can take the port between `free_port` and the bind: then
        // this one exits with "Address already in use" and is started again elsewhere.
        for _ in 0..5 {
            let port = free_port();
            if let Ok(s) = Self::try_spawn(None, port, &["--port", &port.to_string()], extra, None)
            {
                return s;
            }
        }
        panic!("no free port for ferrokv after 5 tries");
    }

    /// `start` with the file-size limit (RLIMIT_FSIZE, soft) set to `bytes`: writes past it
    /// fail with EFBIG, as on a full disk (raise it again with `set_fsize`).
    pub fn start_with_fsize(bytes: u64, extra: &[&str]) -> Server {
        for _ in 0..5 {
            FSIZE.with(|f| f.set(Some(bytes)));
            let port = free_port();
            let listen = ["--port".to_string(), port.to_string()];
            let listen: Vec<&str> = listen.iter().map(|s| s.as_str()).collect();
            if let Ok(s) = Self::try_spawn(None, port, &listen, extra, None) {
                return s;
            }
        }
        panic!("no free port for ferrokv after 5 tries");
    }

    /// Change the running server's file-size limit (prlimit(2)).
    pub fn set_fsize(&self, bytes: u64) {
        let r = libc::rlimit {
            rlim_cur: bytes,
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: prlimit on our own child process, with a limit we own.
        let rc = unsafe {
            libc::prlimit(
                self.pid() as i32,
                libc::RLIMIT_FSIZE,
                &r,
                std::ptr::null_mut(),
            )
        };
        assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
    }

    /// `start` with the open-file limit (RLIMIT_NOFILE, soft and hard) set to `nofile`.
    pub fn start_with_nofile(nofile: u64, extra: &[&str]) -> Server {
        for _ in 0..5 {
            let port = free_port();
            let listen = ["--port".to_string(), port.to_string()];
            let listen: Vec<&str> = listen.iter().map(|s| s.as_str()).collect();
            if let Ok(s) = Self::try_spawn(None, port, &listen, extra, Some(nofile)) {
                return s;
            }
        }
        panic!("no free port for ferrokv after 5 tries");
    }

    /// Start from a config file (which must set `port`), as `ferrokv FILE --options`.
    pub fn start_with_file(file: &std::path::Path, port: u16) -> Server {
        Self::spawn(Some(file), port, &[], &[])
    }

    /// Start with the given listen arguments; `probe_port` is where readiness is checked.
    pub fn start_on(probe_port: u16, listen: &[&str], extra: &[&str]) -> Server {
        Self::spawn(None, probe_port, listen, extra)
    }

    fn spawn(
        file: Option<&std::path::Path>,
        probe_port: u16,
        listen: &[&str],
        extra: &[&str],
    ) -> Server {
        Self::try_spawn(file, probe_port, listen, extra, None).unwrap_or_else(|log| {
            panic!("ferrokv could not bind its port: {log}");
        })
    }

    /// Err(log) when the server exited because its port was taken.
    fn try_spawn(
        file: Option<&std::path::Path>,
        probe_port: u16,
        listen: &[&str],
        extra: &[&str],
        nofile: Option<u64>,
    ) -> Result<Server, String> {
        let dir = temp_dir("srv");
        let log = std::fs::File::create(dir.join("server.log")).unwrap();
        let mut cmd = Command::new(bin());
        if let Some(f) = file {
            cmd.arg(f);
        }
        if let Some(n) = nofile {
            use std::os::unix::process::CommandExt;
            // SAFETY: only setrlimit (async-signal-safe) runs between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    let r = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &r) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        if let Some(n) = FSIZE.with(|f| f.take()) {
            use std::os::unix::process::CommandExt;
            // SAFETY: only setrlimit and signal (async-signal-safe) run between fork and
            // exec.
            unsafe {
                cmd.pre_exec(move || {
                    // A write past the limit fails with EFBIG instead of killing.
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                    let r = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: libc::RLIM_INFINITY,
                    };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &r) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = cmd
            .args([
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--enable-debug-command",
                "yes",
                "--dir",
            ])
            .arg(&dir)
            .args(listen)
            .args(extra)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn ferrokv");
        let mut s = Server {
            child,
            port: probe_port,
            dir,
        };
        s.wait_ready()?;
        Ok(s)
    }

    /// Ready when this server says it listens (so a probe cannot be answered by another
    /// test's server on the same port) and the probe port accepts.
    fn wait_ready(&mut self) -> Result<(), String> {
        // Generous: CI machines are shared, and many servers start at once.
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = self.log();
                if log.contains("Address already in use") {
                    return Err(log);
                }
                panic!("ferrokv exited early ({status}): {log}");
            }
            if self.log().contains("Ready to accept connections")
                && TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("ferrokv did not start listening: {}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn client(&self) -> redis::Connection {
        let c = redis::Client::open(self.url()).unwrap();
        let conn = c
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn
    }

    pub fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's child processes (forked debugging sessions), zombies included.
    pub fn children(&self) -> Vec<u32> {
        let pid = self.child.id();
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    /// Whether the process is still alive.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Wait for the process to exit by itself; returns its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Send raw bytes and read the reply until `expect_len` bytes arrived or the peer closed.
pub fn raw_roundtrip(s: &mut TcpStream, req: &[u8], expect_len: usize) -> Vec<u8> {
    s.write_all(req).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    while out.len() < expect_len {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    out
}

/// Run a command and return the server's error text (panics if it succeeded).
pub fn err_of(con: &mut redis::Connection, cmd: &mut redis::Cmd) -> String {
    match cmd.query::<redis::Value>(con) {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => {
            let code = e.code().unwrap_or("").to_string();
            let detail = e.detail().unwrap_or("").to_string();
            if code.is_empty() {
                e.to_string()
            } else {
                format!("{code} {detail}")
            }
        }
    }
}

/// Run a command given as words and return its reply (panics on an error reply).
pub fn q<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c)
        .unwrap_or_else(|e| panic!("{args:?} failed: {e}"))
}

/// Run a command given as words and return the server's error text.
pub fn err(c: &mut redis::Connection, args: &[&str]) -> String {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    err_of(c, &mut cmd)
}

/// A command as RESP bytes (for raw sockets).
pub fn resp_cmd(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{}\r\n", a.len(), a).as_bytes());
    }
    out
}

/// Read from a raw socket until `want` has arrived (or 5 s passed); everything read.
pub fn read_until(s: &mut TcpStream, want: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    while !String::from_utf8_lossy(&got).contains(want) && Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Poll `cond` every 10 ms for up to 5 s (what a sleep-then-assert would guess at);
/// panics naming `what` when it never holds.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Send raw bytes and read exactly one whole RESP reply (RESP2 or RESP3); its bytes.
pub fn raw_reply(s: &mut TcpStream, req: &[u8]) -> Vec<u8> {
    use ferrokv::resp::client::ReplyParser;
    s.write_all(req).unwrap();
    let mut parser = ReplyParser::default();
    let (mut got, mut pending) = (Vec::new(), Vec::new());
    let mut buf = [0u8; 65536];
    loop {
        let fed = parser.feed(&pending).expect("a well-formed reply");
        got.extend_from_slice(&pending[..fed.consumed]);
        pending.drain(..fed.consumed);
        if fed.reply.is_some() {
            assert!(pending.is_empty(), "more than one reply arrived");
            return got;
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => panic!("connection ended inside a reply: {got:?}"),
            Ok(n) => pending.extend_from_slice(&buf[..n]),
        }
    }
}

pub const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// A redis-server 7.0 on a free loopback port, as a `Server` (so killed on drop), in
/// `dir` (a fresh one when None: it loads any dump.rdb there, as a user's would).
pub fn start_redis_server(dir: Option<&std::path::Path>) -> Server {
    start_redis_server_with(dir, &[])
}

/// `start_redis_server` with more options (`--appendonly yes`...), after the defaults.
pub fn start_redis_server_with(dir: Option<&std::path::Path>, extra: &[&str]) -> Server {
    assert!(
        std::path::Path::new(REDIS_SERVER).exists(),
        "{REDIS_SERVER} is missing: these tests compare ferrokv with a live redis-server \
         7.0 (Debian's redis-server package; .ci/run installs it)"
    );
    for _ in 0..5 {
        let port = free_port();
        let dir = dir.map_or_else(|| temp_dir("redis-ref"), |d| d.to_path_buf());
        let mut child = Command::new(REDIS_SERVER)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(&dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut up = false;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break; // port taken: try another
            }
            // Its own process answers (not another test's server on a reused port).
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                up = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                    .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
                    .and_then(|mut c| redis::cmd("INFO").arg("server").query::<String>(&mut c))
                    .is_ok_and(|info| info.contains(&format!("process_id:{}\r", child.id())));
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if up {
            return Server::adopt(child, port, dir);
        }
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(&dir);
    }
    panic!("redis-server did not start");
}
