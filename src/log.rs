//! Logging in Redis's format: `pid:M 24 Nov 2026 11:57:00.123 * message`.
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

pub const DEBUG: u8 = 0;
pub const VERBOSE: u8 = 1;
pub const NOTICE: u8 = 2;
pub const WARNING: u8 = 3;

static LEVEL: AtomicU8 = AtomicU8::new(NOTICE);
static FILE: Mutex<Option<std::fs::File>> = Mutex::new(None);

pub fn set_level(level: u8) {
    LEVEL.store(level, Ordering::Relaxed);
}

/// Send the log to a file ("" = stdout). Returns the error text if it can't be opened.
pub fn set_file(path: &str) -> Result<(), String> {
    let f = if path.is_empty() {
        None
    } else {
        Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("Can't open the log file: {e}"))?,
        )
    };
    *FILE.lock().unwrap_or_else(|e| e.into_inner()) = f;
    Ok(())
}

#[inline]
pub fn enabled(level: u8) -> bool {
    level >= LEVEL.load(Ordering::Relaxed)
}

/// The role letter of log lines: M (master), C (a forked child), as Redis prints.
static ROLE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(b'M');

pub fn set_role(c: u8) {
    ROLE.store(c, Ordering::Relaxed);
}

pub fn write(level: u8, msg: std::fmt::Arguments) {
    if !enabled(level) {
        return;
    }
    let mark = ['.', '-', '*', '#'][level.min(3) as usize];
    let line = format!(
        "{}:{} {} {} {}\n",
        std::process::id(),
        ROLE.load(Ordering::Relaxed) as char,
        timestamp(),
        mark,
        msg
    );
    let mut f = FILE.lock().unwrap_or_else(|e| e.into_inner());
    match f.as_mut() {
        Some(file) => {
            let _ = file.write_all(line.as_bytes());
        }
        None => {
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        }
    }
}

/// The startup banner: Redis prints a logo carrying " PID: n" (which tools such as Redis's
/// test suite wait for), or a one-line summary when the logo is off.
/// The startup banner; `mode`: "standalone" or "cluster".
pub fn banner(show_logo: bool, port: i64, mode: &str) {
    let pid = std::process::id();
    if show_logo {
        for line in [
            format!(
                "ferrokv {} (Redis {} compatible) 64 bit",
                env!("CARGO_PKG_VERSION"),
                crate::REDIS_VERSION
            ),
            format!("Running in {mode} mode, Port: {port} PID: {pid}"),
        ] {
            write(NOTICE, format_args!("{line}"));
        }
    } else {
        write(
            NOTICE,
            format_args!("Running mode={mode}, port={port}. PID: {pid}"),
        );
    }
}

fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    // SAFETY: tm is plain old data (its zone pointer may be null); all zeros is valid.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: localtime_r writes into our tm only.
    unsafe { libc::localtime_r(&secs, &mut tm) };
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        tm.tm_mday,
        MON[tm.tm_mon.clamp(0, 11) as usize],
        tm.tm_year + 1900,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_millis()
    )
}

#[macro_export]
macro_rules! log_at {
    ($lvl:expr, $($t:tt)*) => { if $crate::log::enabled($lvl) { $crate::log::write($lvl, format_args!($($t)*)) } };
}
#[macro_export]
macro_rules! warn { ($($t:tt)*) => { $crate::log_at!($crate::log::WARNING, $($t)*) }; }
#[macro_export]
macro_rules! notice { ($($t:tt)*) => { $crate::log_at!($crate::log::NOTICE, $($t)*) }; }
#[macro_export]
macro_rules! verbose { ($($t:tt)*) => { $crate::log_at!($crate::log::VERBOSE, $($t)*) }; }
#[macro_export]
macro_rules! debug { ($($t:tt)*) => { $crate::log_at!($crate::log::DEBUG, $($t)*) }; }

/// At most one log line per cause per second: a flood of the same event (500 slowloris
/// connections timing out together) writes one line, and the next line says how many
/// were left out.
#[derive(Default)]
pub struct Limiter {
    last: hashbrown::HashMap<&'static str, (std::time::Instant, u64)>,
}

impl Limiter {
    /// Some(left out since the last line) when a line for `cause` may be written now.
    pub fn allow(&mut self, cause: &'static str) -> Option<u64> {
        let now = std::time::Instant::now();
        match self.last.get_mut(cause) {
            Some((at, skipped)) if now.duration_since(*at) < std::time::Duration::from_secs(1) => {
                *skipped += 1;
                None
            }
            Some((at, skipped)) => {
                *at = now;
                Some(std::mem::take(skipped))
            }
            None => {
                self.last.insert(cause, (now, 0));
                Some(0)
            }
        }
    }
}

/// " (N similar lines left out)" when N > 0.
pub fn skipped_note(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({n} similar lines left out in the last second)")
    }
}
