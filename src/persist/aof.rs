//! The append-only file in Redis 7.0's multi-part form.
//!
//! `appenddirname` holds a manifest (`<appendfilename>.manifest`) naming one BASE file
//! (a snapshot: RDB when `aof-use-rdb-preamble yes`, else commands), then INCR files of
//! the commands that came after it, in order; HISTORY files are what a rewrite made
//! obsolete, deleted once the new manifest is on disk. The files are redis-server's own:
//! each loads the other's directory, and `redis-check-aof` accepts ours.
//!
//! **Writing.** What the AOF is fed comes from the one propagation stream
//! ([`crate::propagate`]): `Propagation::aof` collects the commands of each event-loop
//! iteration, and the reactor writes them ([`flush`]) before it releases any reply, so
//! no client hears of a write the file does not have. `appendfsync always` then fsyncs
//! in the same place (one fsync per loop iteration for every client served in it: group
//! commit); `everysec` hands the fsync to a background thread once a second; `no` leaves
//! it to the kernel.
//!
//! **Rewriting** (BGREWRITEAOF, the growth trigger, `appendonly yes` at runtime): the
//! parent opens a new INCR file and goes on appending there; a forked child writes the
//! dataset as a new BASE to a temp file; when it exits well the parent renames it in,
//! turns the INCR files before the new one into HISTORY, writes the manifest atomically
//! (temp + fsync + rename + directory fsync) and deletes the history. A crash anywhere
//! leaves a manifest that names complete files.
//!
//! **Loading** replays the files through the command table as an internal client (no
//! checks, no replies, nothing blocks, nothing expires until the load is over); a torn
//! tail of the last file is cut off when `aof-load-truncated yes`.
use crate::server::Server;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum State {
    #[default]
    Off,
    On,
    /// `appendonly yes` was set at runtime: the first BASE is being written; commands go
    /// to a temp INCR file that becomes the first INCR once the rewrite succeeds.
    WaitRewrite,
}

pub const BASE: u8 = b'b';
pub const HIST: u8 = b'h';
pub const INCR: u8 = b'i';

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    pub name: String,
    pub seq: u64,
    pub kind: u8,
}

/// The manifest: the BASE, the HISTORY files, the INCR files in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<FileInfo>,
    pub history: Vec<FileInfo>,
    pub incr: Vec<FileInfo>,
    pub base_seq: u64,
    pub incr_seq: u64,
    /// Changed since it was last written.
    pub dirty: bool,
}

/// A manifest that cannot be read: the line (number, text) and what is wrong.
#[derive(Debug, PartialEq, Eq)]
pub struct ManifestError {
    pub line: Option<(usize, String)>,
    pub msg: &'static str,
}

impl Manifest {
    /// Parse a manifest as Redis does (its error texts; unknown keys are kept out for
    /// forward compatibility).
    pub fn parse(text: &[u8]) -> Result<Manifest, ManifestError> {
        let mut m = Manifest::default();
        let mut max_seq = 0u64;
        if text.is_empty() {
            return Err(ManifestError {
                line: None,
                msg: "Found an empty AOF manifest",
            });
        }
        let mut rest = text;
        let mut n = 0;
        while !rest.is_empty() {
            n += 1;
            let (raw, next, complete) = match rest.iter().position(|&c| c == b'\n') {
                Some(i) => (&rest[..i], &rest[i + 1..], true),
                None => (rest, &rest[rest.len()..], false),
            };
            rest = next;
            if raw.first() == Some(&b'#') {
                continue;
            }
            let line = String::from_utf8_lossy(raw)
                .trim_matches(|c| " \t\r\n".contains(c))
                .to_string();
            let bad = |msg| {
                Err(ManifestError {
                    line: Some((n, line.clone())),
                    msg,
                })
            };
            if raw.len() > 1024 || !complete {
                return bad("The AOF manifest file contains too long line");
            }
            if line.is_empty() {
                return bad("Invalid AOF manifest file format");
            }
            let mut buf = Vec::new();
            let mut spans = Vec::new();
            if !crate::resp::parse::split_args(line.as_bytes(), &mut buf, &mut spans)
                || spans.len() < 6
                || !spans.len().is_multiple_of(2)
            {
                return bad("Invalid AOF manifest file format");
            }
            let word = |i: usize| &buf[spans[i].0 as usize..spans[i].1 as usize];
            let (mut name, mut seq, mut kind) = (None, 0u64, 0u8);
            for i in (0..spans.len()).step_by(2) {
                let (k, v) = (word(i), word(i + 1));
                if k.eq_ignore_ascii_case(b"file") {
                    let v = String::from_utf8_lossy(v).into_owned();
                    if v.contains('/') || v.contains('\\') {
                        return bad("File can't be a path, just a filename");
                    }
                    name = Some(v);
                } else if k.eq_ignore_ascii_case(b"seq") {
                    // atoll: the leading digits.
                    seq = v
                        .iter()
                        .take_while(|c| c.is_ascii_digit())
                        .fold(0u64, |a, &c| {
                            a.wrapping_mul(10).wrapping_add((c - b'0') as u64)
                        });
                } else if k.eq_ignore_ascii_case(b"type") {
                    kind = v.first().copied().unwrap_or(0);
                }
            }
            let (Some(name), true, true) = (name, seq != 0, kind != 0) else {
                return bad("Invalid AOF manifest file format");
            };
            let info = FileInfo { name, seq, kind };
            match kind {
                BASE => {
                    if m.base.is_some() {
                        return bad("Found duplicate base file information");
                    }
                    m.base_seq = seq;
                    m.base = Some(info);
                }
                HIST => m.history.push(info),
                INCR => {
                    if seq <= max_seq {
                        return bad("Found a non-monotonic sequence number");
                    }
                    max_seq = seq;
                    m.incr_seq = seq;
                    m.incr.push(info);
                }
                _ => return bad("Unknown AOF file type"),
            }
        }
        Ok(m)
    }

    /// The manifest's text: BASE first, then HISTORY, then INCR.
    pub fn format(&self) -> String {
        let mut s = String::new();
        for f in self.base.iter().chain(&self.history).chain(&self.incr) {
            let needs_quotes = f
                .name
                .bytes()
                .any(|c| c <= b' ' || c >= 0x7f || c == b'"' || c == b'\'' || c == b'\\');
            let name = if needs_quotes {
                crate::config::file::quote_always(&f.name)
            } else {
                f.name.clone()
            };
            s.push_str(&format!(
                "file {name} seq {} type {}\n",
                f.seq, f.kind as char
            ));
        }
        s
    }

    /// A new BASE name (`<appendfilename>.<seq>.base.rdb|aof`); the old BASE becomes
    /// history.
    fn new_base(&mut self, prefix: &str, rdb: bool) -> String {
        if let Some(mut old) = self.base.take() {
            old.kind = HIST;
            self.history.insert(0, old);
        }
        self.base_seq += 1;
        let name = format!(
            "{prefix}.{}.base.{}",
            self.base_seq,
            if rdb { "rdb" } else { "aof" }
        );
        self.base = Some(FileInfo {
            name: name.clone(),
            seq: self.base_seq,
            kind: BASE,
        });
        self.dirty = true;
        name
    }

    /// A new INCR name (`<appendfilename>.<seq>.incr.aof`), added last.
    fn new_incr(&mut self, prefix: &str) -> String {
        self.incr_seq += 1;
        let name = format!("{prefix}.{}.incr.aof", self.incr_seq);
        self.incr.push(FileInfo {
            name: name.clone(),
            seq: self.incr_seq,
            kind: INCR,
        });
        self.dirty = true;
        name
    }

    /// After a rewrite: the INCR files it covers become history (all but the one being
    /// written when `keep_last`).
    fn incr_to_history(&mut self, keep_last: bool) {
        let keep = if keep_last { self.incr.pop() } else { None };
        for mut f in self.incr.drain(..).rev() {
            f.kind = HIST;
            self.history.insert(0, f);
        }
        self.incr.extend(keep);
        self.dirty = true;
    }
}

/// The outcome of loading one file or all of them (Redis's AOF_OK...).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Status {
    Ok,
    NotExist,
    Empty,
    OpenErr,
    Failed,
    Truncated,
}

/// Background fsyncs (Redis's bio thread for the AOF): `everysec` fsyncs here, off
/// the event loop, and a replaced INCR file is synced and closed here.
struct Bio {
    tx: mpsc::Sender<Job>,
    pending: Arc<AtomicUsize>,
    error: Arc<Mutex<Option<String>>>,
}

enum Job {
    /// fsync the file (and close it when this was the last handle).
    Fsync(Arc<File>),
    /// Remove a file no longer needed (a history file can be gigabytes: unlinking it
    /// frees its blocks, which takes time the loop should not spend).
    Unlink(PathBuf),
}

impl Bio {
    fn start() -> Bio {
        let (tx, rx) = mpsc::channel::<Job>();
        let pending = Arc::new(AtomicUsize::new(0));
        let error = Arc::new(Mutex::new(None));
        let (p, e) = (pending.clone(), error.clone());
        std::thread::Builder::new()
            .name("aof-bio".into())
            .spawn(move || {
                for job in rx {
                    match job {
                        Job::Fsync(file) => {
                            let r = file.sync_data();
                            if let Ok(mut err) = e.lock() {
                                match r {
                                    Err(x) => *err = Some(crate::util::os_error_text(&x)),
                                    Ok(()) => *err = None,
                                }
                            }
                            drop(file);
                            p.fetch_sub(1, Ordering::SeqCst);
                        }
                        Job::Unlink(path) => {
                            let _ = std::fs::remove_file(path);
                        }
                    }
                }
            })
            .ok();
        Bio { tx, pending, error }
    }

    fn submit(&self, file: Arc<File>) {
        self.pending.fetch_add(1, Ordering::SeqCst);
        if self.tx.send(Job::Fsync(file)).is_err() {
            self.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn unlink(&self, path: PathBuf) {
        if let Err(mpsc::SendError(Job::Unlink(path))) = self.tx.send(Job::Unlink(path)) {
            let _ = std::fs::remove_file(path);
        }
    }

    fn in_progress(&self) -> bool {
        self.pending.load(Ordering::SeqCst) != 0
    }
}

/// The AOF's state (INFO persistence, the open INCR file, the rewrite child).
#[derive(Default)]
pub struct Aof {
    pub state: State,
    pub manifest: Manifest,
    /// The INCR file being appended to (a temp one during WaitRewrite).
    pub file: Option<Arc<File>>,
    /// aof_current_size: BASE plus INCR files; aof_base_size: their size at the last
    /// rewrite (the growth trigger's base).
    pub current_size: u64,
    pub base_size: u64,
    pub last_incr_size: u64,
    pub last_incr_fsync_offset: u64,
    /// Unix seconds of the last fsync (everysec).
    pub last_fsync: i64,
    /// When a write was first postponed for a background fsync still running (0: none).
    pub flush_postponed_start: i64,
    pub delayed_fsync: u64,
    /// The last write's error (aof_last_write_status: err), refusing writes meanwhile.
    pub write_error: Option<String>,
    /// When a write error was last logged (unix s).
    last_write_error_log: i64,
    /// The last background fsync's error, as the cron last saw it.
    pub fsync_error: Option<String>,
    /// Writes are refused (either error, with the AOF on): the one flag each write
    /// command tests.
    refuse: bool,
    pub rewrite_scheduled: bool,
    /// The rewrite child: its pid and start.
    pub child: Option<(libc::pid_t, Instant)>,
    pub last_rewrite_secs: i64,
    pub last_bgrewrite_ok: bool,
    pub rewrites: u64,
    pub consecutive_failures: u64,
    pub last_cow_size: u64,
    /// DEBUG AOF-FLUSH-SLEEP: microseconds to sleep before each write (tests).
    pub flush_sleep_us: u64,
    /// Rewrites after repeated failures wait (Redis's aofRewriteLimited): the next delay
    /// in minutes and the time it ends.
    limit_minutes: i64,
    limit_until: i64,
    bio: Option<Bio>,
}

impl Aof {
    pub fn new() -> Aof {
        Aof {
            last_rewrite_secs: -1,
            last_bgrewrite_ok: true,
            ..Default::default()
        }
    }

    fn bio(&mut self) -> &Bio {
        self.bio.get_or_insert_with(Bio::start)
    }

    /// An fsync is running in the background.
    pub fn fsync_in_progress(&self) -> bool {
        self.bio.as_ref().is_some_and(|b| b.in_progress())
    }

    /// Background fsyncs waiting or running (INFO aof_pending_bio_fsync).
    pub fn pending_fsyncs(&self) -> usize {
        self.bio
            .as_ref()
            .map_or(0, |b| b.pending.load(Ordering::SeqCst))
    }

    /// Writes are refused: the AOF is on and its last write or fsync failed (one test per
    /// write command; almost always false).
    #[inline]
    pub fn refusing(&self) -> bool {
        self.refuse
    }

    /// Recompute `refuse` after an error or the state changed.
    fn errors_changed(&mut self) {
        self.refuse =
            (self.write_error.is_some() || self.fsync_error.is_some()) && self.state != State::Off;
    }

    /// A background fsync failed (it refuses writes like a failed write).
    fn bio_error(&self) -> Option<String> {
        self.bio
            .as_ref()
            .and_then(|b| b.error.lock().ok().and_then(|e| e.clone()))
    }
}

fn unix_now() -> i64 {
    crate::util::now_ms() / 1000
}

fn dir_path(srv: &Server, name: &str) -> PathBuf {
    Path::new(&srv.cfg.appenddirname).join(name)
}

fn manifest_name(srv: &Server) -> String {
    format!("{}.manifest", srv.cfg.appendfilename)
}

fn temp_incr_name(srv: &Server) -> String {
    format!("temp-{}.incr", srv.cfg.appendfilename)
}

fn file_size(p: &Path) -> std::io::Result<u64> {
    std::fs::metadata(p).map(|m| m.len())
}

fn create_dir(srv: &Server) -> Result<(), String> {
    std::fs::create_dir_all(&srv.cfg.appenddirname).map_err(|e| {
        format!(
            "Can't open or create append-only dir {}: {e}",
            srv.cfg.appenddirname
        )
    })
}

fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Write the manifest atomically: a temp file, fsync, rename, fsync of the directory.
fn persist_manifest(srv: &Server, m: &mut Manifest) -> Result<(), String> {
    if !m.dirty {
        return Ok(());
    }
    let name = manifest_name(srv);
    let tmp_name = format!("temp-{name}");
    let (path, tmp) = (dir_path(srv, &name), dir_path(srv, &tmp_name));
    let r = (|| -> Result<(), String> {
        let mut f = File::create(&tmp)
            .map_err(|e| format!("Can't open the AOF manifest file {tmp_name}: {e}"))?;
        f.write_all(m.format().as_bytes()).map_err(|e| {
            format!("Error trying to write the temporary AOF manifest file {tmp_name}: {e}")
        })?;
        f.sync_all()
            .map_err(|e| format!("Fail to fsync the temp AOF file {tmp_name}: {e}."))?;
        std::fs::rename(&tmp, &path).map_err(|e| {
            format!(
                "Error trying to rename the temporary AOF manifest file {tmp_name} into {name}: {e}"
            )
        })?;
        fsync_dir(Path::new(&srv.cfg.appenddirname))
            .map_err(|e| format!("Fail to fsync AOF directory {}: {e}.", path.display()))
    })();
    match r {
        Ok(()) => {
            m.dirty = false;
            Ok(())
        }
        Err(e) => {
            crate::warn!("{e}");
            Err(e)
        }
    }
}

/// Read the manifest at startup (none yet: an empty one). A manifest that cannot be
/// read stops the server, as Redis's does.
pub fn load_manifest(srv: &mut Server) -> Result<(), String> {
    srv.admin.aof.manifest = Manifest::default();
    if !Path::new(&srv.cfg.appenddirname).is_dir() {
        return Ok(());
    }
    let path = dir_path(srv, &manifest_name(srv));
    if !path.exists() {
        return Ok(());
    }
    let text = std::fs::read(&path).map_err(|e| {
        format!(
            "Fatal error: can't open the AOF manifest file {} for reading: {e}",
            path.display()
        )
    })?;
    match Manifest::parse(&text) {
        Ok(m) => {
            srv.admin.aof.manifest = m;
            Ok(())
        }
        Err(e) => {
            crate::warn!("*** FATAL AOF MANIFEST FILE ERROR ***");
            if let Some((n, line)) = &e.line {
                crate::warn!("Reading the manifest file, at line {n}");
                crate::warn!(">>> '{line}'");
            }
            Err(e.msg.to_string())
        }
    }
}

/// Delete the HISTORY files (unless aof-disable-auto-gc) and write the manifest.
pub fn delete_history(srv: &mut Server) {
    if srv.cfg.aof_disable_auto_gc || srv.admin.aof.manifest.history.is_empty() {
        return;
    }
    let history = std::mem::take(&mut srv.admin.aof.manifest.history);
    for f in history {
        crate::notice!("Removing the history file {} in the background", f.name);
        let path = dir_path(srv, &f.name);
        srv.admin.aof.bio().unlink(path);
    }
    srv.admin.aof.manifest.dirty = true;
    let mut m = std::mem::take(&mut srv.admin.aof.manifest);
    let _ = persist_manifest(srv, &mut m);
    srv.admin.aof.manifest = m;
}

// ---------------------------------------------------------------------------------
// Writing

/// Write the buffered commands to the INCR file, then fsync per `appendfsync` (Redis's
/// flushAppendOnlyFile). Replies held for the buffer are released either way: with
/// `always` a failed write or fsync ends the process, as Redis does (a client must never
/// hear of a write that is not on disk). `force` writes even while an everysec fsync
/// still runs in the background.
pub fn flush(srv: &mut Server, force: bool) {
    let Some(feed) = srv.data.prop.aof_mut() else {
        return;
    };
    feed.hold = false;
    if feed.buf.is_empty() && srv.admin.aof.last_incr_fsync_offset == srv.admin.aof.last_incr_size {
        // Nothing written since the last fsync: nothing to do.
        return;
    }
    let Some(file) = srv.admin.aof.file.clone() else {
        return;
    };
    let policy = srv.cfg.appendfsync.0; // always, everysec, no
    let (always, everysec) = (policy == 0, policy == 1);
    let now = unix_now();
    let aof = &mut srv.admin.aof;
    let mut sync_in_progress = false;
    if feed.buf.is_empty() {
        // Nothing new; an fsync may still be owed (writes stopped within the second, or
        // the policy just became always).
        let owed = aof.last_incr_fsync_offset != aof.last_incr_size;
        let go = if everysec && owed && now > aof.last_fsync {
            sync_in_progress = aof.fsync_in_progress();
            !sync_in_progress
        } else {
            always && owed
        };
        if !go {
            return;
        }
    } else {
        if everysec {
            sync_in_progress = aof.fsync_in_progress();
        }
        if everysec && !force && sync_in_progress {
            // A write would block behind the background fsync: postpone it up to 2 s.
            if aof.flush_postponed_start == 0 {
                aof.flush_postponed_start = now;
                return;
            } else if now - aof.flush_postponed_start < 2 {
                return;
            }
            aof.delayed_fsync += 1;
            crate::notice!("Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis.");
        }
        if aof.flush_sleep_us > 0 {
            std::thread::sleep(std::time::Duration::from_micros(aof.flush_sleep_us));
        }
        let t0 = Instant::now();
        let (written, err) = write_all(&file, &feed.buf);
        let took = t0.elapsed().as_millis() as u64;
        aof.flush_postponed_start = 0;
        let threshold = srv.cfg.latency_monitor_threshold;
        let busy = !srv.admin.children.is_empty();
        let lat = &mut srv.admin.latency;
        let kind = if sync_in_progress {
            "aof-write-pending-fsync"
        } else if busy {
            "aof-write-active-child"
        } else {
            "aof-write-alone"
        };
        lat.add_sample_if_needed(threshold, kind, took);
        lat.add_sample_if_needed(threshold, "aof-write", took);
        let aof = &mut srv.admin.aof;
        if written != feed.buf.len() {
            let mut written = written;
            // At most one line per 30 s while the error lasts (the cron retries).
            let can_log = now - aof.last_write_error_log > 30;
            if can_log {
                aof.last_write_error_log = now;
            }
            let why = match &err {
                Some(e) => crate::util::os_error_text(e),
                None => "No space left on device".to_string(),
            };
            if can_log {
                if err.is_some() && written == 0 {
                    crate::warn!("Error writing to the AOF file: {why}");
                } else {
                    crate::warn!(
                        "Short write while writing to the AOF file: (nwritten={written}, expected={})",
                        feed.buf.len()
                    );
                }
            }
            // Part of a command in the file would make it unloadable: take it back out.
            if written > 0 {
                match file.set_len(aof.last_incr_size) {
                    Ok(()) => written = 0,
                    Err(e) if can_log => crate::warn!("Could not remove short write from the append-only file.  Redis may refuse to load the AOF the next time it starts.  ftruncate: {}", crate::util::os_error_text(&e)),
                    Err(_) => {}
                }
            }
            if always {
                crate::warn!("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
                std::process::exit(1);
            }
            // Keep what was not written for the next try; refuse writes meanwhile.
            aof.write_error = Some(why);
            aof.errors_changed();
            if written > 0 {
                aof.current_size += written as u64;
                aof.last_incr_size += written as u64;
                feed.buf.drain(..written);
            }
            return;
        }
        if aof.write_error.take().is_some() {
            crate::warn!("AOF write error looks solved, Redis can write again.");
            aof.errors_changed();
        }
        aof.current_size += written as u64;
        aof.last_incr_size += written as u64;
        feed.buf.clear();
        if feed.buf.capacity() > 1 << 20 {
            feed.buf = Vec::new();
        }
    }
    // no-appendfsync-on-rewrite: no fsync while a child writes.
    if srv.cfg.no_appendfsync_on_rewrite && crate::child::writer_running(srv) {
        return;
    }
    let aof = &mut srv.admin.aof;
    if always {
        let t0 = Instant::now();
        if let Err(e) = file.sync_data() {
            crate::warn!("Can't persist AOF for fsync error when the AOF fsync policy is 'always': {e}. Exiting...");
            std::process::exit(1);
        }
        let took = t0.elapsed().as_millis() as u64;
        aof.last_incr_fsync_offset = aof.last_incr_size;
        aof.last_fsync = now;
        let threshold = srv.cfg.latency_monitor_threshold;
        srv.admin
            .latency
            .add_sample_if_needed(threshold, "aof-fsync-always", took);
    } else if everysec && now > aof.last_fsync {
        if !sync_in_progress {
            aof.bio().submit(file);
            aof.last_incr_fsync_offset = aof.last_incr_size;
        }
        aof.last_fsync = now;
    }
}

/// write(2) until all is written or it fails: (bytes written, the error if any).
fn write_all(mut f: &File, mut buf: &[u8]) -> (usize, Option<std::io::Error>) {
    let mut total = 0;
    while !buf.is_empty() {
        match f.write(buf) {
            Ok(0) => return (total, None),
            Ok(n) => {
                total += n;
                buf = &buf[n..];
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (total, Some(e)),
        }
    }
    (total, None)
}

/// Redis's reply to writes while the AOF cannot be written.
pub fn write_refusal(srv: &Server) -> Option<String> {
    let aof = &srv.admin.aof;
    if aof.state == State::Off {
        return None;
    }
    let err = aof
        .write_error
        .clone()
        .or_else(|| aof.fsync_error.clone())?;
    Some(format!("MISCONF Errors writing to the AOF file: {err}"))
}

/// Open a new INCR file to append to (Redis's openNewIncrAofForAppend): in WaitRewrite
/// a temp one, else the next in the manifest, written to disk before it is used.
fn open_new_incr(srv: &mut Server) -> Result<(), String> {
    let state = srv.admin.aof.state;
    if state == State::Off {
        return Ok(());
    }
    let mut m = srv.admin.aof.manifest.clone();
    let name = if state == State::WaitRewrite {
        temp_incr_name(srv)
    } else {
        m.new_incr(&srv.cfg.appendfilename)
    };
    let path = dir_path(srv, &name);
    // Appending (O_APPEND): a tail cut off by DEBUG LOADAOF leaves no gap.
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .and_then(|f| f.set_len(0).map(|_| f))
        .map_err(|e| {
            let msg = format!("Can't open the append-only file {name}: {e}");
            crate::warn!("{msg}");
            msg
        })?;
    if state == State::On {
        persist_manifest(srv, &mut m)?;
    }
    crate::notice!("Creating AOF incr file {name} on background rewrite");
    let aof = &mut srv.admin.aof;
    if let Some(old) = aof.file.take() {
        // Synced and closed off the loop (always: it is synced already).
        aof.bio().submit(old);
        aof.last_fsync = unix_now();
    }
    aof.file = Some(Arc::new(file));
    aof.last_incr_size = 0;
    aof.last_incr_fsync_offset = 0;
    if state == State::On {
        aof.manifest = m;
    }
    if srv.data.prop.aof().is_none() {
        start_feeding(srv);
    }
    Ok(())
}

fn start_feeding(srv: &mut Server) {
    let _ = srv.data.prop.feed_aof(Some(crate::propagate::AofFeed {
        timestamps: srv.cfg.aof_timestamp_enabled,
        ..Default::default()
    }));
}

/// aof-timestamp-enabled or aof-disable-auto-gc changed (the history kept while
/// garbage collection was off goes now).
pub fn config_changed(srv: &mut Server) {
    if let Some(feed) = srv.data.prop.aof_mut() {
        feed.timestamps = srv.cfg.aof_timestamp_enabled;
    }
    if !srv.cfg.aof_disable_auto_gc {
        delete_history(srv);
    }
}

// ---------------------------------------------------------------------------------
// Rewriting

/// Write the dataset as a BASE file at `path` (through a temp file of this process,
/// fsynced and renamed, as Redis's rewriteAppendOnlyFile): RDB with the `aof-base` aux
/// field when aof-use-rdb-preamble, else commands.
pub fn write_base(srv: &Server, path: &Path, report: bool) -> Result<(), String> {
    let tmp = format!("temp-rewriteaof-{}.aof", std::process::id());
    let r = (|| -> std::io::Result<()> {
        let f = File::create(&tmp)?;
        let f = if srv.cfg.aof_use_rdb_preamble {
            let mut opts = super::snapshot::options(srv);
            let aux = [("aof-base", "1".to_string())];
            opts.aux = &aux;
            if report {
                opts.progress = Some(super::snapshot::child_progress);
            }
            let libs = super::snapshot::library_codes(srv);
            super::rdb_save::write(f, &srv.data.ks, libs, &opts)?.0
        } else {
            let mut w = std::io::BufWriter::with_capacity(64 * 1024, f);
            rewrite_commands(srv, &mut w)?;
            w.into_inner().map_err(|e| e.into_error())?
        };
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    r.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        let msg = format!("Write error writing append only file on disk: {e}");
        crate::warn!("{msg}");
        msg
    })
}

/// At most this many items per rebuilding command (Redis's AOF_REWRITE_ITEMS_PER_CMD).
const ITEMS_PER_CMD: usize = 64;

/// The dataset as the commands that rebuild it (Redis's rewriteAppendOnlyFileRio).
fn rewrite_commands(srv: &Server, w: &mut impl Write) -> std::io::Result<()> {
    use crate::keyspace::{ValRef, NO_EXPIRE};
    use crate::resp::client::encode_command as enc;
    let mut b: Vec<u8> = Vec::with_capacity(64 * 1024);
    if srv.cfg.aof_timestamp_enabled {
        b.extend_from_slice(format!("#TS:{}\r\n", unix_now()).as_bytes());
    }
    for code in super::snapshot::library_codes(srv) {
        enc(&mut b, [&b"FUNCTION"[..], b"LOAD", code].into_iter());
    }
    let delay = srv.cfg.rdb_key_save_delay;
    let mut keys = 0u64;
    let mut num = itoa::Buffer::new();
    for (i, db) in srv.data.ks.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        enc(
            &mut b,
            [&b"SELECT"[..], num.format(i).as_bytes()].into_iter(),
        );
        for (_, e) in db.dict.items() {
            let key = e.key();
            // Variadic commands of up to ITEMS_PER_CMD items each.
            let batch =
                |b: &mut Vec<u8>, cmd: &[u8], items: &mut dyn Iterator<Item = Vec<Vec<u8>>>| {
                    let mut pending: Vec<Vec<u8>> = Vec::new();
                    let mut count = 0;
                    let emit = |b: &mut Vec<u8>, pending: &mut Vec<Vec<u8>>| {
                        let mut words: Vec<&[u8]> = vec![cmd, key];
                        words.extend(pending.iter().map(|v| v.as_slice()));
                        enc(b, words.into_iter());
                        pending.clear();
                    };
                    for item in items {
                        pending.extend(item);
                        count += 1;
                        if count == ITEMS_PER_CMD {
                            emit(b, &mut pending);
                            count = 0;
                        }
                    }
                    if count > 0 {
                        emit(b, &mut pending);
                    }
                };
            match e.val() {
                ValRef::Int(n) => enc(
                    &mut b,
                    [&b"SET"[..], key, num.format(n).as_bytes()].into_iter(),
                ),
                ValRef::Str(s) => enc(&mut b, [&b"SET"[..], key, s].into_iter()),
                ValRef::List(l) => batch(&mut b, b"RPUSH", &mut l.iter().map(|e| vec![e.to_vec()])),
                ValRef::Set(s) => {
                    let members: Vec<Vec<u8>> =
                        s.members().into_iter().map(|m| m.into_owned()).collect();
                    batch(&mut b, b"SADD", &mut members.into_iter().map(|m| vec![m]))
                }
                ValRef::ZSet(z) => {
                    let n = z.len();
                    batch(
                        &mut b,
                        b"ZADD",
                        &mut z.range(0, n.saturating_sub(1), false).map(|(m, s)| {
                            vec![crate::util::fmt_double(s).into_bytes(), m.to_vec()]
                        }),
                    )
                }
                ValRef::Hash(h) => batch(
                    &mut b,
                    b"HMSET",
                    &mut h.iter().map(|(f, v)| vec![f.to_vec(), v.to_vec()]),
                ),
                ValRef::Stream(s) => rewrite_stream(&mut b, key, s),
            }
            let exp = e.expire();
            if exp != NO_EXPIRE {
                enc(
                    &mut b,
                    [&b"PEXPIREAT"[..], key, num.format(exp).as_bytes()].into_iter(),
                );
            }
            keys += 1;
            if b.len() >= 64 * 1024 {
                w.write_all(&b)?;
                b.clear();
            }
            if delay > 0 {
                std::thread::sleep(std::time::Duration::from_micros(delay as u64));
            }
            if keys.is_multiple_of(1024) {
                super::snapshot::child_progress(keys);
            }
        }
    }
    w.write_all(&b)?;
    w.flush()
}

/// A stream as commands (Redis's rewriteStreamObject): its entries by XADD with their
/// IDs, XSETID for the counters, each group by XGROUP CREATE, its consumers and their
/// pending entries by XGROUP CREATECONSUMER and XCLAIM ... FORCE JUSTID.
fn rewrite_stream(b: &mut Vec<u8>, key: &[u8], s: &crate::types::stream::Stream) {
    use crate::resp::client::encode_command as enc;
    let id = |i: crate::types::stream::StreamId| format!("{}-{}", i.ms, i.seq);
    if s.entries.is_empty() {
        // An empty stream must exist still: create it with an entry 0-1 (the lowest ID
        // XADD takes, as Redis writes it) and trim it away; XSETID then sets the real
        // last ID, which may be 0-0 (XGROUP CREATE ... MKSTREAM).
        enc(
            b,
            [&b"XADD"[..], key, b"MAXLEN", b"0", b"0-1", b"x", b"y"].into_iter(),
        );
    } else {
        for (eid, fields) in s.entries.iter() {
            let i = id(eid);
            let mut words: Vec<&[u8]> = vec![b"XADD", key, i.as_bytes()];
            words.extend(fields.iter());
            enc(b, words.into_iter());
        }
    }
    let (last, added, maxdel) = (
        id(s.last_id),
        s.entries_added.to_string(),
        id(s.max_deleted),
    );
    enc(
        b,
        [
            &b"XSETID"[..],
            key,
            last.as_bytes(),
            b"ENTRIESADDED",
            added.as_bytes(),
            b"MAXDELETEDID",
            maxdel.as_bytes(),
        ]
        .into_iter(),
    );
    for (gname, g) in &s.groups {
        let (glast, read) = (id(g.last_id), g.entries_read.to_string());
        enc(
            b,
            [
                &b"XGROUP"[..],
                b"CREATE",
                key,
                gname,
                glast.as_bytes(),
                b"ENTRIESREAD",
                read.as_bytes(),
            ]
            .into_iter(),
        );
        for (cname, c) in &g.consumers {
            if c.pel.is_empty() {
                enc(
                    b,
                    [&b"XGROUP"[..], b"CREATECONSUMER", key, gname, cname].into_iter(),
                );
                continue;
            }
            for pid in &c.pel {
                let Some(nack) = g.pel.get(pid) else {
                    continue;
                };
                let (p, t, n) = (
                    id(*pid),
                    nack.delivery_time.to_string(),
                    nack.delivery_count.to_string(),
                );
                enc(
                    b,
                    [
                        &b"XCLAIM"[..],
                        key,
                        gname,
                        cname,
                        b"0",
                        p.as_bytes(),
                        b"TIME",
                        t.as_bytes(),
                        b"RETRYCOUNT",
                        n.as_bytes(),
                        b"JUSTID",
                        b"FORCE",
                    ]
                    .into_iter(),
                );
            }
        }
    }
}

/// Whether rewrites wait after repeated failures (1, 2, 4... up to 60 minutes), as
/// Redis's aofRewriteLimited. BGREWRITEAOF is never limited.
fn rewrite_limited(aof: &mut Aof) -> bool {
    if aof.consecutive_failures < 3 {
        aof.limit_minutes = 0;
        aof.limit_until = 0;
        return false;
    }
    let now = unix_now();
    if aof.limit_until != 0 {
        if now < aof.limit_until {
            return true;
        }
        aof.limit_until = 0;
        return false;
    }
    aof.limit_minutes = if aof.limit_minutes == 0 {
        1
    } else {
        (aof.limit_minutes * 2).min(60)
    };
    aof.limit_until = now + aof.limit_minutes * 60;
    crate::warn!(
        "Background AOF rewrite has repeatedly failed and triggered the limit, will retry in {} minutes",
        aof.limit_minutes
    );
    true
}

/// Start a background rewrite (Redis's rewriteAppendOnlyFileBackground).
pub fn rewrite_background(srv: &mut Server) -> Result<(), String> {
    if crate::child::writer_running(srv) {
        return Err("ERR a child process is already running".into());
    }
    if let Err(e) = create_dir(srv) {
        crate::warn!("{e}");
        srv.admin.aof.last_bgrewrite_ok = false;
        return Err(e);
    }
    if let Some(feed) = srv.data.prop.aof_mut() {
        // The new INCR file starts with a SELECT.
        feed.selected = None;
    }
    flush(srv, true);
    if srv.data.prop.aof().is_some_and(|f| !f.buf.is_empty()) {
        // The buffer could not be written: switching files now would put those commands
        // after a BASE that already has them.
        crate::warn!("Can't rewrite the append only file while the AOF can't be written.");
        srv.admin.aof.last_bgrewrite_ok = false;
        return Err("ERR the AOF can't be written".into());
    }
    if let Err(e) = open_new_incr(srv) {
        srv.admin.aof.last_bgrewrite_ok = false;
        return Err(e);
    }
    srv.admin.aof.rewrites += 1;
    let (rd, wr) = super::snapshot::report_pipe();
    let t0 = Instant::now();
    match crate::child::fork(srv, crate::child::Kind::Aof) {
        Err(e) => {
            super::snapshot::close_pipe(rd, wr);
            srv.admin.aof.last_bgrewrite_ok = false;
            crate::warn!("Can't rewrite append only file in background: fork: {e}");
            Err(format!(
                "ERR Can't rewrite append only file in background: fork: {e}"
            ))
        }
        Ok(crate::child::Forked::Child) => crate::child::run_and_exit(|| {
            super::snapshot::reports_to(srv, rd, wr);
            let tmp = format!("temp-rewriteaof-bg-{}.aof", std::process::id());
            let ok = write_base(srv, Path::new(&tmp), true).is_ok();
            if ok {
                crate::notice!("Successfully created the temporary AOF base file {tmp}");
            }
            super::snapshot::child_report(u64::MAX);
            ok
        }),
        Ok(crate::child::Forked::Parent(pid)) => {
            super::snapshot::forked(srv, rd, wr, t0);
            crate::notice!("Background append only file rewriting started by pid {pid}");
            let aof = &mut srv.admin.aof;
            aof.rewrite_scheduled = false;
            aof.child = Some((pid, t0));
            Ok(())
        }
    }
}

/// The rewrite child ended (Redis's backgroundRewriteDoneHandler).
pub fn child_done(srv: &mut Server, pid: libc::pid_t, ok: bool) {
    let Some((child, started)) = srv.admin.aof.child else {
        return;
    };
    if child != pid {
        return;
    }
    srv.admin.aof.child = None;
    srv.admin.aof.last_cow_size = super::snapshot::final_cow(srv);
    if ok && srv.admin.aof.last_cow_size > 0 {
        crate::notice!(
            "Fork CoW for AOF rewrite: current {} MB",
            srv.admin.aof.last_cow_size >> 20
        );
    }
    let tmp = format!("temp-rewriteaof-bg-{pid}.aof");
    let result = if ok {
        crate::notice!("Background AOF rewrite terminated with success");
        install_rewrite(srv, &tmp)
    } else {
        crate::warn!("Background AOF rewrite terminated with error");
        Err(())
    };
    let aof = &mut srv.admin.aof;
    match result {
        Ok(()) => {
            aof.last_bgrewrite_ok = true;
            aof.consecutive_failures = 0;
            crate::notice!("Background AOF rewrite finished successfully");
            if aof.state == State::WaitRewrite {
                aof.state = State::On;
            }
        }
        Err(()) => {
            aof.last_bgrewrite_ok = false;
            aof.consecutive_failures += 1;
        }
    }
    let _ = std::fs::remove_file(&tmp);
    if srv.admin.aof.state == State::WaitRewrite {
        // The commands since the rewrite began have no BASE to follow: drop them and
        // try again.
        let _ = srv.data.prop.feed_aof(None);
        srv.admin.aof.file = None;
        let temp = temp_incr_name(srv);
        crate::notice!("Removing the temp incr aof file {temp} in the background");
        let _ = std::fs::remove_file(dir_path(srv, &temp));
        srv.admin.aof.rewrite_scheduled = true;
    }
    srv.admin.aof.last_rewrite_secs = started.elapsed().as_secs() as i64;
}

/// A finished rewrite's file becomes the BASE: rename it in, turn the INCR files it
/// covers into history, write the manifest, delete the history.
fn install_rewrite(srv: &mut Server, tmp: &str) -> Result<(), ()> {
    let mut m = srv.admin.aof.manifest.clone();
    let prefix = srv.cfg.appendfilename.clone();
    let base = m.new_base(&prefix, srv.cfg.aof_use_rdb_preamble);
    let base_path = dir_path(srv, &base);
    if let Err(e) = std::fs::rename(tmp, &base_path) {
        crate::warn!(
            "Error trying to rename the temporary AOF base file {tmp} into {}: {e}",
            base_path.display()
        );
        return Err(());
    }
    crate::notice!("Successfully renamed the temporary AOF base file {tmp} into {base}");
    let mut incr_path = None;
    if srv.admin.aof.state == State::WaitRewrite {
        let temp = temp_incr_name(srv);
        let name = m.new_incr(&prefix);
        let p = dir_path(srv, &name);
        if let Err(e) = std::fs::rename(dir_path(srv, &temp), &p) {
            crate::warn!(
                "Error trying to rename the temporary AOF incr file {temp} into {name}: {e}"
            );
            let _ = std::fs::remove_file(&base_path);
            return Err(());
        }
        crate::notice!("Successfully renamed the temporary AOF incr file {temp} into {name}");
        incr_path = Some(p);
    }
    m.incr_to_history(srv.admin.aof.file.is_some());
    if persist_manifest(srv, &mut m).is_err() {
        let _ = std::fs::remove_file(&base_path);
        if let Some(p) = incr_path {
            let _ = std::fs::remove_file(p);
        }
        return Err(());
    }
    srv.admin.aof.manifest = m;
    if srv.admin.aof.state != State::Off {
        let aof = &mut srv.admin.aof;
        aof.current_size = file_size(&base_path).unwrap_or(0) + aof.last_incr_size;
        aof.base_size = aof.current_size;
    }
    delete_history(srv);
    Ok(())
}

/// Kill a running rewrite child and remove its temp file (Redis's killAppendOnlyChild).
pub fn kill_child(srv: &mut Server) {
    let Some((pid, _)) = srv.admin.aof.child.take() else {
        return;
    };
    crate::notice!("Killing running AOF rewrite child: {pid}");
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(pid, libc::SIGUSR1) };
    let mut status = 0;
    // SAFETY: waitpid on our own child, a local int for the status.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let _ = std::fs::remove_file(format!("temp-rewriteaof-bg-{pid}.aof"));
    let _ = std::fs::remove_file(format!("temp-rewriteaof-{pid}.aof"));
    srv.admin.children.retain(|c| c.pid != pid);
    super::snapshot::final_cow(srv);
}

/// BGREWRITEAOF: Ok(true) started, Ok(false) scheduled, or the error to reply.
pub fn bgrewriteaof(srv: &mut Server, in_exec: bool) -> Result<bool, String> {
    if srv.admin.aof.child.is_some() {
        return Err("ERR Background append only file rewriting already in progress".into());
    }
    if crate::child::writer_running(srv) || in_exec {
        srv.admin.aof.rewrite_scheduled = true;
        // Asked by hand: run as soon as possible, whatever failed before.
        srv.admin.aof.consecutive_failures = 0;
        return Ok(false);
    }
    rewrite_background(srv).map(|_| true).map_err(|_| {
        "ERR Can't execute an AOF background rewriting. Please check the server logs for more information.".into()
    })
}

/// `appendonly yes` at runtime (Redis's startAppendOnly): the first BASE is written by
/// a rewrite; the AOF is on once it succeeds.
pub fn start(srv: &mut Server, in_exec: bool) -> Result<(), String> {
    srv.admin.aof.state = State::WaitRewrite;
    if crate::child::writer_running(srv) && srv.admin.aof.child.is_none() {
        srv.admin.aof.rewrite_scheduled = true;
        crate::warn!("AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
    } else if in_exec {
        srv.admin.aof.rewrite_scheduled = true;
        crate::warn!("AOF was enabled during a transaction. An AOF background was scheduled to start when possible.");
    } else {
        if srv.admin.aof.child.is_some() {
            crate::warn!("AOF was enabled but there is already an AOF rewriting in background. Stopping background AOF and starting a rewrite now.");
            kill_child(srv);
        }
        if let Err(e) = rewrite_background(srv) {
            srv.admin.aof.state = State::Off;
            let _ = srv.data.prop.feed_aof(None);
            srv.admin.aof.file = None;
            crate::warn!("Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.");
            return Err(e);
        }
    }
    let aof = &mut srv.admin.aof;
    aof.last_fsync = unix_now();
    if aof.write_error.take().is_some() {
        crate::warn!("AOF reopen, just ignore the last error.");
    }
    if let Some(b) = aof.bio.as_ref() {
        if let Ok(mut e) = b.error.lock() {
            if e.take().is_some() {
                crate::warn!("AOF reopen, just ignore the AOF fsync error in bio job");
            }
        }
    }
    aof.fsync_error = None;
    aof.errors_changed();
    Ok(())
}

/// `appendonly no` at runtime (Redis's stopAppendOnly).
pub fn stop(srv: &mut Server) {
    flush(srv, true);
    if let Some(f) = srv.admin.aof.file.take() {
        match f.sync_data() {
            Ok(()) => srv.admin.aof.last_fsync = unix_now(),
            Err(e) => crate::warn!("Fail to fsync the AOF file: {e}"),
        }
    }
    let _ = srv.data.prop.feed_aof(None);
    let aof = &mut srv.admin.aof;
    aof.state = State::Off;
    aof.errors_changed();
    aof.rewrite_scheduled = false;
    aof.last_incr_size = 0;
    aof.last_incr_fsync_offset = 0;
    kill_child(srv);
}

/// The cron's part: a postponed write, a retry after a write error, a scheduled
/// rewrite, the growth trigger.
pub fn cron(srv: &mut Server) {
    if srv.admin.aof.state == State::On {
        srv.admin.aof.fsync_error = srv.admin.aof.bio_error();
        srv.admin.aof.errors_changed();
        // A postponed write, a retry after an error, or an everysec fsync owed after
        // writes stopped.
        flush(srv, false);
    } else if !srv.admin.aof.rewrite_scheduled {
        return;
    }
    if crate::child::writer_running(srv) {
        return;
    }
    if srv.admin.aof.rewrite_scheduled && !rewrite_limited(&mut srv.admin.aof) {
        let _ = rewrite_background(srv);
        return;
    }
    let aof = &srv.admin.aof;
    let perc = srv.cfg.auto_aof_rewrite_percentage;
    if aof.state == State::On
        && perc > 0
        && aof.current_size as i64 > srv.cfg.auto_aof_rewrite_min_size
    {
        let base = aof.base_size.max(1);
        let growth = (aof.current_size * 100 / base) as i64 - 100;
        if growth >= perc && !rewrite_limited(&mut srv.admin.aof) {
            crate::notice!("Starting automatic rewriting of AOF on {growth}% growth");
            let _ = rewrite_background(srv);
        }
    }
}

/// Before exiting: a rewrite child is killed (a first one refuses the exit unless
/// `force`), the buffer written and the file fsynced. Returns whether the exit may go on.
pub fn prepare_shutdown(srv: &mut Server, force: bool) -> bool {
    if srv.admin.aof.state == State::Off {
        // A BGREWRITEAOF of an AOF that is off still runs in a child: it goes too.
        kill_child(srv);
        return true;
    }
    if srv.admin.aof.child.is_some() {
        if srv.admin.aof.state == State::WaitRewrite {
            if force {
                crate::warn!("Writing initial AOF. Exit anyway.");
            } else {
                crate::warn!("Writing initial AOF, can't exit.");
                return false;
            }
        }
        crate::warn!("There is a child rewriting the AOF. Killing it!");
        kill_child(srv);
    }
    crate::notice!("Calling fsync() on the AOF file.");
    flush(srv, true);
    if let Some(f) = srv.admin.aof.file.as_ref() {
        if let Err(e) = f.sync_data() {
            crate::warn!("Fail to fsync the AOF file: {e}");
        }
    }
    true
}

// ---------------------------------------------------------------------------------
// Loading

/// A command read from a file that no handler takes (unknown, or of a wrong arity).
#[derive(Debug)]
pub struct Unknown;

/// Runs one command (its words: spans into the data) as internal client `idx`.
pub type ReplayFn = fn(&mut Server, usize, &[u8], &[(u32, u32)]) -> Result<(), Unknown>;

/// Hooks the loader needs from above (commands sit above persistence): replaying a
/// command as an internal client (Err: unknown, or of a wrong arity), registering a
/// function library (an RDB base's functions), making and dropping that client.
pub struct Hooks<'a, 'b> {
    pub replay: ReplayFn,
    pub register: &'a mut super::snapshot::RegisterLibrary<'b>,
    /// Makes an internal client (returns its slab index) and removes it.
    pub new_client: fn(&mut Server) -> usize,
    pub drop_client: fn(&mut Server, usize),
    /// Whether the internal client is inside an unfinished MULTI.
    pub in_multi: fn(&Server, usize) -> bool,
}

/// At startup with appendonly yes: read the manifest, load the files, then open the AOF
/// for appending (creating the first BASE when there is none). Redis loads no RDB then.
pub fn load_at_startup(srv: &mut Server, hooks: &mut Hooks) -> Result<(), String> {
    srv.admin.aof.state = State::On;
    let t0 = Instant::now();
    match load_files(srv, hooks) {
        Status::Ok | Status::Truncated => crate::notice!(
            "DB loaded from append only file: {:.3} seconds",
            t0.elapsed().as_secs_f64()
        ),
        Status::Empty | Status::NotExist => {}
        // What is wrong was logged last (tests read the log's last line), as Redis
        // exits.
        Status::OpenErr | Status::Failed => std::process::exit(1),
    }
    open_on_start(srv)
}

/// After loading at startup: the directory, a BASE when there are no files at all, the
/// last INCR opened for appending (a new one when none), the manifest written.
fn open_on_start(srv: &mut Server) -> Result<(), String> {
    create_dir(srv)?;
    let prefix = srv.cfg.appendfilename.clone();
    let mut m = std::mem::take(&mut srv.admin.aof.manifest);
    let had_incr = !m.incr.is_empty();
    if m.base.is_none() && !had_incr {
        let name = m.new_base(&prefix, srv.cfg.aof_use_rdb_preamble);
        write_base(srv, &dir_path(srv, &name), false)?;
        crate::notice!("Creating AOF base file {name} on server start");
        srv.admin.aof.base_size = file_size(&dir_path(srv, &name)).unwrap_or(0);
        srv.admin.aof.current_size = srv.admin.aof.base_size;
    }
    let name = match m.incr.last() {
        Some(f) => f.name.clone(),
        None => m.new_incr(&prefix),
    };
    let path = dir_path(srv, &name);
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .map_err(|e| format!("Can't open the append-only file {name}: {e}"))?;
    persist_manifest(srv, &mut m)?;
    srv.admin.aof.manifest = m;
    let size = file_size(&path).unwrap_or(0);
    let aof = &mut srv.admin.aof;
    aof.file = Some(Arc::new(file));
    aof.last_incr_size = size;
    aof.last_incr_fsync_offset = size;
    aof.last_fsync = unix_now();
    if had_incr {
        crate::notice!("Opening AOF incr file {name} on server start");
    } else {
        crate::notice!("Creating AOF incr file {name} on server start");
    }
    start_feeding(srv);
    Ok(())
}

/// An old-style single AOF (`appendfilename` in the working directory, from before
/// Redis 7) moves into the directory as the BASE of a new manifest.
fn upgrade(srv: &mut Server) -> Result<(), String> {
    create_dir(srv)?;
    let name = srv.cfg.appendfilename.clone();
    let mut m = Manifest {
        base: Some(FileInfo {
            name: name.clone(),
            seq: 1,
            kind: BASE,
        }),
        base_seq: 1,
        dirty: true,
        ..Default::default()
    };
    persist_manifest(srv, &mut m)?;
    std::fs::rename(&name, dir_path(srv, &name)).map_err(|e| {
        format!(
            "Error trying to move the old AOF file {name} into dir {}: {e}",
            srv.cfg.appenddirname
        )
    })?;
    crate::notice!(
        "Successfully migrated an old-style AOF file ({name}) into the AOF directory ({}).",
        srv.cfg.appenddirname
    );
    srv.admin.aof.manifest = m;
    Ok(())
}

/// Load every file the manifest names (Redis's loadAppendOnlyFiles): the BASE, then the
/// INCR files in order; only the last may be truncated.
pub fn load_files(srv: &mut Server, hooks: &mut Hooks) -> Status {
    let name = srv.cfg.appendfilename.clone();
    if Path::new(&name).is_file() {
        let m = &srv.admin.aof.manifest;
        let dir_exists = Path::new(&srv.cfg.appenddirname).is_dir();
        if !dir_exists
            || (m.base.is_none() && m.incr.is_empty())
            || (m.incr.is_empty()
                && m.base.as_ref().is_some_and(|b| b.name == name)
                && !dir_path(srv, &name).exists())
        {
            if let Err(e) = upgrade(srv) {
                crate::warn!("{e}");
                return Status::Failed;
            }
        }
    }
    let m = srv.admin.aof.manifest.clone();
    if m.base.is_none() && m.incr.is_empty() {
        return Status::NotExist;
    }
    let files: Vec<&FileInfo> = m.base.iter().chain(&m.incr).collect();
    let mut total = 0;
    for f in &files {
        match file_size(&dir_path(srv, &f.name)) {
            Ok(n) => total += n,
            Err(e) => {
                crate::warn!("Unable to obtain the AOF file {} length. stat: {e}", f.name);
                return Status::Failed;
            }
        }
    }
    if total == 0 {
        return Status::Empty;
    }
    super::snapshot::begin_loading(srv, total);
    crate::keyspace::clock::set_replaying(true);
    // What is replayed is not fed back to the AOF (DEBUG LOADAOF with the AOF on).
    let feed = srv.data.prop.feed_aof(None);
    srv.data.blocking.deny += 1;
    let mut status = Status::Ok;
    let mut base_size = 0;
    for (i, f) in files.iter().enumerate() {
        let last = i + 1 == files.len();
        let is_base = i == 0 && m.base.is_some();
        let t0 = Instant::now();
        let st = load_single(srv, &f.name, hooks);
        if st == Status::Ok || (st == Status::Truncated && last) {
            crate::notice!(
                "DB loaded from {} file {}: {:.3} seconds",
                if is_base { "base" } else { "incr" },
                f.name,
                t0.elapsed().as_secs_f64()
            );
        }
        if is_base {
            base_size = file_size(&dir_path(srv, &f.name)).unwrap_or(0);
        }
        status = match st {
            Status::Empty if !is_base => Status::Ok,
            Status::Truncated if !last => {
                crate::warn!("Fatal error: the truncated file is not the last file");
                Status::Failed
            }
            s => s,
        };
        if matches!(status, Status::OpenErr | Status::Failed) {
            break;
        }
    }
    srv.data.blocking.deny -= 1;
    let _ = srv.data.prop.feed_aof(feed);
    crate::keyspace::clock::set_replaying(false);
    super::snapshot::end_loading(srv);
    if !matches!(status, Status::OpenErr | Status::Failed) {
        // Sizes after any truncation.
        let total: u64 = files
            .iter()
            .filter_map(|f| file_size(&dir_path(srv, &f.name)).ok())
            .sum();
        srv.admin.aof.current_size = total;
        srv.admin.aof.base_size = base_size;
    }
    status
}

/// Replay one file (Redis's loadSingleAppendOnlyFile): an RDB image first when it starts
/// with one (a BASE, or an old AOF's preamble), then commands.
fn load_single(srv: &mut Server, name: &str, hooks: &mut Hooks) -> Status {
    let path = dir_path(srv, name);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::warn!("The append log file {name} doesn't exist: {e}");
            return Status::NotExist;
        }
        Err(e) => {
            crate::warn!("Fatal error: can't open the append log file {name} for reading: {e}");
            return Status::OpenErr;
        }
    };
    if data.is_empty() {
        return Status::Empty;
    }
    let mut pos = 0;
    if data.starts_with(b"REDIS") {
        let old_style = name == srv.cfg.appendfilename;
        if old_style {
            crate::notice!("Reading RDB preamble from AOF file...");
        } else {
            crate::notice!("Reading RDB base file on AOF loading...");
        }
        match super::snapshot::load_bytes(srv, &data, false, hooks.register) {
            Ok(end) => pos = end,
            Err(e) => {
                crate::warn!("{e}");
                if old_style {
                    crate::warn!("Error reading the RDB preamble of the AOF file {name}, AOF loading aborted");
                } else {
                    crate::warn!("Error reading the RDB base file {name}, AOF loading aborted");
                }
                return Status::Failed;
            }
        }
        if old_style {
            crate::notice!("Reading the remaining AOF tail...");
        }
    }
    let client = (hooks.new_client)(srv);
    let st = replay_commands(srv, name, &data, pos, client, hooks);
    (hooks.drop_client)(srv, client);
    match st {
        Err(Tail::Torn(valid_up_to)) => truncated(srv, name, &path, valid_up_to),
        Err(Tail::Format) => {
            crate::warn!("Bad file format reading the append only file {name}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>");
            Status::Failed
        }
        Err(Tail::Failed) => Status::Failed,
        Ok(()) => Status::Ok,
    }
}

enum Tail {
    /// The file ends inside a command (or a MULTI without its EXEC): the offset after the
    /// last whole one.
    Torn(usize),
    Format,
    Failed,
}

/// One line (up to and without "\r\n"), Redis's fgets: None at the end of the data.
fn line(data: &[u8], pos: usize) -> Option<(&[u8], usize, bool)> {
    if pos >= data.len() {
        return None;
    }
    match data[pos..].iter().position(|&c| c == b'\n') {
        Some(i) => Some((&data[pos..pos + i + 1], pos + i + 1, true)),
        None => Some((&data[pos..], data.len(), false)),
    }
}

fn number(b: &[u8]) -> i64 {
    // strtol/atoi: optional sign, then the digits.
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let v = digits
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .fold(0i64, |a, &c| {
            a.saturating_mul(10).saturating_add((c - b'0') as i64)
        });
    if neg {
        -v
    } else {
        v
    }
}

fn replay_commands(
    srv: &mut Server,
    name: &str,
    data: &[u8],
    mut pos: usize,
    client: usize,
    hooks: &mut Hooks,
) -> Result<(), Tail> {
    let mut valid_up_to = pos;
    let mut valid_before_multi = pos;
    let mut loops = 0u64;
    let mut spans: Vec<(u32, u32)> = Vec::new();
    let serve = srv.net.events_while_blocked;
    let delay = srv.cfg.key_load_delay;
    let mut last_served = Instant::now();
    loop {
        loops += 1;
        if loops.is_multiple_of(1024) && last_served.elapsed().as_millis() >= 10 {
            if let Some(serve) = serve {
                serve(srv);
            }
            last_served = Instant::now();
        }
        let Some((l, next, _)) = line(data, pos) else {
            break;
        };
        if l[0] == b'#' {
            pos = next;
            continue;
        }
        if l[0] != b'*' {
            return Err(Tail::Format);
        }
        if l.len() == 1 {
            return Err(Tail::Torn(valid_up_to));
        }
        let argc = number(&l[1..]);
        if argc < 1 {
            return Err(Tail::Format);
        }
        pos = next;
        spans.clear();
        // Spans are offsets into this command's own bytes (a file may pass 4 GB).
        let cmd_start = pos;
        for _ in 0..argc {
            let Some((l, next, _)) = line(data, pos) else {
                return Err(Tail::Torn(valid_up_to));
            };
            if l[0] != b'$' {
                return Err(Tail::Format);
            }
            let len = number(&l[1..]).max(0) as usize;
            let start = next;
            let Some(end) = start.checked_add(len).filter(|&e| e <= data.len()) else {
                return Err(Tail::Torn(valid_up_to));
            };
            if end + 2 > data.len() {
                return Err(Tail::Torn(valid_up_to));
            }
            if end - cmd_start > u32::MAX as usize {
                return Err(Tail::Format);
            }
            spans.push(((start - cmd_start) as u32, (end - cmd_start) as u32));
            pos = end + 2;
        }
        let cmd = &data[cmd_start..pos];
        let first = &cmd[spans[0].0 as usize..spans[0].1 as usize];
        if first.eq_ignore_ascii_case(b"MULTI") {
            valid_before_multi = valid_up_to;
        }
        if (hooks.replay)(srv, client, cmd, &spans).is_err() {
            crate::warn!(
                "Unknown command '{}' reading the append only file {name}",
                String::from_utf8_lossy(first)
            );
            return Err(Tail::Failed);
        }
        valid_up_to = pos;
        if delay > 0 {
            std::thread::sleep(std::time::Duration::from_micros(delay as u64));
        }
    }
    if (hooks.in_multi)(srv, client) {
        crate::warn!("Revert incomplete MULTI/EXEC transaction in AOF file {name}");
        return Err(Tail::Torn(valid_before_multi));
    }
    Ok(())
}

/// The file ends inside a command: cut the tail when aof-load-truncated, else fail.
fn truncated(srv: &mut Server, name: &str, path: &Path, valid_up_to: usize) -> Status {
    if srv.cfg.aof_load_truncated {
        crate::warn!("!!! Warning: short read while loading the AOF file {name}!!!");
        crate::warn!("!!! Truncating the AOF {name} at offset {valid_up_to} !!!");
        let r = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.set_len(valid_up_to as u64));
        match r {
            Ok(()) => {
                crate::warn!("AOF {name} loaded anyway because aof-load-truncated is enabled");
                return Status::Truncated;
            }
            Err(e) => crate::warn!("Error truncating the AOF file {name}: {e}"),
        }
    }
    crate::warn!("Unexpected end of file reading the append only file {name}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.");
    Status::Failed
}

/// INFO persistence's AOF fields.
pub fn info(srv: &Server, out: &mut dyn FnMut(&str, String)) {
    let aof = &srv.admin.aof;
    out("aof_enabled", ((aof.state != State::Off) as u8).to_string());
    out(
        "aof_rewrite_in_progress",
        (aof.child.is_some() as u8).to_string(),
    );
    out(
        "aof_rewrite_scheduled",
        (aof.rewrite_scheduled as u8).to_string(),
    );
    out(
        "aof_last_rewrite_time_sec",
        aof.last_rewrite_secs.to_string(),
    );
    out(
        "aof_current_rewrite_time_sec",
        aof.child
            .map_or(-1, |(_, t)| t.elapsed().as_secs() as i64)
            .to_string(),
    );
    let ok = |b: bool| if b { "ok" } else { "err" }.to_string();
    out("aof_last_bgrewrite_status", ok(aof.last_bgrewrite_ok));
    out("aof_rewrites", aof.rewrites.to_string());
    out(
        "aof_rewrites_consecutive_failures",
        aof.consecutive_failures.to_string(),
    );
    out(
        "aof_last_write_status",
        ok(aof.write_error.is_none() && aof.fsync_error.is_none()),
    );
    out("aof_last_cow_size", aof.last_cow_size.to_string());
}

/// INFO persistence's fields shown while the AOF is on.
pub fn info_enabled(srv: &Server, out: &mut dyn FnMut(&str, String)) {
    let aof = &srv.admin.aof;
    out("aof_current_size", aof.current_size.to_string());
    out("aof_base_size", aof.base_size.to_string());
    out(
        "aof_pending_rewrite",
        (aof.rewrite_scheduled as u8).to_string(),
    );
    out(
        "aof_buffer_length",
        srv.data.prop.aof().map_or(0, |f| f.buf.len()).to_string(),
    );
    out("aof_pending_bio_fsync", aof.pending_fsyncs().to_string());
    out("aof_delayed_fsync", aof.delayed_fsync.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trip_and_rules() {
        let text = b"file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.1.incr.aof seq 1 type h\nfile appendonly.aof.3.incr.aof seq 3 type i\nfile appendonly.aof.4.incr.aof seq 4 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.2.base.rdb");
        assert_eq!((m.base_seq, m.incr_seq), (2, 4));
        assert_eq!(m.history.len(), 1);
        assert_eq!(m.format().as_bytes(), text);
        // Comments are skipped, keys are case-insensitive, extra pairs are ignored.
        let m2 = Manifest::parse(
            b"# c\nFILE a.1.base.aof SEQ 1 TYPE b extra x\nfile \"a b.1.incr.aof\" seq 1 type i\n",
        )
        .unwrap();
        assert_eq!(m2.incr[0].name, "a b.1.incr.aof");
        assert_eq!(
            m2.format(),
            "file a.1.base.aof seq 1 type b\nfile \"a b.1.incr.aof\" seq 1 type i\n"
        );
        let err = |t: &[u8]| Manifest::parse(t).unwrap_err().msg;
        assert_eq!(err(b""), "Found an empty AOF manifest");
        assert_eq!(err(b"file x seq 1\n"), "Invalid AOF manifest file format");
        assert_eq!(
            err(b"file x seq 1 type b"),
            "The AOF manifest file contains too long line"
        );
        assert_eq!(
            err(b"file a seq 1 type b\nfile b seq 2 type b\n"),
            "Found duplicate base file information"
        );
        assert_eq!(
            err(b"file a seq 2 type i\nfile b seq 2 type i\n"),
            "Found a non-monotonic sequence number"
        );
        assert_eq!(err(b"file a seq 1 type x\n"), "Unknown AOF file type");
        assert_eq!(
            err(b"file ../a seq 1 type b\n"),
            "File can't be a path, just a filename"
        );
        assert_eq!(
            err(b"file a seq 0 type b\n"),
            "Invalid AOF manifest file format"
        );
    }

    #[test]
    fn rewrite_turns_covered_incr_files_into_history() {
        let mut m = Manifest::default();
        let b1 = m.new_base("ao", true);
        let i1 = m.new_incr("ao");
        let i2 = m.new_incr("ao");
        assert_eq!(
            (b1.as_str(), i1.as_str(), i2.as_str()),
            ("ao.1.base.rdb", "ao.1.incr.aof", "ao.2.incr.aof")
        );
        let b2 = m.new_base("ao", false);
        m.incr_to_history(true);
        assert_eq!(b2, "ao.2.base.aof");
        // History in Redis's order: each one moved is put first.
        assert_eq!(
            m.format(),
            "file ao.2.base.aof seq 2 type b\nfile ao.1.incr.aof seq 1 type h\nfile ao.1.base.rdb seq 1 type h\nfile ao.2.incr.aof seq 2 type i\n"
        );
    }
}
