//! One stream of effects: what each change to the dataset becomes for the AOF and the
//! replicas (Redis's also_propagate / propagatePendingCommands).
//!
//! Every command, whoever runs it (a client, a script, EXEC, a blocked client served
//! later, a file replayed), goes through `commands::call`, which keeps the nesting depth.
//! A command that changed the dataset adds its own words to the current unit, or the
//! form its handler chose ([`Propagation::replace`]: EXPIRE becomes PEXPIREAT, SET EX
//! becomes SET PXAT, a served BLPOP becomes LPOP...), or nothing
//! ([`Propagation::prevent`], when the handler added its effects itself with
//! [`Propagation::push`]). Expired and evicted keys add a DEL (or UNLINK) the same way.
//! When the outermost call returns, the unit is delivered, wrapped in MULTI/EXEC when it
//! holds more than one command (a script's writes, a transaction, a write that expired a
//! key first).
//!
//! The stream is only built while some sink listens ([`Propagation::on`]): the AOF
//! ([`Propagation::feed_aof`]: its commands are appended to [`AofFeed::buf`], which the
//! persistence layer writes out before replies leave) and the recording sink of the
//! tests. With none, the hot path pays one flag test per write.

/// Where a command goes: the AOF, the replicas, or both.
pub const AOF: u8 = 1;
pub const REPL: u8 = 2;
pub const ALL: u8 = AOF | REPL;

/// One command of the stream: the database it applies to, its words (RESP-encoded) and
/// where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub db: usize,
    pub resp: Vec<u8>,
    pub target: u8,
}

#[derive(Default)]
pub struct Propagation {
    /// The commands of the current unit, encoded back to back: (db, start, end, target).
    buf: Vec<u8>,
    ops: Vec<(usize, usize, usize, u8)>,
    /// The running command's replacement (encoded), set by its handler.
    replaced: Option<Vec<u8>>,
    /// The running command propagates nothing of its own.
    prevented: bool,
    /// Targets the running command propagates to even when it changed nothing.
    forced: u8,
    /// Targets withheld from the commands that run now (a script's redis.set_repl).
    pub withheld: u8,
    /// The recording sink (tests): every delivered command, in order.
    log: Option<Vec<Op>>,
    /// The running command touches arbitrary keys (SCAN, RANDOMKEY): the expired keys it
    /// deletes are not wrapped in MULTI/EXEC when it runs directly (Redis's
    /// CMD_TOUCHES_ARBITRARY_KEYS).
    no_wrap: bool,
    /// The AOF sink (None: the AOF is off). Set only through `feed_aof`, which keeps
    /// `listening` in step.
    aof: Option<AofFeed>,
    /// The replicas' sink (None: no replication backlog yet). Set only through
    /// `feed_repl`, which keeps `listening` in step.
    repl: Option<ReplFeed>,
    /// Some sink listens (`log`, `aof`, or `repl` taking commands): one flag for the hot
    /// path.
    listening: bool,
    /// What the commands under way saved of their callers' state: one per nesting level
    /// of `commands::call` (empty: no command is running).
    frames: Vec<Frame>,
}

/// What `call` saves of an outer command while an inner one runs.
struct Frame {
    /// The server's change counter when the command started (it changed the dataset if
    /// the counter moved).
    dirty: u64,
    replaced: Option<Vec<u8>>,
    prevented: bool,
    forced: u8,
}

use crate::resp::client::encode_command as encode;

/// What the AOF is fed: the commands delivered since the last write to the file, in the
/// AOF's own form (a SELECT where the database changes, `#TS:` annotations when
/// aof-timestamp-enabled), as Redis's feedAppendOnlyFile builds its aof_buf.
#[derive(Default)]
pub struct AofFeed {
    pub buf: Vec<u8>,
    /// The database the file's last command applies to (None: the next one SELECTs).
    pub selected: Option<usize>,
    /// aof-timestamp-enabled, and the last annotation's unix time.
    pub timestamps: bool,
    pub last_ts: i64,
    /// Something was appended since the replies were last released: the reactor holds
    /// replies until the buffer is written (and, with appendfsync always, synced).
    pub hold: bool,
}

impl AofFeed {
    fn append(&mut self, db: usize, resp: &[u8]) {
        if self.timestamps {
            let now = crate::util::now_ms() / 1000;
            if now > self.last_ts {
                self.last_ts = now;
                self.buf
                    .extend_from_slice(format!("#TS:{now}\r\n").as_bytes());
            }
        }
        if self.selected != Some(db) {
            let mut n = itoa::Buffer::new();
            encode(
                &mut self.buf,
                [&b"SELECT"[..], n.format(db).as_bytes()].into_iter(),
            );
            self.selected = Some(db);
        }
        self.buf.extend_from_slice(resp);
        self.hold = true;
    }
}

/// What the replicas are fed (the replication layer moves it into the backlog and the
/// replicas' buffers): the commands delivered since it last took them, with a SELECT
/// where the database changes, as Redis's replicationFeedSlaves writes them.
#[derive(Default)]
pub struct ReplFeed {
    pub buf: Vec<u8>,
    /// The database the stream's last command applies to (None: the next one SELECTs).
    pub selected: Option<usize>,
    /// Commands run here feed it (a master). A replica's feed takes only what it proxies
    /// of its own master's stream ([`Propagation::repl_raw`]).
    pub commands: bool,
}

impl ReplFeed {
    fn append(&mut self, db: usize, resp: &[u8]) {
        if self.selected != Some(db) {
            let mut n = itoa::Buffer::new();
            encode(
                &mut self.buf,
                [&b"SELECT"[..], n.format(db).as_bytes()].into_iter(),
            );
            self.selected = Some(db);
        }
        self.buf.extend_from_slice(resp);
    }
}

impl Propagation {
    /// Some sink wants the stream.
    #[inline]
    pub fn on(&self) -> bool {
        self.listening
    }

    /// Start recording every delivered command (tests).
    pub fn record(&mut self) {
        self.log = Some(Vec::new());
        self.listening = true;
    }

    /// Start (Some) or stop (None) feeding the AOF; returns the feed it replaces.
    pub fn feed_aof(&mut self, feed: Option<AofFeed>) -> Option<AofFeed> {
        let old = std::mem::replace(&mut self.aof, feed);
        self.relisten();
        old
    }

    fn relisten(&mut self) {
        self.listening = self.log.is_some()
            || self.aof.is_some()
            || self.repl.as_ref().is_some_and(|r| r.commands);
    }

    /// Start (Some) or stop (None) feeding the replicas; returns the feed it replaces.
    pub fn feed_repl(&mut self, feed: Option<ReplFeed>) -> Option<ReplFeed> {
        let old = std::mem::replace(&mut self.repl, feed);
        self.relisten();
        old
    }

    /// The replicas' sink, when they are fed.
    #[inline]
    pub fn repl(&self) -> Option<&ReplFeed> {
        self.repl.as_ref()
    }

    #[inline]
    pub fn repl_mut(&mut self) -> Option<&mut ReplFeed> {
        self.repl.as_mut()
    }

    /// Whether commands run here feed the replicas (so an offset moves with each write).
    #[inline]
    pub fn repl_commands(&self) -> bool {
        self.repl.as_ref().is_some_and(|r| r.commands)
    }

    /// A command for the replicas alone, in database `db` (a key found expired at
    /// startup, deleted on the replicas too).
    pub fn repl_command<'a>(&mut self, db: usize, words: impl ExactSizeIterator<Item = &'a [u8]>) {
        if let Some(r) = self.repl.as_mut() {
            let mut v = Vec::new();
            encode(&mut v, words);
            r.append(db, &v);
        }
    }

    /// Bytes for the replicas that are no command of this server's (a PING keepalive, a
    /// GETACK, a replica's proxied master stream): appended as they are.
    pub fn repl_raw(&mut self, bytes: &[u8]) {
        if let Some(r) = self.repl.as_mut() {
            r.buf.extend_from_slice(bytes);
        }
    }

    /// The AOF sink, when the AOF is fed.
    #[inline]
    pub fn aof(&self) -> Option<&AofFeed> {
        self.aof.as_ref()
    }

    #[inline]
    pub fn aof_mut(&mut self) -> Option<&mut AofFeed> {
        self.aof.as_mut()
    }

    /// Replies wait for the AOF buffer to be written.
    #[inline]
    pub fn aof_hold(&self) -> bool {
        self.aof.as_ref().is_some_and(|a| a.hold)
    }

    /// The commands delivered since recording started (or last taken).
    pub fn take_log(&mut self) -> Vec<Op> {
        self.log.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Add a command to the current unit (alsoPropagate).
    pub fn push<'a>(&mut self, db: usize, words: impl ExactSizeIterator<Item = &'a [u8]>) {
        if !self.on() {
            return;
        }
        let target = ALL & !self.withheld;
        if target == 0 {
            return;
        }
        let start = self.buf.len();
        encode(&mut self.buf, words);
        self.ops.push((db, start, self.buf.len(), target));
    }

    /// The running command propagates as `words` instead of its own.
    pub fn replace<'a>(&mut self, words: impl ExactSizeIterator<Item = &'a [u8]>) {
        if !self.on() {
            return;
        }
        let mut v = Vec::new();
        encode(&mut v, words);
        self.replaced = Some(v);
        self.prevented = false;
    }

    /// The running command propagates nothing of its own (it pushed its effects).
    #[inline]
    pub fn prevent(&mut self) {
        if self.on() {
            self.prevented = true;
        }
    }

    /// The running command propagates to `target` even if it changed nothing (FLUSHALL
    /// of an empty server; PUBLISH, to the replicas).
    #[inline]
    pub fn force(&mut self, target: u8) {
        if self.on() {
            self.forced |= target;
        }
    }

    /// A command is about to run (callers test `on()` first: while no sink listens
    /// nothing is saved, counted or compared, and the hot path pays that one test). Each
    /// `enter` is matched by a `leave`.
    #[cold]
    #[inline(never)]
    pub fn enter(&mut self, dirty: u64) {
        let frame = Frame {
            dirty,
            replaced: self.replaced.take(),
            prevented: std::mem::replace(&mut self.prevented, false),
            forced: std::mem::replace(&mut self.forced, 0),
        };
        self.frames.push(frame);
    }

    /// The command ran (`ran`: false for a blocked command that is still waiting): `words`
    /// (its own arguments) join the unit when it changed the dataset (`dirty`, the change
    /// counter now, moved since `enter`), unless its handler replaced or prevented them. After the outermost one the unit is
    /// delivered.
    #[cold]
    #[inline(never)]
    pub fn leave<'a>(
        &mut self,
        db: usize,
        dirty: u64,
        ran: bool,
        words: impl ExactSizeIterator<Item = &'a [u8]>,
    ) {
        let Some(frame) = self.frames.pop() else {
            return;
        };
        let changed = ran && dirty != frame.dirty;
        let replaced = std::mem::replace(&mut self.replaced, frame.replaced);
        let prevented = std::mem::replace(&mut self.prevented, frame.prevented);
        let forced = std::mem::replace(&mut self.forced, frame.forced);
        let target = (if changed { ALL } else { 0 } | forced) & !self.withheld;
        if target != 0 && !prevented && self.on() {
            let start = self.buf.len();
            match replaced {
                Some(r) => self.buf.extend_from_slice(&r),
                None => encode(&mut self.buf, words),
            }
            self.ops.push((db, start, self.buf.len(), target));
        }
        if self.frames.is_empty() {
            if !self.ops.is_empty() {
                self.deliver();
            }
            self.no_wrap = false;
        }
    }

    /// A key deleted by expiry or eviction: DEL, or UNLINK when freed lazily. Outside a
    /// command it is delivered at once.
    pub fn deletion(&mut self, db: usize, key: &[u8], lazy: bool) {
        if !self.on() {
            return;
        }
        // Never withheld (redis.set_repl): a replica must not keep what its master
        // deleted.
        let cmd: &[u8] = if lazy { b"UNLINK" } else { b"DEL" };
        let start = self.buf.len();
        encode(&mut self.buf, [cmd, key].into_iter());
        self.ops.push((db, start, self.buf.len(), ALL));
        if self.frames.is_empty() {
            self.deliver();
        }
    }

    /// The running command touches arbitrary keys (see `no_wrap`); only a command run
    /// directly (not from a script or a transaction) counts.
    pub fn touches_arbitrary_keys(&mut self) {
        if self.on() && self.frames.len() == 1 {
            self.no_wrap = true;
        }
    }

    /// Hand the unit to the sinks: MULTI/EXEC around it when it has several commands.
    fn deliver(&mut self) {
        let wrap = self.ops.len() > 1 && !std::mem::take(&mut self.no_wrap);
        if let Some(repl) = self.repl.as_mut().filter(|r| r.commands) {
            if wrap {
                repl.append(self.ops[0].0, b"*1\r\n$5\r\nMULTI\r\n");
            }
            for &(db, start, end, target) in &self.ops {
                if target & REPL != 0 {
                    repl.append(db, &self.buf[start..end]);
                }
            }
            if wrap {
                repl.append(self.ops[self.ops.len() - 1].0, b"*1\r\n$4\r\nEXEC\r\n");
            }
        }
        if let Some(aof) = self.aof.as_mut() {
            if wrap {
                aof.append(self.ops[0].0, b"*1\r\n$5\r\nMULTI\r\n");
            }
            for &(db, start, end, target) in &self.ops {
                if target & AOF != 0 {
                    aof.append(db, &self.buf[start..end]);
                }
            }
            if wrap {
                aof.append(self.ops[self.ops.len() - 1].0, b"*1\r\n$4\r\nEXEC\r\n");
            }
        }
        let Some(log) = self.log.as_mut() else {
            self.ops.clear();
            self.buf.clear();
            return;
        };
        if wrap {
            let mut resp = Vec::new();
            encode(&mut resp, [&b"MULTI"[..]].into_iter());
            log.push(Op {
                db: self.ops[0].0,
                resp,
                target: ALL,
            });
        }
        for &(db, start, end, target) in &self.ops {
            log.push(Op {
                db,
                resp: self.buf[start..end].to_vec(),
                target,
            });
        }
        if wrap {
            let mut resp = Vec::new();
            encode(&mut resp, [&b"EXEC"[..]].into_iter());
            let db = self.ops[self.ops.len() - 1].0;
            log.push(Op {
                db,
                resp,
                target: ALL,
            });
        }
        self.ops.clear();
        self.buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(op: &Op) -> String {
        crate::testkit::words(&op.resp)
    }

    #[test]
    fn nothing_is_built_without_a_sink() {
        let mut p = Propagation::default();
        p.push(0, [&b"DEL"[..], b"k"].into_iter());
        p.prevent();
        p.force(ALL);
        p.replace([&b"SET"[..], b"k", b"v"].into_iter());
        assert!(p.buf.is_empty() && p.ops.is_empty() && p.frames.is_empty());
        assert!(!p.prevented && p.forced == 0 && p.replaced.is_none());
    }

    #[test]
    fn units_are_wrapped_and_replacements_stay_with_their_command() {
        let mut p = Propagation::default();
        p.record();
        // One write: delivered alone.
        p.enter(0);
        p.leave(0, 1, true, [&b"SET"[..], b"k", b"v"].into_iter());
        // A read: nothing.
        p.enter(0);
        p.leave(0, 0, true, [&b"GET"[..], b"k"].into_iter());
        // An outer command (EXEC) that propagates nothing itself, with two inner writes,
        // the first rewritten by its handler.
        p.enter(0);
        p.prevent();
        p.enter(0);
        p.replace([&b"PEXPIREAT"[..], b"k", b"1000"].into_iter());
        p.leave(0, 1, true, [&b"EXPIRE"[..], b"k", b"1"].into_iter());
        p.enter(0);
        p.leave(1, 1, true, [&b"INCR"[..], b"n"].into_iter());
        p.leave(1, 1, true, [&b"EXEC"[..]].into_iter());
        // An expiry outside any command.
        p.deletion(2, b"gone", true);
        let log: Vec<(usize, String)> = p.take_log().iter().map(|o| (o.db, words(o))).collect();
        let want = [
            (0, "SET k v"),
            (0, "MULTI"),
            (0, "PEXPIREAT k 1000"),
            (1, "INCR n"),
            (1, "EXEC"),
            (2, "UNLINK gone"),
        ];
        assert_eq!(
            log,
            want.iter()
                .map(|(d, s)| (*d, s.to_string()))
                .collect::<Vec<_>>()
        );
    }
}

/// The stream as commands produce it, through the real command table and `execute`.
#[cfg(test)]
mod stream_tests {
    use crate::testkit::Kit;

    fn kit() -> (Kit, usize) {
        let mut k = Kit::new();
        k.srv.data.prop.record();
        let c = k.client();
        (k, c)
    }

    #[test]
    fn writes_propagate_reads_do_not() {
        let (mut k, c) = kit();
        k.run(c, &["SET", "k", "v"]);
        k.run(c, &["GET", "k"]);
        k.run(c, &["DEL", "nothing"]);
        k.run(c, &["SELECT", "3"]);
        k.run(c, &["RPUSH", "l", "a", "b"]);
        assert_eq!(k.propagated(), ["0: SET k v", "3: RPUSH l a b"]);
    }

    #[test]
    fn transactions_and_scripts_are_wrapped_when_they_write_more_than_once() {
        let (mut k, c) = kit();
        for w in [
            &["MULTI"][..],
            &["SET", "a", "1"],
            &["GET", "a"],
            &["INCR", "n"],
            &["EXEC"],
        ] {
            k.run(c, w);
        }
        assert_eq!(
            k.propagated(),
            ["0: MULTI", "0: SET a 1", "0: INCR n", "0: EXEC"]
        );
        k.run(
            c,
            &[
                "EVAL",
                "redis.call('SET', 'x', '1') return redis.call('INCR', 'y')",
                "0",
            ],
        );
        k.run(c, &["EVAL", "return redis.call('GET', 'x')", "0"]);
        k.run(c, &["EVAL", "return redis.call('INCR', 'y')", "0"]);
        assert_eq!(
            k.propagated(),
            [
                "0: MULTI",
                "0: SET x 1",
                "0: INCR y",
                "0: EXEC",
                "0: INCR y"
            ]
        );
        k.run(c, &["MULTI"]);
        k.run(
            c,
            &[
                "EVAL",
                "redis.call('SELECT', '2') return redis.call('SET', 's', '1')",
                "0",
            ],
        );
        k.run(c, &["SET", "after", "1"]);
        k.run(c, &["EXEC"]);
        assert_eq!(
            k.propagated(),
            ["2: MULTI", "2: SET s 1", "0: SET after 1", "0: EXEC"]
        );
    }

    /// The words of "db: WORDS" lines with the absolute times replaced by "T".
    fn timeless(lines: Vec<String>, now: i64) -> Vec<String> {
        lines
            .into_iter()
            .map(|l| {
                l.split(' ')
                    .map(|w| match w.parse::<i64>() {
                        Ok(t) if (now..now + 1_000_000_000).contains(&t) => "T".to_string(),
                        _ => w.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    #[test]
    fn relative_times_become_absolute_and_computed_values_are_sent_whole() {
        let (mut k, c) = kit();
        let now = crate::util::now_ms();
        for w in [
            &["SET", "a", "1", "EX", "100"][..],
            &["SET", "b", "1", "NX", "GET", "PX", "100"],
            &["SET", "c", "1", "XX", "GET"],
            &["SET", "c", "1", "GET", "KEEPTTL"],
            &["SETEX", "d", "100", "v"],
            &["PSETEX", "d", "100000", "v"],
            &["GETSET", "d", "w"],
            &["EXPIRE", "d", "100", "GT"],
            &["EXPIRE", "d", "100", "NX"],
            &["PEXPIRE", "d", "-1"],
            &["SET", "e", "1.5"],
            &["INCRBYFLOAT", "e", "0.25"],
            &["HINCRBYFLOAT", "h", "f", "2.5e1"],
            &["GETEX", "e", "PX", "5000"],
            &["GETEX", "e", "PERSIST"],
            &["GETEX", "e"],
            &["GETDEL", "e"],
        ] {
            k.run(c, w);
        }
        assert_eq!(
            timeless(k.propagated(), now),
            [
                "0: SET a 1 PXAT T",
                "0: SET b 1 PXAT T",
                "0: SET c 1 GET KEEPTTL",
                "0: SET d v PXAT T",
                "0: SET d v PXAT T",
                "0: SET d w",
                "0: PEXPIREAT d T NX",
                "0: DEL d",
                "0: SET e 1.5",
                "0: SET e 1.75 KEEPTTL",
                "0: HSET h f 25",
                "0: PEXPIREAT e T",
                "0: PERSIST e",
                "0: DEL e",
            ]
            .map(|l| l.replace(" GET KEEPTTL", " KEEPTTL"))
        );
    }

    #[test]
    fn pops_propagate_as_what_they_removed() {
        let (mut k, c) = kit();
        k.run(c, &["SADD", "s", "x"]);
        k.run(c, &["SPOP", "s"]);
        k.run(c, &["SADD", "s", "a", "b", "c"]);
        k.run(c, &["SPOP", "s", "2"]);
        k.run(c, &["SPOP", "s", "5"]);
        k.run(c, &["RPUSH", "l", "1", "2", "3"]);
        k.run(c, &["BLPOP", "l", "0"]);
        k.run(c, &["LMPOP", "1", "l", "RIGHT", "COUNT", "9"]);
        k.run(c, &["ZADD", "z", "1", "m", "2", "n"]);
        k.run(c, &["BZPOPMAX", "z", "0"]);
        k.run(c, &["ZMPOP", "1", "z", "MIN", "COUNT", "3"]);
        let log = k.propagated();
        let srem: Vec<&String> = log.iter().filter(|l| l.starts_with("0: SREM s ")).collect();
        assert_eq!(log[0], "0: SADD s x");
        assert_eq!(log[1], "0: SREM s x");
        assert_eq!(log[2], "0: SADD s a b c");
        assert_eq!((log[3].as_str(), log[6].as_str()), ("0: MULTI", "0: EXEC"));
        assert_eq!(srem.len(), 3, "{log:?}");
        assert_eq!(
            log[7..],
            [
                "0: DEL s",
                "0: RPUSH l 1 2 3",
                "0: LPOP l",
                "0: RPOP l 2",
                "0: ZADD z 1 m 2 n",
                "0: ZPOPMAX z",
                "0: ZPOPMIN z 1",
            ]
        );
    }

    #[test]
    fn served_blocked_clients_propagate_the_plain_command() {
        let (mut k, c) = kit();
        let waiter = k.client();
        let mover = k.client();
        k.run(waiter, &["BRPOP", "q", "0"]);
        k.run(mover, &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"]);
        assert_eq!(k.propagated(), Vec::<String>::new());
        k.run(c, &["LPUSH", "q", "job"]);
        k.run(c, &["RPUSH", "src", "x"]);
        assert_eq!(
            k.propagated(),
            [
                "0: LPUSH q job",
                "0: RPOP q",
                "0: RPUSH src x",
                "0: LMOVE src dst LEFT RIGHT",
            ]
        );
    }

    #[test]
    fn expired_and_evicted_keys_propagate_their_deletion() {
        let (mut k, c) = kit();
        k.run(c, &["SET", "gone", "1", "PX", "1"]);
        k.run(c, &["SET", "also", "1", "PX", "1"]);
        k.propagated();
        std::thread::sleep(std::time::Duration::from_millis(5));
        // A read that finds the key expired: the DEL alone.
        k.run(c, &["GET", "gone"]);
        assert_eq!(k.propagated(), ["0: DEL gone"]);
        // A write over an expired key: the DEL first, with the write, as one unit.
        k.srv.cfg.lazyfree_lazy_expire = true;
        k.run(c, &["SET", "also", "2"]);
        assert_eq!(
            k.propagated(),
            ["0: MULTI", "0: UNLINK also", "0: SET also 2", "0: EXEC"]
        );
        // Eviction before a command: delivered at once, before the command's own.
        k.run(c, &["SET", "big", &"x".repeat(100_000)]);
        k.propagated();
        k.run(c, &["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]);
        k.run(c, &["CONFIG", "SET", "maxmemory", "1"]);
        k.run(c, &["GET", "big"]);
        let log = k.propagated();
        assert!(log.contains(&"0: DEL big".to_string()), "{log:?}");
    }

    #[test]
    fn targets_follow_publish_flush_and_set_repl() {
        let (mut k, c) = kit();
        k.run(c, &["PUBLISH", "ch", "m"]);
        k.run(c, &["FLUSHALL"]);
        k.run(c, &["SET", "t", "1", "PX", "1"]);
        k.propagated();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let script = "redis.call('SET', 'a', '1')
            redis.set_repl(redis.REPL_AOF) redis.call('SET', 'b', '1')
            redis.set_repl(redis.REPL_NONE) redis.call('SET', 'c', '1') redis.call('GET', 't')
            redis.set_repl(redis.REPL_REPLICA) redis.call('SET', 'd', '1')";
        k.run(c, &["EVAL", script, "0"]);
        assert_eq!(
            k.propagated(),
            [
                "0: MULTI",
                "0: SET a 1",
                "0: SET b 1 [aof]",
                "0: DEL t",
                "0: SET d 1 [repl]",
                "0: EXEC"
            ]
        );
        k.run(c, &["PUBLISH", "ch", "m"]);
        assert_eq!(k.propagated(), ["0: PUBLISH ch m [repl]"]);
    }

    #[test]
    fn streams_propagate_deterministically() {
        let (mut k, c) = kit();
        k.run(c, &["XADD", "s", "5-1", "f", "v"]);
        k.run(c, &["XADD", "s", "*", "f", "v"]);
        k.run(
            c,
            &["XADD", "s", "MAXLEN", "~", "1", "9999999999999-*", "f", "v"],
        );
        k.run(c, &["XTRIM", "s", "MAXLEN", "=", "2"]);
        k.run(c, &["XGROUP", "CREATE", "s", "g", "0"]);
        let log = k.propagated();
        assert_eq!(log[0], "0: XADD s 5-1 f v");
        assert!(
            log[1].starts_with("0: XADD s ") && !log[1].contains('*'),
            "{log:?}"
        );
        // Nothing was cut (a node is whole), so = 3, the length it kept.
        assert_eq!(log[2], "0: XADD s MAXLEN = 3 9999999999999-0 f v");
        assert_eq!(log[3], "0: XTRIM s MAXLEN = 2");
        assert_eq!(log[4], "0: XGROUP CREATE s g 0");
        k.run(
            c,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "alice",
                "COUNT",
                "1",
                "STREAMS",
                "s",
                ">",
            ],
        );
        let log = k.propagated();
        assert_eq!(log.len(), 1, "{log:?}");
        let w: Vec<&str> = log[0].split(' ').collect();
        assert_eq!(w[1..6], ["XCLAIM", "s", "g", "alice", "0"]);
        assert_eq!(w[7], "TIME");
        assert_eq!(
            w[9..],
            ["RETRYCOUNT", "1", "FORCE", "JUSTID", "LASTID", w[6]]
        );
        k.run(
            c,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "bob",
                "NOACK",
                "STREAMS",
                "s",
                ">",
            ],
        );
        let log = k.propagated();
        assert_eq!(log[0], "0: MULTI");
        assert_eq!(log[1], "0: XGROUP CREATECONSUMER s g bob");
        assert_eq!(log[2], "0: XGROUP SETID s g 9999999999999-0 ENTRIESREAD 3");
        assert_eq!(log[3], "0: EXEC");
        // Reading history changes nothing to propagate; nor does reading nothing new.
        k.run(
            c,
            &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"],
        );
        k.run(
            c,
            &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"],
        );
        assert_eq!(k.propagated(), Vec::<String>::new());
        let pending = &w[6];
        k.run(c, &["XCLAIM", "s", "g", "carol", "0", pending]);
        let log = k.propagated();
        assert!(
            log[0].starts_with(&format!("0: XCLAIM s g carol 0 {pending} TIME ")),
            "{log:?}"
        );
        assert!(
            log[0].contains(" RETRYCOUNT 3 FORCE JUSTID LASTID 9999999999999-0"),
            "{log:?}"
        );
        k.run(c, &["XAUTOCLAIM", "s", "g", "dave", "0", "0"]);
        let log = k.propagated();
        assert!(
            log[0].starts_with(&format!("0: XCLAIM s g dave 0 {pending} TIME ")),
            "{log:?}"
        );
    }

    #[test]
    fn restore_propagates_an_absolute_ttl() {
        let (mut k, c) = kit();
        k.run(c, &["SET", "k", "v"]);
        let dump = k.run_bytes(c, &[b"DUMP", b"k"]);
        // "$<len>\r\n<payload>\r\n"
        let start = dump.iter().position(|&b| b == b'\n').unwrap() + 1;
        let payload = &dump[start..dump.len() - 2];
        let now = crate::util::now_ms();
        k.run_bytes(c, &[b"RESTORE", b"r", b"100000", payload]);
        k.run_bytes(c, &[b"RESTORE", b"r", b"-5", payload, b"REPLACE"]);
        k.run_bytes(c, &[b"RESTORE", b"r", b"0", payload, b"REPLACE"]);
        k.run_bytes(c, &[b"RESTORE", b"r", b"1", payload, b"REPLACE", b"ABSTTL"]);
        let log = timeless(k.propagated(), now);
        assert_eq!(log[0], "0: SET k v");
        assert!(
            log[1].starts_with("0: RESTORE r T ") && log[1].ends_with(" ABSTTL"),
            "{log:?}"
        );
        assert!(log[2].starts_with("0: RESTORE r 0 "), "{log:?}");
        // Already expired: the key it replaced is deleted, and that is what propagates.
        assert_eq!(log[3], "0: DEL r");
        assert_eq!(log.len(), 4, "{log:?}");
    }
}
