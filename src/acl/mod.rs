//! Access control, as Redis 7.0 does it: users with passwords (kept only as SHA-256),
//! selectors of allowed commands, key patterns and channel patterns; the per-command check;
//! the ACL log; requirepass, `user` lines and the aclfile; protected mode; TLS identities.
//!
//! Entry points for other modules:
//! - [`check`]: called once per command by `commands::execute` (NOAUTH and NOPERM);
//!   [`check_in`] names another ACL LOG context ("multi" for MULTI/EXEC, "lua").
//! - [`check_channel`]: whether a client's user may use a pub/sub channel (for pub/sub code
//!   that needs to test channels outside the normal command check, e.g. on ACL changes).
//!   PUBLISH/SPUBLISH/SUBSCRIBE/SSUBSCRIBE/PSUBSCRIBE arguments are already checked by
//!   [`check`], by command name, so pub/sub commands need no call of their own.
//! - [`authenticate`]: AUTH and HELLO AUTH.
//! - [`on_connect`] / [`on_tls_established`]: protected mode and `tls-auth-clients-user`.
mod rules;

/// What a key pattern grants (`%R~`, `%W~`; both for `~`), and what a key needs: read
/// for a key spec with ACCESS, write for INSERT, UPDATE or DELETE (commands::keyspec).
pub const KEY_READ: u8 = 1;
pub const KEY_WRITE: u8 = 2;

pub use rules::{has_spaces as rules_has_spaces, RuleError, Selector, User};

use crate::commands::{keyspec, Table, NO_AUTH};
use crate::server::{ClientKind, Server};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, VecDeque};

/// Why a command was refused; the order is Redis's (a later kind wins when picking
/// which failure to report across selectors).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Denial {
    Command = 1,
    Key = 2,
    Auth = 3,
    Channel = 4,
}

impl LogEntry {
    pub fn reason_str(&self) -> &'static str {
        self.reason.reason()
    }
}

impl Denial {
    fn reason(self) -> &'static str {
        match self {
            Denial::Command => "command",
            Denial::Key => "key",
            Denial::Auth => "auth",
            Denial::Channel => "channel",
        }
    }
}

pub struct LogEntry {
    pub count: u64,
    pub reason: Denial,
    pub context: &'static str,
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    pub ctime_ms: i64,
    pub client_info: String,
}

/// Counters for INFO (ferrokv additions; Redis 7.0 has none for ACL).
#[derive(Default, Clone, Copy)]
pub struct AclStats {
    pub denied_auth: u64,
    pub denied_cmd: u64,
    pub denied_key: u64,
    pub denied_channel: u64,
    /// TLS connections authenticated from their certificate's CN.
    pub tls_cn_auth: u64,
    /// TLS connections whose CN named no enabled user (they stay `default`).
    pub tls_cn_unmatched: u64,
}

pub struct Acl {
    /// Users by name; sorted as Redis's radix tree lists them.
    pub users: BTreeMap<Vec<u8>, User>,
    /// Newest first.
    pub log: VecDeque<LogEntry>,
    pub stats: AclStats,
}

impl Default for Acl {
    fn default() -> Self {
        let mut users = BTreeMap::new();
        users.insert(b"default".to_vec(), User::default_user());
        Acl {
            users,
            log: VecDeque::new(),
            stats: AclStats::default(),
        }
    }
}

pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
const NOAUTH: &str = "NOAUTH Authentication required.";

pub fn hash_password(pass: &[u8]) -> [u8; 32] {
    Sha256::digest(pass).into()
}

/// Compare two digests without an early exit.
fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Acl {
    pub fn user(&self, name: &[u8]) -> Option<&User> {
        self.users.get(name)
    }
    fn default_user(&self) -> &User {
        self.users
            .get(&b"default"[..])
            .expect("the default user always exists")
    }
    /// Whether clients must authenticate before running commands.
    pub fn auth_required(&self) -> bool {
        let d = self.default_user();
        !d.nopass || !d.enabled
    }
    /// Check a username/password pair (all passwords hashed, compared in constant time).
    pub fn credentials_ok(&self, user: &[u8], pass: &[u8]) -> bool {
        let Some(u) = self.users.get(user) else {
            return false;
        };
        if !u.enabled {
            return false;
        }
        if u.nopass {
            return true;
        }
        let h = hash_password(pass);
        // Look at every stored hash so the time does not tell which one matched.
        u.passwords
            .iter()
            .fold(false, |ok, p| same_digest(p, &h) | ok)
    }
}

// ---------------------------------------------------------------------------------------
// Command check

/// The per-command check: NOAUTH, then the user's selectors. On refusal returns the error
/// text (and has logged it in the ACL log). The log's context is "lua" for a command a
/// script runs, "multi" for one queued by MULTI, "toplevel" otherwise.
pub fn check(
    srv: &mut Server,
    client: usize,
    id: usize,
    args: crate::resp::Args,
) -> Result<(), String> {
    check_in(srv, client, id, args, None).map_err(|(_, msg)| msg)
}

/// [`check`] with the ACL LOG context named (None: worked out, only when something is
/// logged). The refusal carries its kind (None: NOAUTH).
pub fn check_in(
    srv: &mut Server,
    client: usize,
    id: usize,
    args: crate::resp::Args,
    context: Option<&'static str>,
) -> Result<(), (Option<Denial>, String)> {
    let entry = &srv.cmds.entries[id];
    let cmd = entry.cmd;
    let c = &srv.net.clients[client];
    if !c.authenticated && cmd.flags & NO_AUTH == 0 && srv.admin.acl.auth_required() {
        return Err((None, NOAUTH.into()));
    }
    let Some(user) = srv.admin.acl.users.get(c.user.as_bytes()) else {
        // The user was deleted: the client is being closed; refuse everything meanwhile.
        return Err((
            Some(Denial::Command),
            format!(
                "NOPERM this user has no permissions to run the '{}' command",
                entry.full_name
            ),
        ));
    };
    if user.unrestricted() {
        return Ok(());
    }
    // On the stack for up to 16 arguments: no allocation per command.
    let argv: smallvec::SmallVec<[&[u8]; 16]> = args.iter().collect();
    match user_check(user, &srv.cmds, id, &argv) {
        Ok(()) => Ok(()),
        Err((why, pos)) => {
            let object = match why {
                Denial::Command => srv.cmds.entries[id].full_name.as_bytes().to_vec(),
                _ => argv[pos].to_vec(),
            };
            let username = srv.net.clients[client].user.as_bytes().to_vec();
            let context = context.unwrap_or(if srv.data.scripting.calling {
                "lua"
            } else if srv.net.clients[client].tx.active {
                "multi"
            } else {
                "toplevel"
            });
            add_log(srv, client, why, context, object, username);
            if context == "lua" {
                // A script's or function's call: Redis 7.0's wording (script.c).
                return Err((Some(why), match why {
                    Denial::Command => "ERR The user executing the script can't run this command or subcommand",
                    Denial::Key => "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments",
                    _ => "ERR The user executing the script can't publish to the channel mentioned in the command",
                }
                .into()));
            }
            Err((Some(why), match why {
                Denial::Command => format!(
                    "NOPERM this user has no permissions to run the '{}' command",
                    srv.cmds.entries[id].full_name
                ),
                Denial::Key => "NOPERM this user has no permissions to access one of the keys used as arguments".into(),
                _ => "NOPERM this user has no permissions to access one of the channels used as arguments".into(),
            }))
        }
    }
}

/// Whether the client's user may run command `id` with `args` through a selector that can
/// also read every key (allkeys, `~*` or `%R~*`). SORT's BY and GET patterns name keys no
/// key spec reveals, so Redis accepts them only then.
pub fn reads_all_keys(srv: &Server, client: usize, id: usize, args: crate::resp::Args) -> bool {
    let Some(user) =
        (srv.net.clients.get(client)).and_then(|c| srv.admin.acl.users.get(c.user.as_bytes()))
    else {
        return false;
    };
    if user.unrestricted() {
        return true;
    }
    let argv: smallvec::SmallVec<[&[u8]; 16]> = args.iter().collect();
    user.selectors.iter().any(|s| {
        (s.all_keys
            || s.patterns
                .iter()
                .any(|p| p.flags & KEY_READ != 0 && p.pattern == b"*"))
            && selector_check(s, &srv.cmds, id, &argv).is_ok()
    })
}

/// Whether the client's user may run command `id` with `args`, logging nothing
/// (`redis.acl_check_cmd`).
pub fn permits(srv: &Server, client: usize, id: usize, args: crate::resp::Args) -> bool {
    let Some(user) = srv
        .net
        .clients
        .get(client)
        .and_then(|c| srv.admin.acl.users.get(c.user.as_bytes()))
    else {
        return false;
    };
    let argv: smallvec::SmallVec<[&[u8]; 16]> = args.iter().collect();
    user.unrestricted() || user_check(user, &srv.cmds, id, &argv).is_ok()
}

/// Whether `user` may run command `id` with `argv`; on refusal, the reason and the argument
/// index of the key or channel at fault (Redis's choice across selectors).
pub fn user_check(
    user: &User,
    table: &Table,
    id: usize,
    argv: &[&[u8]],
) -> Result<(), (Denial, usize)> {
    let mut worst = (Denial::Command, 0usize);
    for s in &user.selectors {
        match selector_check(s, table, id, argv) {
            Ok(()) => return Ok(()),
            Err((d, pos)) => {
                if d > worst.0 || (d == worst.0 && pos > worst.1) {
                    worst = (d, pos);
                }
            }
        }
    }
    Err(worst)
}

fn selector_check(
    s: &Selector,
    table: &Table,
    id: usize,
    argv: &[&[u8]],
) -> Result<(), (Denial, usize)> {
    let e = &table.entries[id];
    let cmd = e.cmd;
    if !s.all_commands && cmd.flags & NO_AUTH == 0 && !s.allowed(id) {
        let idx = if e.parent.is_some() { 2 } else { 1 };
        let ok = argv.len() > idx
            && s.first_args
                .get(&id)
                .is_some_and(|list| list.iter().any(|a| a.eq_ignore_ascii_case(argv[idx])));
        if !ok {
            return Err((Denial::Command, 0));
        }
    }
    if !s.all_keys && e.keys.has_keys() {
        let mut keys = keyspec::KeyList::new();
        keyspec::keys_of(&e.keys, argv, &mut keys);
        for (pos, flags) in keys {
            if !s.key_ok(argv[pos], keyspec::acl_access(flags)) {
                return Err((Denial::Key, pos));
            }
        }
    }
    if !s.all_channels {
        let (first, pattern) = channel_args(cmd.name);
        if first > 0 {
            for (pos, ch) in argv.iter().enumerate().skip(first) {
                if !s.channel_ok(ch, pattern) {
                    return Err((Denial::Channel, pos));
                }
                if cmd.name == "publish" || cmd.name == "spublish" {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Pub/sub commands whose arguments are channels: (first channel index, are they patterns).
fn channel_args(name: &str) -> (usize, bool) {
    match name {
        "publish" | "spublish" | "subscribe" | "ssubscribe" => (1, false),
        "psubscribe" => (1, true),
        _ => (0, false),
    }
}

/// Whether the client's user may use `channel` (a pattern itself when `is_pattern`, as
/// PSUBSCRIBE's arguments are matched literally against the user's patterns).
pub fn check_channel(srv: &Server, client: usize, channel: &[u8], is_pattern: bool) -> bool {
    let Some(c) = srv.net.clients.get(client) else {
        return false;
    };
    srv.admin.acl.user(c.user.as_bytes()).is_some_and(|u| {
        u.selectors
            .iter()
            .any(|s| s.channel_ok(channel, is_pattern))
    })
}

// ---------------------------------------------------------------------------------------
// ACL log

pub fn add_log(
    srv: &mut Server,
    client: usize,
    reason: Denial,
    context: &'static str,
    object: Vec<u8>,
    username: Vec<u8>,
) {
    match reason {
        Denial::Auth => srv.admin.acl.stats.denied_auth += 1,
        Denial::Command => srv.admin.acl.stats.denied_cmd += 1,
        Denial::Key => srv.admin.acl.stats.denied_key += 1,
        Denial::Channel => srv.admin.acl.stats.denied_channel += 1,
    }
    let client_info = if srv.net.clients.contains(client) {
        crate::commands::connection::client_line(srv, client, None)
    } else {
        String::new()
    };
    let now = crate::util::now_ms();
    let log = &mut srv.admin.acl.log;
    // Merge with a similar recent entry among the newest ten, as Redis does.
    let similar = log.iter().take(10).position(|e| {
        e.reason == reason
            && e.context == context
            && (e.ctime_ms - now).abs() <= 60_000
            && e.object == object
            && e.username == username
    });
    if let Some(i) = similar {
        let mut e = log.remove(i).expect("index from position");
        e.count += 1;
        e.ctime_ms = now;
        e.client_info = client_info;
        log.push_front(e);
        return;
    }
    log.push_front(LogEntry {
        count: 1,
        reason,
        context,
        object,
        username,
        ctime_ms: now,
        client_info,
    });
    let max = srv.cfg.acllog_max_len.max(0) as usize;
    log.truncate(max);
}

// ---------------------------------------------------------------------------------------
// Authentication

/// AUTH / HELLO AUTH: on success the client becomes `user`; on failure an ACL log entry
/// (object: the command name, as Redis logs it).
pub fn authenticate(srv: &mut Server, client: usize, user: &[u8], pass: &[u8], cmd: &[u8]) -> bool {
    if srv.admin.acl.credentials_ok(user, pass) {
        let c = &mut srv.net.clients[client];
        c.authenticated = true;
        c.user = String::from_utf8_lossy(user).into_owned();
        true
    } else {
        add_log(
            srv,
            client,
            Denial::Auth,
            "toplevel",
            cmd.to_vec(),
            user.to_vec(),
        );
        false
    }
}

/// Redis's request limits before authentication: at most 10 arguments of at most 16 KiB,
/// so an unauthenticated peer cannot make the server buffer much. Looks at the headers
/// received so far; `Some(error)` ends the connection like any protocol error.
pub fn unauthenticated_limit(
    srv: &Server,
    client: usize,
    buf: &[u8],
) -> Option<crate::resp::parse::ParseError> {
    if buf.first() != Some(&b'*')
        || srv.net.clients[client].authenticated
        || !srv.admin.acl.auth_required()
    {
        return None;
    }
    let err = |m: &str| Some(crate::resp::parse::ParseError(m.to_string()));
    let line = |from: usize| -> Option<(i64, usize)> {
        let rel = memchr::memchr(b'\r', buf.get(from..)?)?;
        let n = crate::util::parse_i64(&buf[from + 1..from + rel])?;
        Some((n, from + rel + 2))
    };
    let (count, mut pos) = line(0)?;
    if count > 10 {
        return err("Protocol error: unauthenticated multibulk length");
    }
    for _ in 0..count.max(0) {
        if buf.get(pos) != Some(&b'$') {
            return None;
        }
        let (len, next) = line(pos)?;
        if len > 16384 {
            return err("Protocol error: unauthenticated bulk length");
        }
        pos = next + len.max(0) as usize + 2;
    }
    None
}

/// Close the connections authenticated as `name` (user deleted). The current client, if
/// among them, is closed after its reply.
pub fn kill_user_clients(srv: &mut Server, name: &[u8], current: usize) {
    let victims: Vec<usize> = srv
        .net
        .clients
        .iter()
        .filter(|(_, c)| c.user.as_bytes() == name)
        .map(|(i, _)| i)
        .collect();
    for i in victims {
        let c = &mut srv.net.clients[i];
        c.user = "default".into();
        c.authenticated = false;
        if i == current {
            c.close_after_reply = true;
        } else {
            c.close_asap = true;
            srv.mark_pending(i);
        }
    }
}

/// After a user's channel rules changed: close its clients subscribed to anything the
/// rules no longer allow, as Redis 7.0 does. The current client goes after its reply.
pub fn kill_revoked_subscribers(srv: &mut Server, name: &[u8], current: usize) {
    let Some(user) = srv.admin.acl.user(name) else {
        return;
    };
    let victims: Vec<usize> = srv
        .net
        .clients
        .iter()
        .filter(|(_, c)| c.user.as_bytes() == name && c.subs.any())
        .filter(|(_, c)| {
            !c.subs
                .all_allowed(|ch, pat| user.selectors.iter().any(|s| s.channel_ok(ch, pat)))
        })
        .map(|(i, _)| i)
        .collect();
    for i in victims {
        let c = &mut srv.net.clients[i];
        if i == current {
            c.close_after_reply = true;
        } else {
            c.close_asap = true;
            srv.mark_pending(i);
        }
    }
}

/// A new connection (plaintext or unix; TLS ones after the handshake): decide whether it
/// starts authenticated, and apply protected mode (a refused client is left with its
/// refusal queued and marked to close after it).
pub fn on_connect(srv: &mut Server, client: usize) {
    let need_auth = srv.admin.acl.auth_required();
    let protected = srv.cfg.protected_mode && srv.admin.acl.default_user().nopass;
    let c = &mut srv.net.clients[client];
    c.authenticated = !need_auth;
    if protected && !is_local(c.kind, &c.peer) {
        c.out.raw(PROTECTED_MODE_DENIED.as_bytes());
        c.close_after_reply = true;
        srv.admin.stats.rejected_connections += 1;
        crate::notice!("Refused client {} (protected mode)", c.peer);
        // The reactor writes the refusal and closes (acl does no I/O of its own).
        srv.mark_pending(client);
    }
}

/// Loopback as Redis counts it: unix sockets, 127.0.0.1 and ::1 exactly.
fn is_local(kind: ClientKind, peer: &str) -> bool {
    if kind == ClientKind::Unix {
        return true;
    }
    let ip = match peer.rsplit_once(':') {
        Some((ip, _)) => ip.trim_start_matches('[').trim_end_matches(']'),
        None => peer,
    };
    ip == "127.0.0.1" || ip == "::1"
}

const PROTECTED_MODE_DENIED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// After a TLS handshake: protected mode, then the certificate identity (`Client::tls_cn`,
/// set by the reactor from the client certificate rustls verified against the CA).
pub fn on_tls_established(srv: &mut Server, client: usize) {
    on_connect(srv, client);
    let cn = srv.net.clients.get(client).and_then(|c| c.tls_cn.clone());
    if let Some(cn) = cn {
        auth_from_cert(srv, client, &cn);
    }
}

/// `tls-auth-clients-user CN`: a verified client certificate whose Common Name is an
/// enabled user authenticates the connection as that user (no password); otherwise the
/// connection stays with the default user (and must AUTH if the default user needs it).
pub fn auth_from_cert(srv: &mut Server, client: usize, cn: &str) {
    if srv.cfg.tls_auth_clients_user != crate::config::TLS_AUTH_USER_CN
        || !srv.net.clients.contains(client)
    {
        return;
    }
    let enabled = srv.admin.acl.user(cn.as_bytes()).is_some_and(|u| u.enabled);
    let c = &mut srv.net.clients[client];
    if c.close_after_reply {
        return;
    }
    if enabled {
        c.user = cn.to_string();
        c.authenticated = true;
        srv.admin.acl.stats.tls_cn_auth += 1;
        crate::verbose!(
            "TLS client {} authenticated as user '{}' by certificate CN",
            c.peer,
            cn
        );
    } else {
        srv.admin.acl.stats.tls_cn_unmatched += 1;
        let peer = c.peer.clone();
        crate::notice!(
            "TLS client {} certificate CN '{}' names no enabled ACL user: staying default",
            peer,
            cn
        );
        add_log(
            srv,
            client,
            Denial::Auth,
            "toplevel",
            b"tls-cert".to_vec(),
            cn.as_bytes().to_vec(),
        );
    }
}

/// INFO lines (section stats) for the ACL counters.
pub fn info_stats(srv: &Server, s: &mut String) {
    let st = srv.admin.acl.stats;
    s.push_str(&format!(
        "acl_access_denied_auth:{}\r\nacl_access_denied_cmd:{}\r\nacl_access_denied_key:{}\r\nacl_access_denied_channel:{}\r\ntls_cn_authenticated:{}\r\ntls_cn_unmatched:{}\r\n",
        st.denied_auth, st.denied_cmd, st.denied_key, st.denied_channel, st.tls_cn_auth, st.tls_cn_unmatched
    ));
}

// ---------------------------------------------------------------------------------------
// Configuration: requirepass, `user` lines, aclfile

/// requirepass (startup and CONFIG SET): the default user's only password, or nopass.
pub fn apply_requirepass(srv: &mut Server) {
    let pass = srv.cfg.requirepass.clone();
    let table = &srv.cmds;
    let all = pubsub_default_all(srv);
    if let Some(d) = srv.admin.acl.users.get_mut(&b"default"[..]) {
        let _ = d.apply(b"resetpass", table, all);
        if pass.is_empty() {
            let _ = d.apply(b"nopass", table, all);
        } else {
            let mut op = b">".to_vec();
            op.extend_from_slice(pass.as_bytes());
            let _ = d.apply(&op, table, all);
        }
    }
}

/// acl-pubsub-default: choice 0 is "allchannels", 1 "resetchannels".
pub fn pubsub_default_all(srv: &Server) -> bool {
    srv.cfg.acl_pubsub_default.0 == 0
}

/// Startup: requirepass, then `user` lines from the config, then the aclfile (not both).
pub fn init(srv: &mut Server) -> Result<(), String> {
    apply_requirepass(srv);
    let lines = srv.admin.extras.users.clone();
    if !srv.cfg.aclfile.is_empty() && !lines.is_empty() {
        return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
    }
    let all = pubsub_default_all(srv);
    let mut seen = std::collections::HashSet::new();
    for words in &lines {
        let Some(name) = words.first() else {
            return Err("Bad directive or wrong number of arguments".into());
        };
        if !seen.insert(name.clone()) {
            return Err(format!(
                "Error in user declaration '{}': Duplicate user found. A user can only be defined once in config files",
                name
            ));
        }
        if rules::has_spaces(name.as_bytes()) {
            return Err("Spaces not allowed in ACL usernames".into());
        }
        let ops: Vec<Vec<u8>> = words[1..].iter().map(|w| w.as_bytes().to_vec()).collect();
        let ops = rules::merge_selector_args(&ops)
            .map_err(|_| format!("Unmatched parenthesis in acl selector for user '{}'", name))?;
        let mut u = match srv.admin.acl.users.get(name.as_bytes()) {
            Some(d) if name == "default" => {
                let mut d = d.clone();
                let _ = d.apply(b"reset", &srv.cmds, all);
                d
            }
            _ => User::new(name.as_bytes(), all),
        };
        for op in &ops {
            u.apply(op, &srv.cmds, all).map_err(|e| {
                format!(
                    "Error loading ACL rule '{}' for the user named '{}': {}",
                    String::from_utf8_lossy(op),
                    name,
                    e.message()
                )
            })?;
        }
        srv.admin.acl.users.insert(name.as_bytes().to_vec(), u);
    }
    if !srv.cfg.aclfile.is_empty() {
        let path = srv.cfg.aclfile.clone();
        let users = load_file(srv, &path)
            .map_err(|e| format!("Aborting Redis startup because of ACL errors: {}", e))?;
        srv.admin.acl.users = users;
    }
    Ok(())
}

/// Parse an ACL file into a fresh user set (all or nothing), as ACL LOAD does.
pub fn load_file(srv: &Server, path: &str) -> Result<BTreeMap<Vec<u8>, User>, String> {
    let text = std::fs::read(path).map_err(|e| {
        format!(
            "Error loading ACLs, opening file '{}': {}",
            path,
            crate::util::os_error_text(&e)
        )
    })?;
    let all = pubsub_default_all(srv);
    let mut users: BTreeMap<Vec<u8>, User> = BTreeMap::new();
    let mut errors = String::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = trim(line);
        let lineno = i + 1;
        if line.is_empty() {
            continue;
        }
        let words: Vec<Vec<u8>> = line
            .split(|&b| b == b' ')
            .filter(|w| !w.is_empty())
            .map(|w| w.to_vec())
            .collect();
        if words.is_empty() {
            continue;
        }
        if words[0] != b"user" || words.len() < 2 {
            errors.push_str(&format!(
                "{}:{} should start with user keyword followed by the username. ",
                path, lineno
            ));
            continue;
        }
        let name = &words[1];
        if rules::has_spaces(name) {
            errors.push_str(&format!(
                "'{}:{}: username '{}' contains invalid characters. ",
                path,
                lineno,
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        if users.contains_key(name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {}. ",
                String::from_utf8_lossy(name),
                lineno
            ));
            continue;
        }
        let mut u = User::new(name, all);
        let ops = match rules::merge_selector_args(&words[2..]) {
            Ok(ops) => ops,
            Err(_) => {
                errors.push_str(&format!(
                    "{}:{}: Unmatched parenthesis in selector definition.",
                    path, lineno
                ));
                Vec::new()
            }
        };
        let mut syntax_error = false;
        for op in &ops {
            if let Err(e) = u.apply(trim(op), &srv.cmds, all) {
                if e == RuleError::UnknownCommand {
                    errors.push_str(&format!(
                        "{}:{}: Error in applying operation '{}': {}. ",
                        path,
                        lineno,
                        String::from_utf8_lossy(op),
                        e.message()
                    ));
                } else if !syntax_error {
                    errors.push_str(&format!("{}:{}: {}. ", path, lineno, e.message()));
                    syntax_error = true;
                }
            }
        }
        users.insert(name.clone(), u);
    }
    if !errors.is_empty() {
        errors.push_str(
            "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
        );
        return Err(errors);
    }
    users
        .entry(b"default".to_vec())
        .or_insert_with(User::default_user);
    Ok(users)
}

fn trim(s: &[u8]) -> &[u8] {
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = s.iter().position(|b| !is_ws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !is_ws(b)).map_or(start, |e| e + 1);
    &s[start..end]
}

/// The ACL file text: one `user <name> <rules>` line per user.
pub fn save_text(srv: &Server) -> String {
    let mut s = String::new();
    for (name, u) in &srv.admin.acl.users {
        s.push_str("user ");
        s.push_str(&String::from_utf8_lossy(name));
        s.push(' ');
        s.push_str(&u.describe(&srv.cmds));
        s.push('\n');
    }
    s
}

/// Replace the user set (ACL LOAD): every client of a non-default user is closed, as in
/// Redis 7.0, since its user object is gone.
pub fn replace_users(srv: &mut Server, users: BTreeMap<Vec<u8>, User>, current: usize) {
    let names: Vec<Vec<u8>> = srv
        .admin
        .acl
        .users
        .keys()
        .filter(|n| n.as_slice() != b"default")
        .cloned()
        .collect();
    srv.admin.acl.users = users;
    for n in names {
        kill_user_clients(srv, &n, current);
    }
}
