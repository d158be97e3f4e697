//! RDB snapshots: SAVE (in the event loop), BGSAVE (a forked child), the save points the
//! cron checks, and what INFO persistence and LASTSAVE report.
//!
//! A snapshot is written to `temp-<pid>.rdb` in the working directory (`dir`), fsynced,
//! and renamed over `dbfilename`, so a crash or a full disk mid-save never replaces a good
//! file with a partial one. A BGSAVE child only serializes and leaves (crate::child): it
//! touches no socket, TLS state or epoll registration.
use super::rdb_save::{self, Lru, Options};
use crate::server::Server;
use std::fs::File;
use std::time::Instant;

/// The state of snapshots, for INFO persistence, LASTSAVE and the save points.
#[derive(Default)]
pub struct Rdb {
    /// Unix seconds of the last successful save (or of the start when none).
    pub last_save: i64,
    /// The change counter (`data.dirty`) that the last successful save covered.
    pub dirty_at_save: u64,
    /// The running BGSAVE child: its pid, when it started, and the change counter then.
    pub child: Option<(libc::pid_t, Instant, u64)>,
    /// BGSAVE SCHEDULE asked while something else ran in a child.
    pub scheduled: bool,
    pub last_bgsave_ok: bool,
    /// Unix seconds of the last BGSAVE attempt (failed saves are retried after 5 s).
    pub last_try: i64,
    pub last_bgsave_secs: i64,
    pub saves: u64,
    pub latest_fork_usec: u64,
    pub keys_loaded: u64,
    pub keys_expired_at_load: u64,
    /// The dataset is being loaded (clients get -LOADING; nothing may be saved).
    pub loading: bool,
    /// Of the load under way: when it started (unix s), the file's size, keys read.
    pub loading_started: i64,
    pub loading_total_bytes: u64,
    pub loading_keys: u64,
    /// Bytes of the file parsed so far (a replica's diskless load).
    pub loading_loaded_bytes: u64,
    /// A replica's diskless load serves the old dataset meanwhile (INFO async_loading):
    /// only the commands that would disturb it get -LOADING.
    pub async_loading: bool,
    /// The BGSAVE child's reports: the pipe's read end, the last copy-on-write size,
    /// its peak, when it came, keys written of how many.
    pub info_pipe: Option<std::fs::File>,
    pub cow_size: u64,
    pub cow_peak: u64,
    pub cow_updated: Option<Instant>,
    pub keys_processed: u64,
    pub keys_total: u64,
    pub last_cow_size: u64,
    /// The running child streams its snapshot to replicas (a diskless sync), not to the
    /// file: its end moves no save state.
    pub child_to_socket: bool,
    /// The replication history a file loaded at startup was saved in: its repl-id,
    /// repl-offset and repl-stream-db aux fields.
    pub loaded_repl: Option<(String, i64, usize)>,
    /// While Some (a master loading at startup): the keys dropped as expired, whose DELs
    /// go to the replicas that continue the loaded history.
    pub expired_at_load: Option<Vec<(usize, Vec<u8>)>>,
}

impl Rdb {
    pub fn new() -> Self {
        Rdb {
            last_save: crate::util::now_ms() / 1000,
            last_bgsave_ok: true,
            last_bgsave_secs: -1,
            ..Default::default()
        }
    }

    /// A save (SAVE or BGSAVE) ended: on success it covers the changes up to `dirty`.
    fn ended(&mut self, ok: bool, dirty: u64) {
        self.last_bgsave_ok = ok;
        if ok {
            self.dirty_at_save = dirty;
            self.last_save = crate::util::now_ms() / 1000;
            self.saves += 1;
        }
    }

    /// Forget the child's reports (it ended or was killed).
    fn reset_child_info(&mut self) {
        self.info_pipe = None;
        (
            self.cow_size,
            self.cow_peak,
            self.keys_processed,
            self.keys_total,
        ) = (0, 0, 0, 0);
        self.cow_updated = None;
    }
}

/// Compiles and registers a function library read from a file (the caller's: scripting
/// sits above persistence).
pub type RegisterLibrary<'a> = dyn FnMut(&mut Server, &[u8]) -> Result<(), String> + 'a;

/// Redis's reply to writes refused after a failed background save.
pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// Whether writes are refused because the last background save failed (per command:
/// the first test is almost always false).
#[inline]
pub fn writes_refused(srv: &Server) -> bool {
    !srv.admin.rdb.last_bgsave_ok
        && srv.cfg.stop_writes_on_bgsave_error
        && !srv.cfg.save.0.is_empty()
}

/// Changes not in the last snapshot (INFO rdb_changes_since_last_save).
pub fn changes_since_save(srv: &Server) -> u64 {
    srv.data.dirty.saturating_sub(srv.admin.rdb.dirty_at_save)
}

pub(crate) fn options<'a>(srv: &Server) -> Options<'a> {
    let policy = srv.cfg.maxmemory_policy_name();
    Options {
        compression: srv.cfg.rdbcompression,
        checksum: srv.cfg.rdbchecksum,
        aux: &[],
        lru: if policy.contains("lfu") {
            Lru::Freq
        } else if policy.contains("lru") {
            Lru::Idle
        } else {
            Lru::None
        },
        stream_node_max_entries: srv.cfg.stream_node_max_entries as u64,
        stream_node_max_bytes: srv.cfg.stream_node_max_bytes as u64,
        key_save_delay_us: srv.cfg.rdb_key_save_delay,
        compact: super::rdb_save::Compact::of(&srv.cfg),
        progress: None,
    }
}

/// The replication aux fields a snapshot carries (Redis's rdbPopulateSaveInfo): the
/// replication ID and offset, and the database the stream last selected, so that a
/// server restarted from it can continue its history (PSYNC) as master or replica.
pub(crate) fn repl_aux(srv: &Server) -> Vec<(&'static str, String)> {
    let r = &srv.repl;
    let db = match r.master.as_ref() {
        Some(m) => m.db_committed(),
        None if r.backlog.is_some() => srv.data.prop.repl().and_then(|f| f.selected).unwrap_or(0),
        None => return Vec::new(),
    };
    vec![
        ("repl-stream-db", db.to_string()),
        ("repl-id", r.replid.clone()),
        (
            "repl-offset",
            crate::replication::current_offset(srv).to_string(),
        ),
    ]
}

/// The function libraries' code, as snapshots carry them.
pub(crate) fn library_codes(srv: &Server) -> impl Iterator<Item = &[u8]> {
    srv.data
        .scripting
        .functions
        .libraries
        .values()
        .map(|l| l.code.as_slice())
}

/// Write the snapshot to `temp-<pid>.rdb`, fsync it and rename it over `dbfilename`.
/// Returns the number of keys written.
fn write_file(srv: &Server, pid: u32) -> Result<u64, String> {
    write_file_with(srv, pid, None)
}

fn write_file_with(srv: &Server, pid: u32, progress: Option<fn(u64)>) -> Result<u64, String> {
    let tmp = format!("temp-{pid}.rdb");
    let fail = |what: &str, e: std::io::Error| {
        let _ = std::fs::remove_file(&tmp);
        format!("{what}: {e}")
    };
    let f = File::create(&tmp).map_err(|e| {
        let cwd = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        format!("Failed opening the temp RDB file {tmp} (in server root dir {cwd}) for saving: {e}")
    })?;
    let mut opts = options(srv);
    opts.progress = progress;
    let aux = repl_aux(srv);
    opts.aux = &aux;
    let libs = library_codes(srv);
    // rdb_save buffers 64 KB writes itself: no second buffer.
    let (f, keys) = rdb_save::write(f, &srv.data.ks, libs, &opts)
        .map_err(|e| fail("Write error saving DB on disk", e))?;
    f.sync_all()
        .map_err(|e| fail("Write error saving DB on disk (fsync)", e))?;
    drop(f);
    std::fs::rename(&tmp, &srv.cfg.dbfilename).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!(
            "Error moving temp DB file {tmp} on the final destination {}: {e}",
            srv.cfg.dbfilename
        )
    })?;
    // The rename itself is durable once the directory is.
    if let Ok(d) = File::open(".") {
        let _ = d.sync_all();
    }
    Ok(keys)
}

/// SAVE: the snapshot written by the event loop itself.
pub fn save(srv: &mut Server) -> Result<(), String> {
    if srv.admin.rdb.loading {
        return Err("LOADING Redis is loading the dataset in memory".into());
    }
    if srv.admin.rdb.child.is_some() {
        return Err("ERR Background save already in progress".into());
    }
    let dirty = srv.data.dirty;
    let result = write_file(srv, std::process::id());
    srv.admin.rdb.ended(result.is_ok(), dirty);
    match result {
        Ok(_) => {
            crate::notice!("DB saved on disk");
            Ok(())
        }
        Err(e) => {
            crate::warn!("{e}");
            Err("ERR".into())
        }
    }
}

/// BGSAVE: fork a child that writes the snapshot; the parent goes on serving.
pub fn bgsave(srv: &mut Server) -> Result<(), String> {
    if srv.admin.rdb.loading {
        return Err("LOADING Redis is loading the dataset in memory".into());
    }
    if srv.admin.rdb.child.is_some() {
        return Err("ERR Background save already in progress".into());
    }
    let dirty = srv.data.dirty;
    srv.admin.rdb.last_try = crate::util::now_ms() / 1000;
    let (rd, wr) = report_pipe();
    let t0 = Instant::now();
    match crate::child::fork(srv, crate::child::Kind::Rdb) {
        Err(e) => {
            close_pipe(rd, wr);
            srv.admin.rdb.last_bgsave_ok = false;
            crate::warn!("Can't save in background: fork: {e}");
            Err(format!("ERR Can't save in background: fork: {e}"))
        }
        Ok(crate::child::Forked::Child) => crate::child::run_and_exit(|| {
            reports_to(srv, rd, wr);
            match write_file_reporting(srv, std::process::id()) {
                Ok(_) => {
                    crate::notice!("DB saved on disk");
                    true
                }
                Err(e) => {
                    crate::warn!("{e}");
                    false
                }
            }
        }),
        Ok(crate::child::Forked::Parent(pid)) => {
            forked(srv, rd, wr, t0);
            srv.admin.rdb.child = Some((pid, t0, dirty));
            crate::notice!("Background saving started by pid {pid}");
            Ok(())
        }
    }
}

/// A diskless sync's BGSAVE: a child writes `$EOF:<mark>\r\n`, the snapshot and `mark`
/// into `fd` (a pipe's write end, which the parent reads and sends to the replicas) and
/// exits; a child that fails half way never writes the mark, so no replica takes a cut
/// snapshot for whole. The parent's copy of `fd` is closed here. Returns the child's pid.
pub fn bgsave_to_fd(srv: &mut Server, fd: i32, mark: &[u8]) -> Result<libc::pid_t, String> {
    let close = |fd: i32| {
        // SAFETY: closing a descriptor we were handed and own.
        unsafe { libc::close(fd) };
    };
    if srv.admin.rdb.child.is_some() {
        close(fd);
        return Err("ERR Background save already in progress".into());
    }
    let dirty = srv.data.dirty;
    let (rd, wr) = report_pipe();
    let t0 = Instant::now();
    match crate::child::fork(srv, crate::child::Kind::Rdb) {
        Err(e) => {
            close_pipe(rd, wr);
            close(fd);
            Err(format!("Can't save in background: fork: {e}"))
        }
        Ok(crate::child::Forked::Child) => crate::child::run_and_exit(|| {
            reports_to(srv, rd, wr);
            // SAFETY: `fd` is the pipe's write end, open, owned by this child alone now.
            let mut f = unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
            let mut opts = options(srv);
            opts.progress = Some(child_progress);
            let aux = repl_aux(srv);
            opts.aux = &aux;
            let libs = library_codes(srv);
            let r = (|| -> std::io::Result<()> {
                use std::io::Write as _;
                f.write_all(b"$EOF:")?;
                f.write_all(mark)?;
                f.write_all(b"\r\n")?;
                let (mut f, _) = rdb_save::write(f, &srv.data.ks, libs, &opts)?;
                f.write_all(mark)
            })();
            child_report(u64::MAX);
            match r {
                Ok(_) => true,
                Err(e) => {
                    crate::warn!("Write error sending DB to replicas: {e}");
                    false
                }
            }
        }),
        Ok(crate::child::Forked::Parent(pid)) => {
            close(fd);
            forked(srv, rd, wr, t0);
            srv.admin.rdb.child = Some((pid, t0, dirty));
            srv.admin.rdb.child_to_socket = true;
            crate::notice!("Background RDB transfer started by pid {pid}");
            Ok(pid)
        }
    }
}

/// A pipe for a child's progress and copy-on-write reports (Redis's child info): the
/// read and write ends, -1 when none could be made.
pub(crate) fn report_pipe() -> (i32, i32) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return (-1, -1);
    }
    (fds[0], fds[1])
}

/// The fork failed: the pipe goes.
pub(crate) fn close_pipe(rd: i32, wr: i32) {
    if rd >= 0 {
        // SAFETY: closing the two descriptors pipe2 gave us.
        unsafe {
            libc::close(rd);
            libc::close(wr);
        }
    }
}

/// In the child: report through `wr`.
pub(crate) fn reports_to(srv: &mut Server, rd: i32, wr: i32) {
    crate::log::set_role(b'C');
    srv.admin.rdb.info_pipe = None;
    if rd >= 0 {
        // SAFETY: the child's copy of the read end, which it never reads: closed, so
        // that the parent's death makes the reports fail (and the child leave).
        unsafe { libc::close(rd) };
    }
    CHILD_PIPE.store(wr, std::sync::atomic::Ordering::Relaxed);
}

/// In the parent: read the reports from `rd` (the child keeps its own write end).
pub(crate) fn keep_reports(srv: &mut Server, rd: i32, wr: i32) {
    if rd >= 0 {
        // SAFETY: the child keeps its own copy of the write end; ours is closed.
        unsafe { libc::close(wr) };
        // SAFETY: `rd` is the pipe's read end, open and owned by nothing else.
        let file = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(rd) };
        srv.admin.rdb.info_pipe = Some(file);
    }
}

/// In the parent, just after forking a child that writes the dataset (BGSAVE, AOF
/// rewrite): its reports, the keys it will write, the fork's pause (latest_fork_usec and
/// the LATENCY "fork" event).
pub(crate) fn forked(srv: &mut Server, rd: i32, wr: i32, t0: Instant) {
    keep_reports(srv, rd, wr);
    srv.admin.rdb.keys_total = srv.data.ks.dbs.iter().map(|d| d.len() as u64).sum();
    let usec = t0.elapsed().as_micros() as u64;
    srv.admin.rdb.latest_fork_usec = usec;
    let threshold = srv.cfg.latency_monitor_threshold;
    srv.admin
        .latency
        .add_sample_if_needed(threshold, "fork", usec / 1000);
}

/// A child's last copy-on-write report, once it ended; its reports are forgotten.
pub(crate) fn final_cow(srv: &mut Server) -> u64 {
    read_child_info(srv);
    let cow = srv.admin.rdb.cow_size;
    srv.admin.rdb.reset_child_info();
    cow
}

/// A BGSAVE child ended (from the reaper): success moves the saved state forward.
pub fn child_done(srv: &mut Server, pid: libc::pid_t, ok: bool) {
    let Some((child, started, dirty)) = srv.admin.rdb.child else {
        return;
    };
    if child != pid {
        return;
    }
    srv.admin.rdb.child = None;
    read_child_info(srv);
    if std::mem::take(&mut srv.admin.rdb.child_to_socket) {
        let r = &mut srv.admin.rdb;
        r.last_cow_size = r.cow_size;
        r.reset_child_info();
        r.last_bgsave_secs = started.elapsed().as_secs() as i64;
        if ok {
            crate::notice!("Background RDB transfer terminated with success");
        } else {
            crate::warn!("Background transfer error");
        }
        return;
    }
    let r = &mut srv.admin.rdb;
    r.last_cow_size = r.cow_size;
    if ok && r.cow_size > 0 {
        crate::notice!(
            "Fork CoW for RDB: current {} MB, peak {} MB",
            r.cow_size >> 20,
            r.cow_peak >> 20
        );
    }
    r.reset_child_info();
    r.last_bgsave_secs = started.elapsed().as_secs() as i64;
    r.ended(ok, dirty);
    if ok {
        crate::notice!("Background saving terminated with success");
    } else {
        crate::warn!("Background saving error");
        let _ = std::fs::remove_file(format!("temp-{pid}.rdb"));
    }
}

/// The cron's part: a scheduled BGSAVE, or one a save point asks for (a failed save is
/// retried after 5 seconds, as Redis does).
pub fn cron(srv: &mut Server) {
    if srv.admin.rdb.info_pipe.is_some() {
        read_child_info(srv);
    }
    if srv.admin.rdb.child.is_some() || crate::child::writer_running(srv) {
        return;
    }
    let now = crate::util::now_ms() / 1000;
    let r = &srv.admin.rdb;
    if r.scheduled {
        srv.admin.rdb.scheduled = false;
        let _ = bgsave(srv);
        return;
    }
    let changes = changes_since_save(srv);
    let due = srv.cfg.save.0.iter().find(|&&(secs, n)| {
        changes >= n as u64
            && now - r.last_save >= secs
            && (r.last_bgsave_ok || now - r.last_try >= 5)
    });
    if let Some(&(secs, n)) = due {
        crate::notice!("{n} changes in {secs} seconds. Saving...");
        let _ = bgsave(srv);
    }
}

/// At shutdown: kill a running BGSAVE child and remove its temp file (Redis does the
/// same, then saves in the foreground when it is to save).
pub fn kill_child(srv: &mut Server) {
    if let Some((pid, _, _)) = srv.admin.rdb.child.take() {
        srv.admin.rdb.child_to_socket = false;
        crate::warn!("There is a child saving an .rdb. Killing it!");
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(pid, libc::SIGUSR1) };
        let mut status = 0;
        // SAFETY: waitpid on our own child, a local int for the status.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        let _ = std::fs::remove_file(format!("temp-{pid}.rdb"));
        srv.admin.children.retain(|c| c.pid != pid);
        srv.admin.killed_children.push(pid);
        srv.admin.rdb.reset_child_info();
    }
}

/// Before exiting (SHUTDOWN, SIGTERM/SIGINT): stop a BGSAVE child, then save when asked
/// (`save`) or when save points are set and not told otherwise (`nosave`). A failed save
/// keeps the server running unless `force`. Returns whether the server may exit.
pub fn prepare_shutdown(srv: &mut Server, save: bool, nosave: bool, force: bool) -> bool {
    kill_child(srv);
    if !super::aof::prepare_shutdown(srv, force) {
        return false;
    }
    // A half-loaded dataset is never saved over the file it comes from (as Redis).
    if nosave || srv.admin.rdb.loading || (!save && srv.cfg.save.0.is_empty()) {
        return true;
    }
    crate::notice!("Saving the final RDB snapshot before exiting.");
    match self::save(srv) {
        Ok(()) => true,
        Err(_) if force => {
            crate::warn!("Error trying to save the DB, exiting anyway (FORCE).");
            true
        }
        Err(_) => {
            crate::warn!("Error trying to save the DB, can't exit.");
            false
        }
    }
}

/// Load an RDB file into the keyspace and the function libraries. Keys already expired
/// are dropped (this server is a master); a key already present is an error unless
/// `merge` (DEBUG RELOAD MERGE), which replaces it. Logs as Redis does.
pub fn load_file(
    srv: &mut Server,
    path: &str,
    merge: bool,
    register: &mut RegisterLibrary<'_>,
) -> Result<(), String> {
    let t0 = Instant::now();
    let data =
        std::fs::read(path).map_err(|e| format!("Fatal error loading the DB: {e}. Exiting."))?;
    begin_loading(srv, data.len() as u64);
    let result = load_bytes(srv, &data, merge, register);
    end_loading(srv);
    result?;
    crate::notice!(
        "DB loaded from disk: {:.3} seconds",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The dataset is being loaded (`total` bytes): clients get -LOADING, and lookups hide
/// expired keys but delete nothing.
pub fn begin_loading(srv: &mut Server, total: u64) {
    let r = &mut srv.admin.rdb;
    r.loading = true;
    r.loading_started = crate::util::now_ms() / 1000;
    r.loading_total_bytes = total;
    r.loading_keys = 0;
    crate::keyspace::clock::set_deletes_expired(false);
}

pub fn end_loading(srv: &mut Server) {
    srv.admin.rdb.loading = false;
    crate::keyspace::clock::set_deletes_expired(true);
}

/// What one load counted (for its last log line and INFO).
#[derive(Default, Clone, Copy)]
struct Counts {
    loaded: u64,
    expired: u64,
    empty: u64,
}

/// key-load-delay (a test knob): microseconds of sleep per key; a negative -n sleeps 1 µs
/// once in n keys on average (Redis's debugDelay).
fn key_load_delay(usec: i64) {
    let us = if usec < 0 {
        (crate::util::random_below(usec.unsigned_abs()) == 0) as u64
    } else {
        usec as u64
    };
    if us > 0 {
        std::thread::sleep(std::time::Duration::from_micros(us));
    }
}

/// One key of a file into `dbs`. A key already expired is dropped (and noted in
/// `expired_log` when asked) unless this server follows a master, whose DEL will come; a
/// key already present is an error unless `merge`, which replaces it.
fn put_key(
    dbs: &mut [crate::keyspace::Db],
    k: super::rdb_load::KeyItem<'_>,
    merge: bool,
    now: i64,
    counts: &mut Counts,
    expired_log: &mut Option<Vec<(usize, Vec<u8>)>>,
) -> Result<(), String> {
    let exp = k.expire_ms.unwrap_or(crate::keyspace::NO_EXPIRE);
    if k.expire_ms.is_some_and(|t| t < now) && !crate::keyspace::clock::following() {
        counts.expired += 1;
        if let Some(v) = expired_log.as_mut() {
            v.push((k.db as usize, k.key.to_vec()));
        }
        return Ok(());
    }
    let db = &mut dbs[k.db as usize];
    if db.dict.contains(&k.key) {
        if !merge {
            return Err(format!(
                "Duplicate key '{}' found in RDB file",
                String::from_utf8_lossy(&k.key)
            ));
        }
        db.remove(&k.key);
    }
    let pos = db.insert_entry(crate::keyspace::Entry::new(&k.key, k.value, exp));
    if let Some(lru) = crate::evict::restored(k.lru_idle, k.lfu_freq) {
        if let Some(e) = db.dict.item_mut(pos) {
            e.set_lru(lru);
        }
    }
    counts.loaded += 1;
    Ok(())
}

/// An aux field: logged as Redis does, the replication ones kept.
fn note_aux(rdb: &mut Rdb, name: &[u8], value: &[u8], ctime_now: i64) {
    let v = String::from_utf8_lossy(value);
    match name {
        b"redis-ver" => crate::notice!("Loading RDB produced by version {v}"),
        b"repl-id" => rdb.loaded_repl.get_or_insert_with(Default::default).0 = v.into_owned(),
        b"repl-offset" => {
            rdb.loaded_repl.get_or_insert_with(Default::default).1 = v.parse().unwrap_or(0)
        }
        b"repl-stream-db" => {
            rdb.loaded_repl.get_or_insert_with(Default::default).2 = v.parse().unwrap_or(0)
        }
        b"ctime" => {
            let age = ctime_now - v.parse::<i64>().unwrap_or(ctime_now);
            crate::notice!("RDB age {} seconds", age.max(0));
        }
        b"used-mem" => crate::notice!(
            "RDB memory usage when created {:.2} Mb",
            v.parse::<f64>().unwrap_or(0.0) / 1024.0 / 1024.0
        ),
        _ => {}
    }
}

/// An empty container in the file: skipped, the first ten named in the log.
fn note_empty(key: &[u8], counts: &mut Counts) {
    if counts.empty < 10 {
        crate::warn!(
            "rdbLoadObject skipping empty key: {}",
            String::from_utf8_lossy(key)
        );
    }
    counts.empty += 1;
}

/// The end of a load: its counts logged and kept for INFO.
fn loaded(rdb: &mut Rdb, c: Counts) {
    rdb.keys_loaded = c.loaded;
    rdb.keys_expired_at_load = c.expired;
    let (loaded, expired, empty) = (c.loaded, c.expired, c.empty);
    if empty > 0 {
        crate::notice!("Done loading RDB, keys loaded: {loaded}, keys expired: {expired}, empty keys skipped: {empty}.");
    } else {
        crate::notice!("Done loading RDB, keys loaded: {loaded}, keys expired: {expired}.");
    }
}

/// A parse error as Redis logs it: what is wrong, then where.
fn load_error(e: super::rdb_load::LoadError) -> String {
    crate::warn!("{}", e.msg);
    format!(
        "Internal error in RDB reading offset {}, function at rdb.c:0 -> {}",
        e.offset, e.msg
    )
}

/// Load an RDB image (a file's bytes, or an AOF's RDB base) into the dataset; returns
/// where the RDB ended in `data`. Logs as Redis does.
pub fn load_bytes(
    srv: &mut Server,
    data: &[u8],
    merge: bool,
    register: &mut RegisterLibrary<'_>,
) -> Result<usize, String> {
    use super::rdb_load::Item;
    let now = crate::util::now_ms();
    let opts = super::rdb_load::opts_of(&srv.cfg);
    let mut counts = Counts::default();
    let load_delay = srv.cfg.key_load_delay;
    let ctime_now = now / 1000;
    // Clients are served meanwhile (-LOADING), at startup and during DEBUG RELOAD.
    let serve = srv.net.events_while_blocked;
    let mut last_served = Instant::now();
    let result = {
        let srv = &mut *srv;
        let mut sink = |item: Item| -> Result<(), String> {
            match item {
                Item::Key(k) => {
                    key_load_delay(load_delay);
                    let rdb = &mut srv.admin.rdb;
                    put_key(
                        &mut srv.data.ks.dbs,
                        k,
                        merge,
                        now,
                        &mut counts,
                        &mut rdb.expired_at_load,
                    )?;
                    rdb.loading_keys += 1;
                    // Serve clients now and then (-LOADING, INFO, SHUTDOWN), as Redis
                    // does every loading-process-events-interval-bytes.
                    if (load_delay != 0 || rdb.loading_keys.is_multiple_of(256))
                        && last_served.elapsed() >= std::time::Duration::from_millis(10)
                    {
                        if let Some(serve) = serve {
                            serve(srv);
                        }
                        last_served = Instant::now();
                    }
                }
                Item::Function(code) => register(srv, &code)?,
                Item::Aux { name, value } => note_aux(&mut srv.admin.rdb, &name, &value, ctime_now),
                Item::ResizeDb { .. } => {}
                Item::EmptyKey(key) => note_empty(&key, &mut counts),
            }
            Ok(())
        };
        super::rdb_load::load(data, &opts, &mut sink)
    };
    match result {
        Ok(summary) => {
            loaded(&mut srv.admin.rdb, counts);
            Ok(summary.end)
        }
        Err(e) => Err(load_error(e)),
    }
}

/// Why [`StreamLoad::feed`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fed {
    /// The bytes end inside an item: more are needed.
    More,
    /// Its share of work for this turn of the event loop is done.
    Budget,
    /// The whole file is in.
    Done,
}

/// A snapshot loaded while it streams in (a replica's diskless load), into a keyspace of
/// its own: it replaces the server's only once the whole file is in, so a transfer that
/// fails half way leaves the dataset as it was. Function libraries are collected, to be
/// compiled at the swap.
pub struct StreamLoad {
    parser: super::rdb_load::Incremental,
    opts: super::rdb_load::LoadOpts,
    pub ks: crate::keyspace::Keyspace,
    pub functions: Vec<Vec<u8>>,
    counts: Counts,
    /// Unconsumed bytes when the parser last wanted more: it tries again only once there
    /// are twice as many (or the stream ended), so a large value is parsed a few times,
    /// not once per read.
    short: usize,
    now: i64,
}

impl StreamLoad {
    pub fn new(srv: &Server) -> Self {
        let ks =
            crate::keyspace::Keyspace::for_server(srv.data.ks.dbs.len(), srv.cfg.cluster_enabled);
        StreamLoad {
            parser: super::rdb_load::Incremental::new(),
            opts: super::rdb_load::opts_of(&srv.cfg),
            ks,
            functions: Vec::new(),
            counts: Counts::default(),
            short: 0,
            now: crate::util::now_ms(),
        }
    }

    /// Bytes of the file parsed so far.
    pub fn consumed(&self) -> u64 {
        self.parser.consumed()
    }

    /// Parse the items `buf` holds (it starts after the bytes consumed so far), for at most
    /// `budget` bytes or until `deadline`; returns the bytes consumed and why it stopped.
    /// `last`: the stream has ended, so a cut item is an error.
    pub fn feed(
        &mut self,
        srv: &mut Server,
        buf: &[u8],
        last: bool,
        budget: usize,
        deadline: Instant,
    ) -> Result<(usize, Fed), String> {
        use super::rdb_load::{Item, Next};
        let mut pos = 0;
        loop {
            if pos >= budget || Instant::now() >= deadline {
                return Ok((pos, Fed::Budget));
            }
            if !last && buf.len() - pos < self.short.saturating_mul(2) {
                return Ok((pos, Fed::More));
            }
            match self.parser.next(&buf[pos..], &self.opts, last) {
                Ok(Next::Item(item, n)) => {
                    self.short = 0;
                    let at = self.parser.item_at as usize;
                    let r = match item {
                        Item::Key(k) => {
                            key_load_delay(srv.cfg.key_load_delay);
                            srv.admin.rdb.loading_keys += 1;
                            put_key(
                                &mut self.ks.dbs,
                                k,
                                false,
                                self.now,
                                &mut self.counts,
                                &mut None,
                            )
                        }
                        Item::Function(code) => {
                            self.functions.push(code);
                            Ok(())
                        }
                        Item::Aux { name, value } => {
                            note_aux(&mut srv.admin.rdb, &name, &value, self.now / 1000);
                            Ok(())
                        }
                        Item::ResizeDb { .. } => Ok(()),
                        Item::EmptyKey(key) => {
                            note_empty(&key, &mut self.counts);
                            Ok(())
                        }
                    };
                    if let Err(msg) = r {
                        return Err(load_error(super::rdb_load::LoadError { offset: at, msg }));
                    }
                    pos += n;
                }
                Ok(Next::More(n)) => {
                    pos += n;
                    self.short = buf.len() - pos;
                    return Ok((pos, Fed::More));
                }
                Ok(Next::Done(n)) => {
                    loaded(&mut srv.admin.rdb, self.counts);
                    return Ok((pos + n, Fed::Done));
                }
                Err(e) => return Err(load_error(e)),
            }
        }
    }
}

/// At startup: load `dbfilename` when it exists (Redis's loadDataFromDisk).
/// `register` compiles a function library read from the file.
pub fn load_at_startup(srv: &mut Server, register: &mut RegisterLibrary) -> Result<(), String> {
    let path = srv.cfg.dbfilename.clone();
    if !std::path::Path::new(&path).exists() {
        return Ok(());
    }
    load_file(srv, &path, false, register).map_err(|e| {
        crate::warn!("{e}");
        "Terminating server after rdb file reading failure.".to_string()
    })?;
    // What was just loaded is what is on disk.
    srv.admin.rdb.dirty_at_save = srv.data.dirty;
    Ok(())
}

/// The write end of the child-info pipe, in a BGSAVE child (-1 elsewhere).
static CHILD_PIPE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);
/// When the child last reported (ms), so it reports about once a second.
static CHILD_REPORTED: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// The child's snapshot write, reporting progress and copy-on-write on the way and at
/// the end.
fn write_file_reporting(srv: &Server, pid: u32) -> Result<u64, String> {
    let r = write_file_with(srv, pid, Some(child_progress));
    child_report(u64::MAX);
    r
}

/// Memory this process has written since the fork: its private dirty pages (what the
/// copy-on-write cost; Redis's zmalloc_get_private_dirty).
fn private_dirty() -> u64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/smaps_rollup") else {
        return 0;
    };
    s.lines()
        .filter_map(|l| l.strip_prefix("Private_Dirty:"))
        .filter_map(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .sum::<u64>()
        * 1024
}

pub(crate) fn child_progress(keys: u64) {
    let now = crate::util::now_ms();
    if now - CHILD_REPORTED.load(std::sync::atomic::Ordering::Relaxed) >= 1000 {
        CHILD_REPORTED.store(now, std::sync::atomic::Ordering::Relaxed);
        child_report(keys);
    }
}

/// One report: keys written (u64::MAX: the end) and the copy-on-write size, 16 bytes.
pub(crate) fn child_report(keys: u64) {
    let fd = CHILD_PIPE.load(std::sync::atomic::Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    let mut msg = [0u8; 16];
    msg[..8].copy_from_slice(&keys.to_le_bytes());
    msg[8..].copy_from_slice(&private_dirty().to_le_bytes());
    // SAFETY: writing our own buffer to the pipe's write end (nonblocking: a full pipe
    // drops the report, as Redis's does).
    let n = unsafe { libc::write(fd, msg.as_ptr() as *const libc::c_void, msg.len()) };
    if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::WouldBlock {
        // No parent to read it (it was killed): nobody wants what is being written.
        crate::warn!(
            "Child failed reporting info to parent, exiting. {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: leaving the forked child at once, as its normal end does.
        unsafe { libc::_exit(1) };
    }
}

/// The parent reads what the child reported so far (from the cron, and when it ends).
fn read_child_info(srv: &mut Server) {
    use std::io::Read;
    let r = &mut srv.admin.rdb;
    let Some(pipe) = r.info_pipe.as_mut() else {
        return;
    };
    let mut msg = [0u8; 16];
    while let Ok(16) = pipe.read(&mut msg) {
        let keys = u64::from_le_bytes(msg[..8].try_into().unwrap_or_default());
        let cow = u64::from_le_bytes(msg[8..].try_into().unwrap_or_default());
        if keys != u64::MAX {
            r.keys_processed = keys;
        }
        r.cow_size = cow;
        r.cow_peak = r.cow_peak.max(cow);
        r.cow_updated = Some(Instant::now());
    }
}
