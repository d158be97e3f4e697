//! `maxclients` against the process's open-file limit, as Redis's adjustOpenFilesLimit:
//! the limit is raised when it can be, else `maxclients` is lowered and the log says so.
//! A spare descriptor is kept so that a client arriving when every descriptor is taken
//! (EMFILE) is still accepted, told `-ERR max number of clients reached` and closed,
//! instead of waiting unseen in the accept backlog.
use crate::{notice, warn};

/// Descriptors kept for listeners, the log, the epoll instance, files (Redis: 32).
pub const RESERVED_FDS: u64 = 32;

fn nofile() -> Option<(u64, u64)> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } == 0)
        .then_some((r.rlim_cur, r.rlim_max))
}

fn set_nofile(cur: u64, max: u64) -> Result<(), std::io::Error> {
    let r = libc::rlimit {
        rlim_cur: cur,
        rlim_max: max,
    };
    // SAFETY: setrlimit reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Make room for `maxclients` clients; returns the `maxclients` that fits, or the fatal
/// error when not even the reserved descriptors are available.
pub fn adjust(maxclients: i64) -> Result<i64, String> {
    let want = maxclients as u64 + RESERVED_FDS;
    let Some((cur, hard)) = nofile() else {
        warn!("Unable to obtain the current NOFILE limit (assuming 1024), maxclients unchanged");
        return Ok(maxclients);
    };
    if cur >= want {
        return Ok(maxclients);
    }
    let mut best = want;
    let mut error = None;
    while best > cur {
        match set_nofile(best, hard.max(best)) {
            Ok(()) => break,
            Err(e) => error = Some(e),
        }
        if best < 16 {
            break;
        }
        best -= 16;
    }
    let best = best.max(cur);
    if best >= want {
        notice!(
            "Increased maximum number of open files to {want} (it was originally set to {cur})."
        );
        return Ok(maxclients);
    }
    if best <= RESERVED_FDS {
        return Err(format!(
            "Your current 'ulimit -n' of {best} is not enough for the server to start. Please increase your open file limit to at least {}. Exiting.",
            RESERVED_FDS + 1
        ));
    }
    let reduced = (best - RESERVED_FDS) as i64;
    warn!(
        "You requested maxclients of {maxclients} requiring at least {want} max file descriptors."
    );
    if let Some(e) = error {
        warn!("Server can't set maximum open files to {want} because of OS error: {e}.");
    }
    warn!(
        "Current maximum open files is {best}. maxclients has been reduced to {reduced} to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'."
    );
    Ok(reduced)
}

/// One descriptor held back for EMFILE at accept.
pub fn spare() -> Option<std::fs::File> {
    std::fs::File::open("/dev/null").ok()
}

/// Whether an accept error means the process (or system) ran out of descriptors.
pub fn out_of_fds(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
}
