//! The context every key lookup is judged in: the command's time and the server's role.
//!
//! **Time.** A command sees one instant (Redis's command time snapshot): the first read of
//! [`now`] while a command runs takes the clock, and every later read until the outermost
//! command ends gives the same value. So a key cannot expire between two lookups of one
//! command, a TTL is computed against the time its key was judged alive by, and a script
//! (one command, with its `redis.call`s nested inside) sees the time of its start
//! ([`freeze`]). The snapshot is taken lazily, so a command that judges no TTL never
//! reads the clock; outside any command [`now`] is the clock.
//!
//! **Role.** A master (the default) deletes a key found expired. A server loading a file or
//! following a master only hides it: the key is absent to lookups but stays until the
//! master's DEL arrives (or the load finishes), as Redis does ([`set_deletes_expired`]).
//!
//! The context is ambient (thread-local in effect: the server is one thread), set by
//! `commands::call` around each command, not threaded through every lookup.
use std::cell::Cell;

thread_local! {
    /// The snapshot (unix ms), 0 when none was taken in the running command.
    static SNAPSHOT: Cell<i64> = const { Cell::new(0) };
    /// How many commands are running, nested (a script's calls inside its EVAL).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Whether expired keys found by lookups are deleted (master) or only hidden.
    static DELETES: Cell<bool> = const { Cell::new(true) };
    /// This server follows a master: expired keys are hidden, never deleted, outside a
    /// load as well.
    static FOLLOWING: Cell<bool> = const { Cell::new(false) };
    /// An AOF is being replayed: nothing counts as expired (its commands are judged as
    /// when they first ran; what expired since goes once the load is over).
    static REPLAYING: Cell<bool> = const { Cell::new(false) };
    /// A CLIENT PAUSE holds the dataset still: expired keys are hidden, not deleted.
    static HELD: Cell<bool> = const { Cell::new(false) };
}

/// A command starts (nested or not).
#[inline]
pub fn enter() {
    DEPTH.with(|d| d.set(d.get() + 1));
}

/// A command ends; the outermost one's end forgets the snapshot.
#[inline]
pub fn leave() {
    DEPTH.with(|d| {
        let n = d.get().saturating_sub(1);
        d.set(n);
        if n == 0 {
            SNAPSHOT.with(|s| s.set(0));
        }
    });
}

/// The running command's time in unix ms (the clock outside a command).
#[inline]
pub fn now() -> i64 {
    if DEPTH.with(|d| d.get()) == 0 {
        return crate::util::now_ms();
    }
    SNAPSHOT.with(|s| match s.get() {
        0 => {
            let t = crate::util::now_ms();
            s.set(t);
            t
        }
        t => t,
    })
}

/// Take the snapshot now (a script's start), if a command runs.
pub fn freeze() {
    if DEPTH.with(|d| d.get()) != 0 {
        SNAPSHOT.with(|s| s.set(crate::util::now_ms()));
    }
}

/// A running command's time context, set aside while the loop serves other clients from
/// inside it (a busy script): theirs are commands of their own.
pub struct Suspended(u32, i64);

pub fn suspend() -> Suspended {
    let saved = Suspended(DEPTH.with(|d| d.get()), SNAPSHOT.with(|s| s.get()));
    DEPTH.with(|d| d.set(0));
    SNAPSHOT.with(|s| s.set(0));
    saved
}

pub fn resume(saved: Suspended) {
    DEPTH.with(|d| d.set(saved.0));
    SNAPSHOT.with(|s| s.set(saved.1));
}

/// Master: lookups delete the expired keys they find (true). Loading or replica: they
/// only hide them (false).
pub fn set_deletes_expired(yes: bool) {
    DELETES.with(|d| d.set(yes));
}

#[inline]
pub fn deletes_expired() -> bool {
    DELETES.with(|d| d.get()) && !FOLLOWING.with(|f| f.get()) && !HELD.with(|h| h.get())
}
/// A CLIENT PAUSE (true) or its end: while paused, expired keys are only hidden (Redis
/// expires nothing during a pause, so the paused dataset is what a failover hands on).
pub fn set_held(yes: bool) {
    HELD.with(|h| h.set(yes));
}
#[inline]
pub fn held() -> bool {
    HELD.with(|h| h.get())
}
/// A replica (true) hides expired keys and waits for its master's DEL; a master deletes
/// them.
pub fn set_following(yes: bool) {
    FOLLOWING.with(|f| f.set(yes));
}
#[inline]
pub fn following() -> bool {
    FOLLOWING.with(|f| f.get())
}

/// While an AOF is replayed nothing expires (Redis's keyIsExpired and
/// checkAlreadyExpired while loading): `SET k v PXAT t` then `PERSIST k` keeps `k` even
/// when the file is replayed after `t`.
pub fn set_replaying(yes: bool) {
    REPLAYING.with(|r| r.set(yes));
}
#[inline]
pub fn replaying() -> bool {
    REPLAYING.with(|r| r.get())
}

/// Whether an absolute expiry time (unix ms) is already past for the running command.
#[inline]
pub fn already_expired(when: i64) -> bool {
    when <= now() && !replaying()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_time_per_outermost_command() {
        assert_eq!(DEPTH.with(|d| d.get()), 0);
        enter();
        let t = now();
        std::thread::sleep(std::time::Duration::from_millis(3));
        assert_eq!(now(), t, "the snapshot holds within the command");
        enter();
        assert_eq!(now(), t, "and in commands nested in it");
        leave();
        std::thread::sleep(std::time::Duration::from_millis(3));
        assert_eq!(now(), t, "until the outermost one ends");
        leave();
        assert!(now() > t, "outside a command: the clock");
        enter();
        assert!(now() > t, "the next command takes a new one");
        leave();
    }
}
