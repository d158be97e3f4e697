//! The Lua debugger (LDB), as Redis 7.0 has it: `SCRIPT DEBUG YES|SYNC|NO`, then the
//! client's next EVAL runs under a line hook that stops the script and converses with the
//! client (step, continue, breakpoints, locals, eval, redis commands, trace, abort).
//!
//! The conversation happens outside the event loop, on the client's own connection, with
//! blocking I/O: in SYNC mode the whole server waits (as Redis's does); in YES mode the
//! server forks, the parent closes its side of the client and goes on serving, and the
//! child runs the debugging session and exits (its writes are thrown away with it).
//!
//! Each stop sends the session's log lines as one array of simple strings; the client
//! sends commands as RESP arrays. When the script ends the log ends with `<endsession>`,
//! then comes the EVAL's reply, and the connection closes.
//!
//! The session lives in a thread-local, reached from the line hook, from `redis.call`
//! (which logs the commands and replies while stepping) and from `redis.debug()` /
//! `redis.breakpoint()`. Every Lua error raised here is raised at the outermost level of
//! a C function or hook, with no Rust value alive (lua_error unwinds with longjmp).
use crate::commands::server::repr;
use crate::server::Server;
use mlua::ffi;
use std::cell::RefCell;
use std::ffi::{c_int, CStr};
use std::time::{Duration, Instant};

/// How a client's EVALs run (SCRIPT DEBUG).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LdbMode {
    #[default]
    Off,
    /// SCRIPT DEBUG YES: each EVAL debugs in a forked child.
    Fork,
    /// SCRIPT DEBUG SYNC: the server itself stops while the client debugs.
    Sync,
}

const MAX_LEN_DEFAULT: usize = 256;
const BREAKPOINTS_MAX: usize = 64;
/// How long a write to the debugging client may wait (Redis's send timeout).
const SEND_TIMEOUT_MS: i32 = 5000;
/// Input the debugger holds before it gives up on a client (Redis's 1 MB).
const MAX_INPUT: usize = 1 << 20;
/// Tables nested deeper than this are not printed (LUA_MINSTACK / 2).
const MAX_VALUE_DEPTH: usize = 10;
/// Registry name of the sandbox environment (eval'd code and KEYS/ARGV lookups use it).
pub const ENV: &std::ffi::CStr = c"ferrokv_env";

struct Session {
    srv: *mut Server,
    client: usize,
    src: Vec<Vec<u8>>,
    logs: Vec<Vec<u8>>,
    /// Stop at the next line (and log redis.call commands and replies meanwhile).
    step: bool,
    /// redis.breakpoint() was called: stop at the next line.
    luabp: bool,
    bp: Vec<i32>,
    /// Client input not yet consumed.
    cbuf: Vec<u8>,
    maxlen: usize,
    maxlen_hint_sent: bool,
    currentline: i32,
    /// Since the last stop: past busy-reply-threshold the script stops ("timeout").
    since: Instant,
    limit: Duration,
}

thread_local! {
    static LDB: RefCell<Option<Session>> = const { RefCell::new(None) };
}

fn with<R>(f: impl FnOnce(&mut Session) -> R) -> Option<R> {
    LDB.with(|l| l.borrow_mut().as_mut().map(f))
}

/// A debugging session is running.
pub fn active() -> bool {
    LDB.with(|l| l.borrow().is_some())
}

/// Start a session for the EVAL of `body` by the client at slab index `client`.
pub fn start(srv: &mut Server, client: usize, body: &[u8]) {
    let mut body = body;
    while let [rest @ .., b'\n' | b'\r'] = body {
        body = rest;
    }
    let threshold = srv.cfg.busy_reply_threshold;
    let limit = Duration::from_millis(if threshold > 0 {
        threshold as u64
    } else {
        5000
    });
    let session = Session {
        srv,
        client,
        src: body.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect(),
        logs: Vec::new(),
        step: true,
        luabp: false,
        bp: Vec::new(),
        cbuf: Vec::new(),
        maxlen: MAX_LEN_DEFAULT,
        maxlen_hint_sent: false,
        currentline: 0,
        since: Instant::now(),
        limit,
    };
    LDB.with(|l| *l.borrow_mut() = Some(session));
}

/// End the session: the remaining log and `<endsession>` go to the client.
pub fn end() {
    with(|s| {
        s.logs.push(b"<endsession>".to_vec());
        send_logs(s);
    });
    LDB.with(|l| *l.borrow_mut() = None);
}

impl Session {
    fn log(&mut self, entry: impl Into<Vec<u8>>) {
        self.logs.push(entry.into());
    }

    /// Log an entry cut at `maxlen` (with a hint the first time).
    fn log_trimmed(&mut self, mut entry: Vec<u8>) {
        let mut trimmed = false;
        if self.maxlen > 0 && entry.len() > self.maxlen {
            entry.truncate(self.maxlen);
            entry.extend_from_slice(b" ...");
            trimmed = true;
        }
        self.logs.push(entry);
        if trimmed && !self.maxlen_hint_sent {
            self.maxlen_hint_sent = true;
            self.log("<hint> The reply above was trimmed. Use 'maxlen 0' to show it whole.");
        }
    }

    fn source_line(&self, line: i32) -> &[u8] {
        match usize::try_from(line - 1).ok().and_then(|i| self.src.get(i)) {
            Some(l) => l,
            None => b"<out of range source code line>",
        }
    }

    fn log_source_line(&mut self, line: i32) {
        let bp = self.bp.contains(&line);
        let prefix = match (line == self.currentline, bp) {
            (true, true) => "->#",
            (true, false) => "-> ",
            (false, true) => "  #",
            (false, false) => "   ",
        };
        let mut e = format!("{prefix}{line:<3} ").into_bytes();
        e.extend_from_slice(self.source_line(line));
        self.log(e);
    }

    fn list(&mut self, around: i32, context: i32) {
        for j in 1..=self.src.len() as i32 {
            if around == 0 || (around - j).abs() <= context {
                self.log_source_line(j);
            }
        }
    }

    fn break_command(&mut self, argv: &[Vec<u8>]) {
        if argv.len() == 1 {
            if self.bp.is_empty() {
                return self.log("No breakpoints set. Use 'b <line>' to add one.");
            }
            self.log(format!("{} breakpoints set:", self.bp.len()));
            for line in self.bp.clone() {
                self.log_source_line(line);
            }
            return;
        }
        for arg in &argv[1..] {
            let Some(line) = crate::util::parse_i64(arg) else {
                let mut e = b"Invalid argument:'".to_vec();
                e.extend_from_slice(arg);
                e.push(b'\'');
                self.log(e);
                continue;
            };
            if line == 0 {
                self.bp.clear();
                self.log("All breakpoints removed.");
            } else if line > 0 {
                if self.bp.len() == BREAKPOINTS_MAX {
                    self.log("Too many breakpoints set.");
                } else if line <= self.src.len() as i64 && !self.bp.contains(&(line as i32)) {
                    self.bp.push(line as i32);
                    self.list(line as i32, 1);
                } else {
                    self.log("Wrong line number.");
                }
            } else if let Some(i) = self.bp.iter().position(|&b| i64::from(b) == -line) {
                self.bp.remove(i);
                self.log("Breakpoint removed.");
            } else {
                self.log("No breakpoint in the specified line.");
            }
        }
    }

    fn maxlen_command(&mut self, argv: &[Vec<u8>]) {
        if argv.len() == 2 {
            let n = atoi(&argv[1]);
            self.maxlen_hint_sent = true;
            self.maxlen = if n != 0 && n <= 60 { 60 } else { n as usize };
        }
        if self.maxlen > 0 {
            self.log(format!(
                "<value> replies are truncated at {} bytes.",
                self.maxlen
            ));
        } else {
            self.log("<value> replies are unlimited.");
        }
    }

    /// Parse one command (a RESP array of bulk strings, each 1..=1024 bytes, at most
    /// 1024 of them) from the input: Ok(None) when more input is needed.
    fn parse_command(&mut self) -> Result<Option<Vec<Vec<u8>>>, ()> {
        let buf = &self.cbuf;
        let Some(star) = memchr::memchr(b'*', buf) else {
            return if buf.is_empty() { Ok(None) } else { Err(()) };
        };
        let mut p = star + 1;
        let line = |p: &mut usize| -> Option<i64> {
            let end = memchr::memmem::find(&buf[*p..], b"\r\n")? + *p;
            let n = atoi(&buf[*p..end]);
            *p = end + 2;
            Some(n)
        };
        let Some(argc) = line(&mut p) else {
            return Ok(None);
        };
        if !(1..=1024).contains(&argc) {
            return Err(());
        }
        let mut argv = Vec::with_capacity(argc as usize);
        while argv.len() < argc as usize {
            match buf.get(p) {
                None => return Ok(None),
                Some(b'$') => p += 1,
                Some(_) => return Err(()),
            }
            let Some(len) = line(&mut p) else {
                return Ok(None);
            };
            if !(1..=1024).contains(&len) {
                return Err(());
            }
            let len = len as usize;
            if buf.len() < p + len + 2 {
                return Ok(None);
            }
            argv.push(buf[p..p + len].to_vec());
            if &buf[p + len..p + len + 2] != b"\r\n" {
                return Err(());
            }
            p += len + 2;
        }
        self.cbuf.drain(..p);
        Ok(Some(argv))
    }
}

/// C's atoi: an optional sign and the digits that follow; 0 when there are none.
fn atoi(b: &[u8]) -> i64 {
    let s = b.trim_ascii_start();
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for &c in digits.iter().take_while(|c| c.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(i64::from(c - b'0'));
    }
    if neg {
        -n
    } else {
        n
    }
}

/// Send the log as an array of simple strings (newlines become spaces). Write errors are
/// left to the next read to find, as the connection is then gone.
fn send_logs(s: &mut Session) {
    let mut proto = format!("*{}\r\n", s.logs.len()).into_bytes();
    for e in s.logs.drain(..) {
        proto.push(b'+');
        proto.extend(
            e.iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
        );
        proto.extend_from_slice(b"\r\n");
    }
    // SAFETY: the server outlives the session, and nothing else uses it while the
    // debugger runs (the event loop is not served during a session).
    let srv = unsafe { &mut *s.srv };
    if let Some(conn) = srv
        .net
        .clients
        .get_mut(s.client)
        .and_then(|c| c.conn.as_mut())
    {
        let _ = conn.write_all_blocking(&proto, SEND_TIMEOUT_MS);
    }
}

/// Wait for more input from the client. False when it is gone (closed, failed, or a
/// signal interrupted the wait: a shutdown then lets the script run to its end).
fn read_more(s: &mut Session) -> bool {
    // SAFETY: as in send_logs.
    let srv = unsafe { &mut *s.srv };
    match srv
        .net
        .clients
        .get_mut(s.client)
        .and_then(|c| c.conn.as_mut())
    {
        Some(conn) => matches!(conn.read_blocking(&mut s.cbuf), Ok(n) if n > 0),
        None => false,
    }
}

/// Log a command redis.call runs while stepping.
pub fn log_command(args: crate::resp::Args) {
    with(|s| {
        if !s.step {
            return;
        }
        let mut e = b"<redis>".to_vec();
        for (j, a) in args.iter().enumerate() {
            if j == 10 {
                e.extend_from_slice(format!(" ... ({} more)", args.len() - j).as_bytes());
                break;
            }
            e.push(b' ');
            e.extend_from_slice(a);
        }
        s.log(e);
    });
}

/// Log an error redis.call raises before running its command (unknown command,
/// refused by the script's rules) while stepping.
pub fn log_error(msg: &str) {
    with(|s| {
        if s.step {
            let msg = msg.strip_prefix("ERR ").unwrap_or(msg);
            s.log(format!("<error> {msg}"));
        }
    });
}

/// Log a command's reply (RESP as the server wrote it) in a human form while stepping.
pub fn log_reply(reply: &[u8]) {
    with(|s| {
        if s.step {
            let mut e = b"<reply> ".to_vec();
            let mut pos = 0;
            human(reply, &mut pos, &mut e, 0);
            s.log_trimmed(e);
        }
    });
}

/// One RESP value at `pos` into a readable form (Redis's ldbRedisProtocolToHuman).
fn human(buf: &[u8], pos: &mut usize, o: &mut Vec<u8>, depth: usize) {
    if *pos >= buf.len() || depth > 1000 {
        return;
    }
    let start = *pos;
    let end = memchr::memchr(b'\r', &buf[start..]).map_or(buf.len(), |i| start + i);
    let head = &buf[start + 1..end];
    *pos = (end + 2).min(buf.len());
    let n = crate::util::parse_i64(head).unwrap_or(0);
    let mut items = |o: &mut Vec<u8>, count: i64, sep: &[u8], pairs: bool| {
        for j in 0..count {
            human(buf, pos, o, depth + 1);
            if pairs {
                o.extend_from_slice(b" => ");
                human(buf, pos, o, depth + 1);
            }
            if j != count - 1 {
                o.extend_from_slice(sep);
            }
        }
    };
    match buf[start] {
        b':' | b'(' => o.extend_from_slice(head),
        b'$' | b'=' if n < 0 => o.extend_from_slice(b"NULL"),
        b'$' | b'=' => {
            let body = &buf[*pos..(*pos + n as usize).min(buf.len())];
            o.extend_from_slice(repr(body).as_bytes());
            *pos = (*pos + n as usize + 2).min(buf.len());
        }
        b'+' | b'-' => o.extend_from_slice(repr(&buf[start..end]).as_bytes()),
        b'*' | b'>' if n < 0 => o.extend_from_slice(b"NULL"),
        b'*' | b'>' => {
            o.push(b'[');
            items(o, n, b",", false);
            o.push(b']');
        }
        b'~' => {
            o.extend_from_slice(b"~(");
            items(o, n, b",", false);
            o.push(b')');
        }
        b'%' => {
            o.push(b'{');
            items(o, n, b",", true);
            o.push(b'}');
        }
        b'|' => {
            // An attribute annotates the reply after it: show that reply.
            let mut skipped = Vec::new();
            items(&mut skipped, n, b"", true);
            human(buf, pos, o, depth + 1);
        }
        b'_' => o.extend_from_slice(b"(null)"),
        b'#' => o.extend_from_slice(if head == b"t" { b"#true" } else { b"#false" }),
        b',' => {
            o.extend_from_slice(b"(double) ");
            o.extend_from_slice(head);
        }
        _ => {}
    }
}

/// The Lua value at `idx` in a readable form (Redis's ldbCatStackValue).
///
/// # Safety
/// `l` is a valid Lua state and `idx` a valid index on its stack.
unsafe fn cat_value(l: *mut ffi::lua_State, idx: c_int, level: usize, o: &mut Vec<u8>) {
    if level == MAX_VALUE_DEPTH {
        o.extend_from_slice(b"<max recursion level reached! Nested table?>");
        return;
    }
    let idx = if idx < 0 {
        ffi::lua_gettop(l) + idx + 1
    } else {
        idx
    };
    match ffi::lua_type(l, idx) {
        ffi::LUA_TSTRING => {
            let mut len = 0;
            let p = ffi::lua_tolstring(l, idx, &mut len);
            o.extend_from_slice(repr(std::slice::from_raw_parts(p as *const u8, len)).as_bytes());
        }
        ffi::LUA_TBOOLEAN => o.extend_from_slice(if ffi::lua_toboolean(l, idx) != 0 {
            b"true"
        } else {
            b"false"
        }),
        ffi::LUA_TNUMBER => {
            o.extend_from_slice(crate::util::fmt_g(ffi::lua_tonumber(l, idx), 6).as_bytes())
        }
        ffi::LUA_TNIL => o.extend_from_slice(b"nil"),
        ffi::LUA_TTABLE => {
            if ffi::lua_checkstack(l, 4) == 0 {
                o.extend_from_slice(b"<max recursion level reached! Nested table?>");
                return;
            }
            // Built both as an array and as a map; which one shows depends on the keys.
            let (mut as_array, mut as_map) = (Vec::new(), Vec::new());
            let mut expected = 1.0;
            let mut is_array = true;
            ffi::lua_pushnil(l);
            while ffi::lua_next(l, idx) != 0 {
                if is_array
                    && (ffi::lua_type(l, -2) != ffi::LUA_TNUMBER
                        || ffi::lua_tonumber(l, -2) != expected)
                {
                    is_array = false;
                }
                cat_value(l, -1, level + 1, &mut as_array);
                as_array.extend_from_slice(b"; ");
                as_map.push(b'[');
                cat_value(l, -2, level + 1, &mut as_map);
                as_map.extend_from_slice(b"]=");
                cat_value(l, -1, level + 1, &mut as_map);
                as_map.extend_from_slice(b"; ");
                ffi::lua_settop(l, -2);
                expected += 1.0;
            }
            let body = if is_array { as_array } else { as_map };
            o.push(b'{');
            o.extend_from_slice(&body[..body.len().saturating_sub(2)]);
            o.push(b'}');
        }
        t => {
            let name = match t {
                ffi::LUA_TFUNCTION => "function",
                ffi::LUA_TUSERDATA => "userdata",
                ffi::LUA_TTHREAD => "thread",
                ffi::LUA_TLIGHTUSERDATA => "light-userdata",
                _ => "unknown",
            };
            let p = ffi::lua_topointer(l, idx);
            o.extend_from_slice(format!("\"{name}@{p:p}\"").as_bytes());
        }
    }
}

/// What ended a conversation with the client.
enum Stop {
    /// Resume the script.
    Resume,
    /// The client is gone: the script runs on without stopping.
    Gone,
    /// Stop the script with this error.
    Raise(&'static str),
}

/// The line hook of a debugged script (Redis's luaLdbLineHook): stops when stepping, at
/// a breakpoint, after redis.breakpoint(), or when the script ran past the time limit
/// since the last stop; then talks with the client until it resumes the script.
///
/// # Safety
/// Installed by [`install_hook`] on a state that runs a debugged script.
unsafe extern "C-unwind" fn line_hook(l: *mut ffi::lua_State, ar: *mut ffi::lua_Debug) {
    let err = hook_body(l, ar);
    if let Some(msg) = err {
        raise(l, msg);
    }
}

/// Raise `{err = "ERR <msg>"}`, the shape of redis.call's errors.
///
/// # Safety
/// Called at the outermost Rust level of a C function or hook: nothing with a destructor
/// may be alive in the caller.
unsafe fn raise(l: *mut ffi::lua_State, msg: &'static str) -> ! {
    ffi::lua_createtable(l, 0, 1);
    let full = format!("ERR {msg}");
    ffi::lua_pushlstring(l, full.as_ptr() as *const _, full.len());
    drop(full);
    ffi::lua_setfield(l, -2, c"err".as_ptr());
    ffi::lua_error(l)
}

unsafe fn hook_body(l: *mut ffi::lua_State, ar: *mut ffi::lua_Debug) -> Option<&'static str> {
    let event = (*ar).event;
    ffi::lua_getstack(l, 0, ar);
    ffi::lua_getinfo(l, c"Sl".as_ptr(), ar);
    let line = (*ar).currentline;
    let user_code = CStr::from_ptr((*ar).short_src.as_ptr())
        .to_bytes()
        .windows(11)
        .any(|w| w == b"user_script");
    // Lines of other code (the sandbox's own Lua) are not the script's.
    if !user_code {
        return None;
    }
    let timeout = with(|s| {
        s.currentline = line;
        let bp = s.bp.contains(&line) || s.luabp;
        let mut timeout = false;
        if event == ffi::LUA_HOOKCOUNT && !s.step && !bp {
            if s.since.elapsed() < s.limit {
                return None;
            }
            timeout = true;
            s.step = true;
        }
        if !(s.step || bp) {
            return None;
        }
        let reason = if bp {
            if s.luabp {
                "redis.breakpoint() called"
            } else {
                "break point"
            }
        } else if timeout {
            "timeout reached, infinite loop?"
        } else {
            "step over"
        };
        s.step = false;
        s.luabp = false;
        s.log(format!("* Stopped at {line}, stop reason = {reason}"));
        s.log_source_line(line);
        send_logs(s);
        Some(timeout)
    })
    .flatten()?;
    let stop = repl(l);
    with(|s| s.since = Instant::now());
    crate::keyspace::clock::freeze();
    match stop {
        Stop::Resume => None,
        Stop::Gone if timeout => {
            Some("timeout during Lua debugging with client closing connection")
        }
        Stop::Gone => None,
        Stop::Raise(msg) => Some(msg),
    }
}

/// Read more of the client's input. A client that is gone leaves the script to run on
/// without stops; one that sends over MAX_INPUT without a whole command stops it.
fn more_input(s: &mut Session) -> Result<(), Stop> {
    if !read_more(s) {
        s.step = false;
        s.bp.clear();
        return Err(Stop::Gone);
    }
    if s.cbuf.len() > MAX_INPUT {
        s.cbuf = Vec::new();
        return Err(Stop::Raise("max client buffer reached"));
    }
    Ok(())
}

/// Serve debugger commands until one resumes the script.
unsafe fn repl(l: *mut ffi::lua_State) -> Stop {
    loop {
        let argv = loop {
            match with(Session::parse_command) {
                None => return Stop::Gone,
                Some(Err(())) => return Stop::Raise("protocol error"),
                Some(Ok(Some(argv))) => break argv,
                Some(Ok(None)) => match with(more_input) {
                    Some(Ok(())) => {}
                    Some(Err(stop)) => return stop,
                    None => return Stop::Gone,
                },
            }
        };
        let cmd = argv[0].to_ascii_lowercase();
        match cmd.as_slice() {
            b"s" | b"step" | b"n" | b"next" => {
                with(|s| s.step = true);
                return Stop::Resume;
            }
            b"c" | b"continue" => return Stop::Resume,
            b"a" | b"abort" => return Stop::Raise("script aborted for user request"),
            b"h" | b"help" => with(|s| {
                for line in HELP {
                    s.log(*line);
                }
            })
            .unwrap_or(()),
            b"t" | b"trace" => trace(l),
            b"m" | b"maxlen" => with(|s| s.maxlen_command(&argv)).unwrap_or(()),
            b"b" | b"break" => with(|s| s.break_command(&argv)).unwrap_or(()),
            b"e" | b"eval" => eval(l, &argv),
            b"r" | b"redis" if argv.len() > 1 => redis(l, &argv),
            b"p" | b"print" if argv.len() == 2 => print_var(l, &argv[1]),
            b"p" | b"print" => print_locals(l),
            b"l" | b"list" => with(|s| {
                let mut around = s.currentline;
                if let Some(n) = argv.get(1).map(|a| atoi(a)) {
                    if n > 0 {
                        around = n as i32;
                    }
                }
                let context = argv.get(2).map_or(5, |a| atoi(a) as i32);
                s.list(around, context);
            })
            .unwrap_or(()),
            b"w" | b"whole" => with(|s| s.list(1, 1_000_000)).unwrap_or(()),
            _ => with(|s| {
                s.log("<error> Unknown Redis Lua debugger command or wrong number of arguments.")
            })
            .unwrap_or(()),
        }
        with(send_logs);
    }
}

const HELP: &[&str] = &[
    "Lua debugger commands (the letter in brackets is the short form):",
    "[h]elp               This text.",
    "[s]tep               Run the current line, then stop.",
    "[n]ext               The same as step.",
    "[c]ontinue           Run until a breakpoint is reached.",
    "[l]ist               Show the source around the current line.",
    "[l]ist [line]        Show the source around [line] (0: the current line).",
    "[l]ist [line] [ctx]  ... with [ctx] lines before and after it.",
    "[w]hole              Show the whole source (list 1 1000000).",
    "[p]rint              Show the local variables.",
    "[p]rint <var>        Show one variable (KEYS and ARGV too).",
    "[b]reak              Show the breakpoints.",
    "[b]reak <line>       Set a breakpoint at <line>.",
    "[b]reak -<line>      Remove the breakpoint at <line>.",
    "[b]reak 0            Remove every breakpoint.",
    "[t]race              Show the call stack.",
    "[e]val <code>        Run Lua code (in a frame of its own).",
    "[r]edis <cmd>        Run a Redis command.",
    "[m]axlen [len]       Cut logged replies and values at len bytes (0: never).",
    "[a]bort              Stop the script. In sync mode its writes so far stay.",
    "",
    "From the script itself:",
    "redis.debug(...)     Log values to the debugger console.",
    "redis.breakpoint()   Stop at the next line, as a breakpoint would.",
];

/// Push the sandbox environment (eval'd code runs in it; KEYS and ARGV live there).
unsafe fn push_env(l: *mut ffi::lua_State) {
    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, ENV.as_ptr());
}

/// The value on top of the stack, logged with `prefix` and cut at maxlen.
unsafe fn log_top(l: *mut ffi::lua_State, prefix: &[u8]) {
    let mut e = prefix.to_vec();
    cat_value(l, -1, 0, &mut e);
    with(|s| s.log_trimmed(e));
}

/// Call `f` with the name of each local variable of the frame `ar` while its value is on
/// top of the stack (popped after); stops early when `f` returns true. Returns whether
/// it stopped early.
unsafe fn each_local(
    l: *mut ffi::lua_State,
    ar: &ffi::lua_Debug,
    mut f: impl FnMut(&[u8]) -> bool,
) -> bool {
    let mut i = 1;
    loop {
        let n = ffi::lua_getlocal(l, ar, i);
        if n.is_null() {
            return false;
        }
        i += 1;
        let stop = f(CStr::from_ptr(n).to_bytes());
        ffi::lua_settop(l, -2);
        if stop {
            return true;
        }
    }
}

unsafe fn print_var(l: *mut ffi::lua_State, name: &[u8]) {
    let mut ar: ffi::lua_Debug = std::mem::zeroed();
    let mut level = 0;
    while ffi::lua_getstack(l, level, &mut ar) != 0 {
        level += 1;
        let found = each_local(l, &ar, |n| {
            if n == name {
                log_top(l, b"<value> ");
            }
            n == name
        });
        if found {
            return;
        }
    }
    if name == b"KEYS" || name == b"ARGV" {
        // The sandbox has both for the whole run (its lookup cannot fail for them).
        push_env(l);
        ffi::lua_getfield(
            l,
            -1,
            if name == b"KEYS" { c"KEYS" } else { c"ARGV" }.as_ptr(),
        );
        log_top(l, b"<value> ");
        ffi::lua_settop(l, -3);
    } else {
        with(|s| s.log("No such variable."));
    }
}

unsafe fn print_locals(l: *mut ffi::lua_State) {
    let mut ar: ffi::lua_Debug = std::mem::zeroed();
    let mut vars = 0;
    if ffi::lua_getstack(l, 0, &mut ar) != 0 {
        each_local(l, &ar, |name| {
            if !name.windows(12).any(|w| w == b"(*temporary)") {
                let mut prefix = b"<value> ".to_vec();
                prefix.extend_from_slice(name);
                prefix.extend_from_slice(b" = ");
                log_top(l, &prefix);
                vars += 1;
            }
            false
        });
    }
    if vars == 0 {
        with(|s| s.log("No local variables in the current context."));
    }
}

unsafe fn trace(l: *mut ffi::lua_State) {
    let mut ar: ffi::lua_Debug = std::mem::zeroed();
    let mut level = 0;
    while ffi::lua_getstack(l, level, &mut ar) != 0 {
        ffi::lua_getinfo(l, c"Snl".as_ptr(), &mut ar);
        let src = CStr::from_ptr(ar.short_src.as_ptr()).to_bytes();
        if src.windows(11).any(|w| w == b"user_script") {
            let name = if ar.name.is_null() {
                "top level".to_string()
            } else {
                CStr::from_ptr(ar.name).to_string_lossy().into_owned()
            };
            let line = ar.currentline;
            with(|s| {
                s.log(format!(
                    "{} {name}:",
                    if level == 0 { "In" } else { "From" }
                ));
                s.log_source_line(line);
            });
        }
        level += 1;
    }
    if level == 0 {
        with(|s| s.log("<error> Can't retrieve Lua stack."));
    }
}

/// The message of the error on top of the stack (a string, or redis.call's {err=...}).
unsafe fn error_text(l: *mut ffi::lua_State) -> Vec<u8> {
    let mut len = 0;
    if ffi::lua_istable(l, -1) != 0 {
        ffi::lua_pushstring(l, c"err".as_ptr());
        ffi::lua_rawget(l, -2);
        let p = ffi::lua_tolstring(l, -1, &mut len);
        let t = match p.is_null() {
            true => b"(error object is not a string)".to_vec(),
            false => std::slice::from_raw_parts(p as *const u8, len).to_vec(),
        };
        ffi::lua_settop(l, -2);
        return t;
    }
    let p = ffi::lua_tolstring(l, -1, &mut len);
    if p.is_null() {
        return b"(error object is not a string)".to_vec();
    }
    std::slice::from_raw_parts(p as *const u8, len).to_vec()
}

/// eval <code>: compiled as an expression ("return <code>"), else as a statement, in the
/// script's sandbox; its result is logged.
unsafe fn eval(l: *mut ffi::lua_State, argv: &[Vec<u8>]) {
    let code = argv[1..].join(&b' ');
    let mut expr = b"return ".to_vec();
    expr.extend_from_slice(&code);
    let name = c"@ldb_eval".as_ptr();
    if ffi::luaL_loadbuffer(l, expr.as_ptr() as *const _, expr.len(), name) != 0 {
        ffi::lua_settop(l, -2);
        if ffi::luaL_loadbuffer(l, code.as_ptr() as *const _, code.len(), name) != 0 {
            let mut e = b"<error> ".to_vec();
            e.extend_from_slice(&error_text(l));
            ffi::lua_settop(l, -2);
            with(|s| s.log(e));
            return;
        }
    }
    push_env(l);
    ffi::lua_setfenv(l, -2);
    if ffi::lua_pcall(l, 0, 1, 0) != 0 {
        let mut e = b"<error> ".to_vec();
        e.extend_from_slice(&error_text(l));
        ffi::lua_settop(l, -2);
        with(|s| s.log(e));
        return;
    }
    log_top(l, b"<retval> ");
    ffi::lua_settop(l, -2);
}

/// redis <cmd> <args...>: redis.call with stepping on, so the command and its reply are
/// logged as the script's own calls are.
unsafe fn redis(l: *mut ffi::lua_State, argv: &[Vec<u8>]) {
    if ffi::lua_checkstack(l, argv.len() as c_int + 2) == 0 {
        with(|s| s.log("<reply> \"max lua stack reached\""));
        return;
    }
    push_env(l);
    ffi::lua_getfield(l, -1, c"redis".as_ptr());
    ffi::lua_getfield(l, -1, c"call".as_ptr());
    for a in &argv[1..] {
        ffi::lua_pushlstring(l, a.as_ptr() as *const _, a.len());
    }
    with(|s| s.step = true);
    ffi::lua_pcall(l, argv.len() as c_int - 1, 1, 0);
    with(|s| s.step = false);
    ffi::lua_settop(l, -4);
}

/// Install the debugger's hook on the state about to run a debugged script.
///
/// # Safety
/// `l` is the state the script runs on; the caller removes the hook after the run.
pub unsafe fn install_hook(l: *mut ffi::lua_State) {
    ffi::lua_sethook(
        l,
        Some(line_hook),
        ffi::LUA_MASKLINE | ffi::LUA_MASKCOUNT,
        100_000,
    );
}

/// redis.debug(...): log the values (only inside a debugging session).
pub unsafe extern "C-unwind" fn debug_c(l: *mut ffi::lua_State) -> c_int {
    if !active() {
        return 0;
    }
    let argc = ffi::lua_gettop(l);
    let line = with(|s| s.currentline).unwrap_or(0);
    let mut e = format!("<debug> line {line}: ").into_bytes();
    for i in 1..=argc {
        cat_value(l, i, 0, &mut e);
        if i != argc {
            e.extend_from_slice(b", ");
        }
    }
    with(|s| s.log(e));
    0
}

/// redis.breakpoint(): stop at the next line; true inside a debugging session.
pub unsafe extern "C-unwind" fn breakpoint_c(l: *mut ffi::lua_State) -> c_int {
    let on = with(|s| s.luabp = true).is_some();
    ffi::lua_pushboolean(l, c_int::from(on));
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            srv: std::ptr::null_mut(),
            client: 0,
            src: vec![b"local a = 1".to_vec(), b"return a".to_vec()],
            logs: Vec::new(),
            step: false,
            luabp: false,
            bp: Vec::new(),
            cbuf: Vec::new(),
            maxlen: MAX_LEN_DEFAULT,
            maxlen_hint_sent: false,
            currentline: 1,
            since: Instant::now(),
            limit: Duration::from_secs(5),
        }
    }

    #[test]
    fn commands_are_parsed_in_pieces_and_bad_ones_refused() {
        let mut s = session();
        let whole = b"*2\r\n$4\r\nlist\r\n$1\r\n2\r\n*1\r\n$1\r\nc\r\n";
        for cut in 0..whole.len() {
            s.cbuf = whole[..cut].to_vec();
            if cut < 21 {
                assert_eq!(s.parse_command(), Ok(None), "cut at {cut}");
            }
        }
        s.cbuf = whole.to_vec();
        assert_eq!(
            s.parse_command(),
            Ok(Some(vec![b"list".to_vec(), b"2".to_vec()]))
        );
        // The next command stays for the next read.
        assert_eq!(s.parse_command(), Ok(Some(vec![b"c".to_vec()])));
        for bad in [
            &b"hello\r\n"[..],
            b"*0\r\n",
            b"*1025\r\n",
            b"*1\r\n$0\r\n\r\n",
            b"*1\r\n+x\r\n",
            b"*1\r\n$1\r\nxyz",
        ] {
            s.cbuf = bad.to_vec();
            assert_eq!(
                s.parse_command(),
                Err(()),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn breakpoints_and_listing() {
        let mut s = session();
        s.break_command(&[b"b".to_vec(), b"2".to_vec(), b"9".to_vec(), b"x".to_vec()]);
        assert_eq!(s.bp, vec![2]);
        let logs: Vec<String> = s
            .logs
            .drain(..)
            .map(|l| String::from_utf8(l).unwrap())
            .collect();
        assert_eq!(
            logs,
            [
                "-> 1   local a = 1",
                "  #2   return a",
                "Wrong line number.",
                "Invalid argument:'x'"
            ]
        );
        s.break_command(&[b"b".to_vec(), b"-2".to_vec(), b"-2".to_vec()]);
        assert!(s.bp.is_empty());
        assert_eq!(s.logs[1], b"No breakpoint in the specified line.");
    }

    #[test]
    fn replies_in_human_form() {
        let mut o = Vec::new();
        let r = b"*4\r\n:1\r\n$2\r\na\"\r\n$-1\r\n%1\r\n+k\r\n,1.5\r\n";
        human(r, &mut 0, &mut o, 0);
        assert_eq!(o, b"[1,\"a\\\"\",NULL,{\"+k\" => (double) 1.5}]");
    }
}
