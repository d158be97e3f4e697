//! Access control: ACL rules and descriptions, denials and their errors, the ACL log,
//! AUTH/HELLO, requirepass, aclfile and `user` lines, protected mode, TLS CN identities.
use crate::common::*;
use redis::{cmd, Connection, Value};
use std::io::Read;
use std::time::Duration;

fn ok(c: &mut Connection, args: &[&str]) {
    let r: String = q(c, args);
    assert_eq!(r, "OK", "{args:?}");
}

fn acl_list(c: &mut Connection) -> Vec<String> {
    q(c, &["ACL", "LIST"])
}

fn user_line(c: &mut Connection, name: &str) -> String {
    let prefix = format!("user {name} ");
    acl_list(c)
        .into_iter()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no user {name}"))
}

/// A fresh connection authenticated as `user`.
fn login(srv: &Server, user: &str, pass: &str) -> Connection {
    let mut c = srv.client();
    ok(&mut c, &["AUTH", user, pass]);
    c
}

/// The ACL LOG entries as field maps (RESP2: flat arrays of name, value).
fn acl_log(c: &mut Connection) -> Vec<std::collections::HashMap<String, String>> {
    let v: Vec<Vec<Value>> = q(c, &["ACL", "LOG"]);
    v.into_iter()
        .map(|fields| {
            fields
                .chunks(2)
                .map(|kv| {
                    let k: String = redis::from_redis_value(&kv[0]).unwrap();
                    let val = match &kv[1] {
                        Value::Int(n) => n.to_string(),
                        other => redis::from_redis_value::<String>(other).unwrap(),
                    };
                    (k, val)
                })
                .collect()
        })
        .collect()
}

const SHA_OF_PW: &str = "30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4"; // sha256("pw")

#[test]
fn rule_forms_are_described_as_redis_does() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    assert_eq!(acl_list(&mut c), vec!["user default on nopass ~* &* +@all"]);
    ok(
        &mut c,
        &[
            "ACL",
            "SETUSER",
            "a",
            "on",
            ">pw",
            "~cached:*",
            "+get",
            "+set",
        ],
    );
    assert_eq!(
        user_line(&mut c, "a"),
        format!("user a on #{SHA_OF_PW} ~cached:* resetchannels -@all +get +set")
    );
    // Passwords: the same hash twice is kept once; <pw and !hash remove; nopass clears all.
    ok(
        &mut c,
        &["ACL", "SETUSER", "a", &format!("#{SHA_OF_PW}"), ">other"],
    );
    let line = user_line(&mut c, "a");
    assert_eq!(line.matches('#').count(), 2, "{line}");
    ok(
        &mut c,
        &["ACL", "SETUSER", "a", "<other", &format!("!{SHA_OF_PW}")],
    );
    assert!(!user_line(&mut c, "a").contains('#'));
    ok(&mut c, &["ACL", "SETUSER", "a", ">x", "nopass"]);
    assert!(user_line(&mut c, "a").starts_with("user a on nopass ~cached:*"));
    ok(&mut c, &["ACL", "SETUSER", "a", "resetpass", "off"]);
    assert!(user_line(&mut c, "a").starts_with("user a off ~cached:*"));
    // Keys with read/write access, channels, categories, subcommands, first args.
    ok(
        &mut c,
        &[
            "ACL",
            "SETUSER",
            "b",
            "on",
            "nopass",
            "%R~r*",
            "%W~w*",
            "%RW~rw*",
            "&ch*",
            "+@string",
            "-append",
            "+config|get",
            "+select|0",
        ],
    );
    // Single-command rules follow the categories; their order is the command table's
    // (Redis's follows its hash table), so compare them as a set.
    let line = user_line(&mut c, "b");
    let (head, tail) =
        line.split_at("user b on nopass %R~r* %W~w* ~rw* resetchannels &ch* -@all +@string ".len());
    assert_eq!(
        head,
        "user b on nopass %R~r* %W~w* ~rw* resetchannels &ch* -@all +@string "
    );
    let mut rest: Vec<&str> = tail.split(' ').collect();
    rest.sort();
    assert_eq!(rest, vec!["+config|get", "+select|0", "-append"]);
    ok(
        &mut c,
        &[
            "ACL",
            "SETUSER",
            "b",
            "resetkeys",
            "allkeys",
            "resetchannels",
            "allchannels",
            "allcommands",
        ],
    );
    assert_eq!(user_line(&mut c, "b"), "user b on nopass ~* &* +@all");
    ok(
        &mut c,
        &["ACL", "SETUSER", "b", "-@dangerous", "nocommands", "+ping"],
    );
    assert_eq!(user_line(&mut c, "b"), "user b on nopass ~* &* -@all +ping");
    // Selectors, in one word or spread over several; clearselectors; reset.
    ok(
        &mut c,
        &["ACL", "SETUSER", "s", "(~x* +get)", "(", "~y*", "+set", ")"],
    );
    assert_eq!(
        user_line(&mut c, "s"),
        "user s off resetchannels -@all (~x* resetchannels -@all +get) (~y* resetchannels -@all +set)"
    );
    ok(&mut c, &["ACL", "SETUSER", "s", "clearselectors"]);
    assert_eq!(user_line(&mut c, "s"), "user s off resetchannels -@all");
    ok(&mut c, &["ACL", "SETUSER", "b", "reset"]);
    assert_eq!(
        user_line(&mut c, "b"),
        "user b off sanitize-payload resetchannels -@all"
    );
    // GETUSER shows the same pieces.
    ok(
        &mut c,
        &[
            "ACL",
            "SETUSER",
            "g",
            "on",
            ">pw",
            "~k*",
            "&c",
            "+get",
            "(+set ~z)",
        ],
    );
    let v: Vec<Value> = q(&mut c, &["ACL", "GETUSER", "g"]);
    let text = format!("{v:?}");
    for part in [
        "flags",
        "passwords",
        SHA_OF_PW,
        "-@all +get",
        "~k*",
        "&c",
        "selectors",
        "-@all +set",
        "~z",
    ] {
        assert!(text.contains(part), "{part} missing from {text}");
    }
    let none: Value = q(&mut c, &["ACL", "GETUSER", "nosuch"]);
    assert_eq!(none, Value::Nil);
    let users: Vec<String> = q(&mut c, &["ACL", "USERS"]);
    assert_eq!(users, vec!["a", "b", "default", "g", "s"]);
}

#[test]
fn rule_errors_use_redis_texts_and_change_nothing() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let cases: &[(&[&str], &str)] = &[
        (&["+nosuch"], "ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"),
        (&["+@nosuch"], "ERR Error in ACL SETUSER modifier '+@nosuch': Unknown command or category name in ACL"),
        (&["bogus"], "ERR Error in ACL SETUSER modifier 'bogus': Syntax error"),
        (&["~*", "~a"], "ERR Error in ACL SETUSER modifier '~a': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"),
        (&["&*", "&a"], "ERR Error in ACL SETUSER modifier '&a': Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"),
        (&["<nope"], "ERR Error in ACL SETUSER modifier '<nope': The password you are trying to remove from the user does not exist"),
        (&["#abc"], "ERR Error in ACL SETUSER modifier '#abc': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"),
        (&["+config|get|x"], "ERR Error in ACL SETUSER modifier '+config|get|x': Allowing first-arg of a subcommand is not supported"),
        (&["+config|nosuch"], "ERR Error in ACL SETUSER modifier '+config|nosuch': Unknown command or category name in ACL"),
        (&["(~a", "+get"], "ERR Unmatched parenthesis in acl selector starting at '(~a'."),
        (&["(+nosuch)"], "ERR Error in ACL SETUSER modifier '(+nosuch)': Unknown command or category name in ACL"),
    ];
    for (rules, want) in cases {
        let mut args = vec!["ACL", "SETUSER", "u", "on"];
        args.extend_from_slice(rules);
        assert_eq!(&err(&mut c, &args), want, "{rules:?}");
    }
    // All-or-nothing: 'on' before the bad rule was not applied, the user was not created.
    let users: Vec<String> = q(&mut c, &["ACL", "USERS"]);
    assert_eq!(users, vec!["default"]);
    assert_eq!(
        err(&mut c, &["ACL", "SETUSER", "a b"]),
        "ERR Usernames can't contain spaces or null characters"
    );
    assert_eq!(
        err(&mut c, &["ACL", "DELUSER", "default"]),
        "ERR The 'default' user cannot be removed"
    );
    assert_eq!(
        err(&mut c, &["ACL", "CAT", "nosuch"]),
        "ERR Unknown category 'nosuch'"
    );
    assert_eq!(
        err(&mut c, &["ACL", "GENPASS", "0"]),
        "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096"
    );
    assert_eq!(
        err(&mut c, &["ACL", "SAVE"]),
        "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration."
    );
}

#[test]
fn cat_genpass_whoami() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    let cats: Vec<String> = q(&mut c, &["ACL", "CAT"]);
    assert_eq!(cats.len(), 21);
    assert_eq!(&cats[..3], &["keyspace", "read", "write"]);
    let strings: Vec<String> = q(&mut c, &["ACL", "CAT", "string"]);
    assert!(strings.contains(&"get".to_string()) && !strings.contains(&"lpush".to_string()));
    let admin: Vec<String> = q(&mut c, &["ACL", "CAT", "admin"]);
    assert!(admin.contains(&"config|set".to_string()), "{admin:?}");
    let p: String = q(&mut c, &["ACL", "GENPASS"]);
    assert_eq!(p.len(), 64);
    assert!(p.bytes().all(|b| b.is_ascii_hexdigit()));
    let p: String = q(&mut c, &["ACL", "GENPASS", "5"]);
    assert_eq!(p.len(), 2);
    let me: String = q(&mut c, &["ACL", "WHOAMI"]);
    assert_eq!(me, "default");
}

#[test]
fn denials_have_redis_errors_and_selectors_widen_access() {
    let srv = Server::start(&[]);
    let mut admin = srv.client();
    ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "u",
            "on",
            ">pw",
            "%R~r*",
            "%W~w*",
            "~rw*",
            "+@string",
            "-append",
            "+config|get",
            "+select|0",
            "+acl|whoami",
            "(+lpush ~list*)",
        ],
    );
    let mut c = login(&srv, "u", "pw");
    let me: String = q(&mut c, &["ACL", "WHOAMI"]);
    assert_eq!(me, "u");
    // Commands.
    assert_eq!(
        err(&mut c, &["APPEND", "w1", "x"]),
        "NOPERM this user has no permissions to run the 'append' command"
    );
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "maxclients", "10"]),
        "NOPERM this user has no permissions to run the 'config|set' command"
    );
    let _: Value = q(&mut c, &["CONFIG", "GET", "maxclients"]);
    ok(&mut c, &["SELECT", "0"]);
    assert_eq!(
        err(&mut c, &["SELECT", "1"]),
        "NOPERM this user has no permissions to run the 'select' command"
    );
    // Keys: read-only, write-only and read-write patterns.
    let key_err = "NOPERM this user has no permissions to access one of the keys used as arguments";
    ok(&mut c, &["SET", "w1", "v"]);
    assert_eq!(err(&mut c, &["SET", "r1", "v"]), key_err);
    assert_eq!(err(&mut c, &["GET", "w1"]), key_err);
    let _: Value = q(&mut c, &["GET", "r1"]);
    assert_eq!(
        err(&mut c, &["INCR", "w1"]),
        key_err,
        "INCR reads and writes"
    );
    let _: Value = q(&mut c, &["INCR", "rw1"]);
    assert_eq!(err(&mut c, &["GET", "other"]), key_err);
    assert_eq!(err(&mut c, &["MGET", "r1", "other"]), key_err);
    // The selector allows LPUSH on list* only; the root allows nothing of @list.
    let n: i64 = q(&mut c, &["LPUSH", "list1", "a"]);
    assert_eq!(n, 1);
    assert_eq!(err(&mut c, &["LPUSH", "rw1", "a"]), key_err);
    assert_eq!(
        err(&mut c, &["LLEN", "list1"]),
        "NOPERM this user has no permissions to run the 'llen' command"
    );
    // DRYRUN says the same without running anything.
    let r: String = q(&mut admin, &["ACL", "DRYRUN", "u", "GET", "w1"]);
    assert_eq!(r, "This user has no permissions to access the 'w1' key");
    let r: String = q(&mut admin, &["ACL", "DRYRUN", "u", "APPEND", "w1", "x"]);
    assert_eq!(
        r,
        "This user has no permissions to run the 'append' command"
    );
    ok(&mut admin, &["ACL", "DRYRUN", "u", "LPUSH", "list2", "x"]);
    assert_eq!(
        err(&mut admin, &["ACL", "DRYRUN", "nosuch", "GET", "x"]),
        "ERR User 'nosuch' not found"
    );
    assert_eq!(
        err(&mut admin, &["ACL", "DRYRUN", "u", "NOSUCH", "x"]),
        "ERR Command 'NOSUCH' not found"
    );
    assert_eq!(
        err(&mut admin, &["ACL", "DRYRUN", "u", "GET"]),
        "ERR wrong number of arguments for 'get' command"
    );
    // Rejected calls are counted per command.
    let info: String = q(&mut admin, &["INFO", "commandstats"]);
    let append = info
        .lines()
        .find(|l| l.starts_with("cmdstat_append:"))
        .unwrap();
    assert!(append.contains("rejected_calls=1"), "{append}");
}

#[test]
fn acl_log_records_denials_and_failed_auth() {
    let srv = Server::start(&["--acllog-max-len", "3"]);
    let mut admin = srv.client();
    ok(
        &mut admin,
        &["ACL", "SETUSER", "u", "on", ">pw", "~k*", "+get"],
    );
    let mut c = login(&srv, "u", "pw");
    let _ = err(&mut c, &["SET", "k", "v"]);
    let _ = err(&mut c, &["SET", "k", "v"]);
    let _ = err(&mut c, &["GET", "other"]);
    let mut anon = srv.client();
    let _ = err(&mut anon, &["AUTH", "u", "wrong"]);
    let log = acl_log(&mut admin);
    assert_eq!(log.len(), 3);
    let (auth, key, cmd_) = (&log[0], &log[1], &log[2]);
    assert_eq!(auth["reason"], "auth");
    assert_eq!(auth["object"], "AUTH");
    assert_eq!(auth["username"], "u");
    assert_eq!(key["reason"], "key");
    assert_eq!(key["object"], "other");
    assert_eq!(key["context"], "toplevel");
    assert_eq!(cmd_["reason"], "command");
    assert_eq!(cmd_["object"], "set");
    assert_eq!(cmd_["count"], "2", "similar denials are merged");
    assert!(
        cmd_["client-info"].contains("user=u"),
        "{}",
        cmd_["client-info"]
    );
    assert!(cmd_["age-seconds"].parse::<f64>().unwrap() >= 0.0);
    // The log is capped by acllog-max-len: a fourth distinct entry drops the oldest.
    let _ = err(&mut c, &["GET", "another"]);
    let log = acl_log(&mut admin);
    assert_eq!(log.len(), 3);
    assert_eq!(log[0]["object"], "another");
    assert!(log.iter().all(|e| e["object"] != "set"));
    let one: Vec<Value> = q(&mut admin, &["ACL", "LOG", "1"]);
    assert_eq!(one.len(), 1);
    ok(&mut admin, &["ACL", "LOG", "RESET"]);
    assert!(acl_log(&mut admin).is_empty());
    let info: String = q(&mut admin, &["INFO", "stats"]);
    assert!(info.contains("acl_access_denied_auth:1"), "{info}");
    assert!(info.contains("acl_access_denied_cmd:2"), "{info}");
}

#[test]
fn auth_and_hello_auth() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    assert_eq!(
        err(&mut c, &["AUTH", "x"]),
        "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
    );
    assert_eq!(err(&mut c, &["AUTH", "a", "b", "c"]), "ERR syntax error");
    ok(&mut c, &["ACL", "SETUSER", "u", "on", ">pw", "+@all", "~*"]);
    ok(
        &mut c,
        &["ACL", "SETUSER", "off", "off", ">pw", "+@all", "~*"],
    );
    let wrongpass = "WRONGPASS invalid username-password pair or user is disabled.";
    assert_eq!(err(&mut c, &["AUTH", "u", "bad"]), wrongpass);
    assert_eq!(err(&mut c, &["AUTH", "nosuch", "pw"]), wrongpass);
    assert_eq!(
        err(&mut c, &["AUTH", "off", "pw"]),
        wrongpass,
        "disabled user"
    );
    ok(&mut c, &["AUTH", "u", "pw"]);
    let me: String = q(&mut c, &["ACL", "WHOAMI"]);
    assert_eq!(me, "u");
    let info: String = q(&mut c, &["CLIENT", "INFO"]);
    assert!(info.contains(" user=u "), "{info}");
    let mut h = srv.client();
    assert_eq!(err(&mut h, &["HELLO", "2", "AUTH", "u", "bad"]), wrongpass);
    let _: Value = q(&mut h, &["HELLO", "2", "AUTH", "u", "pw", "SETNAME", "n"]);
    let me: String = q(&mut h, &["ACL", "WHOAMI"]);
    assert_eq!(me, "u");
    // RESET goes back to the default user.
    let _: Value = q(&mut h, &["RESET"]);
    let me: String = q(&mut h, &["ACL", "WHOAMI"]);
    assert_eq!(me, "default");
}

#[test]
fn requirepass_is_the_default_users_password() {
    let srv = Server::start(&["--requirepass", "s3cret"]);
    let mut c = srv.client();
    assert_eq!(err(&mut c, &["PING"]), "NOAUTH Authentication required.");
    assert_eq!(
        err(&mut c, &["HELLO", "3"]),
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
    );
    assert_eq!(
        err(&mut c, &["AUTH", "nope"]),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    ok(&mut c, &["AUTH", "s3cret"]);
    assert_eq!(
        user_line(&mut c, "default"),
        format!("user default on #{} ~* &* +@all", hex_sha256("s3cret"))
    );
    // Unauthenticated peers may not send big requests.
    let mut raw = srv.raw();
    let reply = raw_roundtrip(&mut raw, b"*100\r\n", 60);
    assert!(
        String::from_utf8_lossy(&reply)
            .contains("Protocol error: unauthenticated multibulk length"),
        "{reply:?}"
    );
    // CONFIG SET requirepass changes it at once; existing connections stay authenticated.
    ok(&mut c, &["CONFIG", "SET", "requirepass", "other"]);
    let _: String = q(&mut c, &["PING"]);
    let mut d = srv.client();
    assert_eq!(
        err(&mut d, &["AUTH", "s3cret"]),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    ok(&mut d, &["AUTH", "default", "other"]);
    ok(&mut c, &["CONFIG", "SET", "requirepass", ""]);
    let mut e = srv.client();
    let pong: String = q(&mut e, &["PING"]);
    assert_eq!(pong, "PONG");
}

fn hex_sha256(s: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Whether the server closed the connection (read returns 0 or an error).
fn closed_by_server(c: &mut Connection) -> bool {
    let r: redis::RedisResult<String> = cmd("PING").query(c);
    r.is_err()
}

#[test]
fn deleting_a_user_closes_its_connections() {
    let srv = Server::start(&[]);
    let mut admin = srv.client();
    ok(
        &mut admin,
        &["ACL", "SETUSER", "u", "on", ">pw", "+@all", "~*"],
    );
    let mut c = login(&srv, "u", "pw");
    let mut other = srv.client();
    // Disabling does not close existing connections (Redis 7.0); deleting does.
    ok(&mut admin, &["ACL", "SETUSER", "u", "off"]);
    let _: String = q(&mut c, &["PING"]);
    let n: i64 = q(&mut admin, &["ACL", "DELUSER", "u", "nosuch"]);
    assert_eq!(n, 1);
    wait_until("the deleted user's connection closed", || {
        closed_by_server(&mut c)
    });
    let _: String = q(&mut other, &["PING"]);
}

#[test]
fn aclfile_save_and_load_round_trip() {
    let dir = temp_dir("aclfile");
    let path = dir.join("users.acl");
    std::fs::write(
        &path,
        format!("user alice on #{SHA_OF_PW} ~k* +get\nuser default on nopass ~* &* +@all\n"),
    )
    .unwrap();
    let p = path.display().to_string();
    let srv = Server::start(&["--aclfile", &p]);
    let mut admin = srv.client();
    assert_eq!(
        user_line(&mut admin, "alice"),
        format!("user alice on #{SHA_OF_PW} ~k* resetchannels -@all +get")
    );
    let mut alice = login(&srv, "alice", "pw");
    ok(
        &mut admin,
        &["ACL", "SETUSER", "bob", "on", ">b", "(~x +set)"],
    );
    ok(&mut admin, &["ACL", "SAVE"]);
    let saved = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = saved.lines().collect();
    assert_eq!(lines.len(), 3, "{saved}");
    assert!(
        lines[1].starts_with("user bob on #")
            && lines[1].ends_with("(~x resetchannels -@all +set)"),
        "{saved}"
    );
    assert!(!saved.contains(">b"), "only hashes are stored");
    // Edit the file: bob goes, carol comes; LOAD replaces the users.
    std::fs::write(
        &path,
        format!(
            "{}\n{}\nuser carol on nopass ~* +@all\n",
            lines[0], lines[2]
        ),
    )
    .unwrap();
    ok(&mut admin, &["ACL", "LOAD"]);
    let users: Vec<String> = q(&mut admin, &["ACL", "USERS"]);
    assert_eq!(users, vec!["alice", "carol", "default"]);
    // Redis 7.0 closes the connections of the replaced users.
    wait_until("the replaced user's connection closed", || {
        closed_by_server(&mut alice)
    });
    // A broken file changes nothing and says why.
    std::fs::write(&path, "user dave on +nosuch\nbogus line\n").unwrap();
    let e = err(&mut admin, &["ACL", "LOAD"]);
    assert!(
        e.contains(
            ":1: Error in applying operation '+nosuch': Unknown command or category name in ACL."
        ),
        "{e}"
    );
    assert!(
        e.contains(":2 should start with user keyword followed by the username."),
        "{e}"
    );
    assert!(e.ends_with("WARNING: ACL errors detected, no change to the previously active ACL rules was performed"), "{e}");
    let users: Vec<String> = q(&mut admin, &["ACL", "USERS"]);
    assert_eq!(users, vec!["alice", "carol", "default"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn user_lines_in_the_config_file() {
    let dir = temp_dir("userconf");
    let port = free_port();
    let conf = dir.join("ferrokv.conf");
    std::fs::write(
        &conf,
        format!(
            "port {port}\nuser default on >adminpw ~* &* +@all\nuser app on >apppw ~app:* +@read\n"
        ),
    )
    .unwrap();
    let srv = Server::start_with_file(&conf, port);
    let mut c = srv.client();
    assert_eq!(err(&mut c, &["PING"]), "NOAUTH Authentication required.");
    ok(&mut c, &["AUTH", "app", "apppw"]);
    let _: Value = q(&mut c, &["GET", "app:1"]);
    assert!(err(&mut c, &["SET", "app:1", "x"]).starts_with("NOPERM"));
    // Users in the config file and an aclfile together are refused at startup.
    let bad = dir.join("bad.conf");
    std::fs::write(&bad, "user x on\naclfile /tmp/whatever.acl\n").unwrap();
    let out = std::process::Command::new(bin())
        .arg(&bad)
        .arg("--port")
        .arg(free_port().to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Connect to 127.0.0.1:port from the source address 127.0.0.2 (a non-loopback peer as
/// Redis counts it) and return what the server sends before closing.
fn connect_from_127_0_0_2(port: u16, send: &[u8]) -> String {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.bind(
        &"127.0.0.2:0"
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .into(),
    )
    .unwrap();
    s.connect(
        &format!("127.0.0.1:{port}")
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .into(),
    )
    .unwrap();
    let mut t: std::net::TcpStream = s.into();
    t.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    use std::io::Write;
    t.write_all(send).unwrap();
    let mut out = Vec::new();
    let _ = t.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn protected_mode_refuses_non_loopback_without_password() {
    let srv = Server::start(&["--protected-mode", "yes"]);
    let got = connect_from_127_0_0_2(srv.port, b"PING\r\n");
    assert!(
        got.starts_with("-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user."),
        "{got}"
    );
    assert!(!got.contains("PONG"));
    // Loopback is served.
    let mut c = srv.client();
    let pong: String = q(&mut c, &["PING"]);
    assert_eq!(pong, "PONG");
    let info: String = q(&mut c, &["INFO", "stats"]);
    assert!(info.contains("rejected_connections:1"), "{info}");
    // With a password on the default user the peer is served (and must AUTH).
    ok(&mut c, &["CONFIG", "SET", "requirepass", "pw"]);
    let got = connect_from_127_0_0_2(srv.port, b"PING\r\nAUTH pw\r\nPING\r\nQUIT\r\n");
    assert_eq!(
        got,
        "-NOAUTH Authentication required.\r\n+OK\r\n+PONG\r\n+OK\r\n"
    );
    // protected-mode no: served without a password.
    ok(&mut c, &["CONFIG", "SET", "requirepass", ""]);
    ok(&mut c, &["CONFIG", "SET", "protected-mode", "no"]);
    let got = connect_from_127_0_0_2(srv.port, b"PING\r\nQUIT\r\n");
    assert_eq!(got, "+PONG\r\n+OK\r\n");
}

#[test]
fn tls_certificate_cn_names_the_user() {
    let pki = crate::tls::make_pki("alice");
    let srv = crate::tls::start_tls(
        &pki,
        &[
            "--tls-auth-clients-user",
            "CN",
            "--tls-auth-clients",
            "optional",
        ],
    );
    let who = |c: &mut Connection| -> String { q(c, &["ACL", "WHOAMI"]) };
    // No such user yet: the connection stays default.
    let mut c = crate::tls::tls_client(&srv, &pki, Some("client")).unwrap();
    assert_eq!(who(&mut c), "default");
    ok(&mut c, &["ACL", "SETUSER", "alice", "on", "~a:*", "+@all"]);
    let mut a = crate::tls::tls_client(&srv, &pki, Some("client")).unwrap();
    assert_eq!(who(&mut a), "alice");
    let info: String = q(&mut a, &["CLIENT", "INFO"]);
    assert!(info.contains(" user=alice "), "{info}");
    assert!(err(&mut a, &["GET", "b"]).starts_with("NOPERM"));
    // Without a certificate (tls-auth-clients optional): default.
    let mut n = crate::tls::tls_client(&srv, &pki, None).unwrap();
    assert_eq!(who(&mut n), "default");
    // A disabled user is not taken from the certificate.
    ok(&mut c, &["ACL", "SETUSER", "alice", "off"]);
    let mut d = crate::tls::tls_client(&srv, &pki, Some("client")).unwrap();
    assert_eq!(who(&mut d), "default");
    let info: String = q(&mut c, &["INFO", "stats"]);
    assert!(info.contains("tls_cn_authenticated:1"), "{info}");
    assert!(info.contains("tls_cn_unmatched:2"), "{info}");
    let log = acl_log(&mut c);
    assert_eq!(log[0]["reason"], "auth");
    assert_eq!(log[0]["username"], "alice");
    // A certificate from another CA does not get in at all.
    assert!(crate::tls::tls_client(&srv, &pki, Some("rogue")).is_err());
}

#[test]
fn tls_cn_user_skips_requirepass_but_others_must_auth() {
    let pki = crate::tls::make_pki("app");
    let srv = crate::tls::start_tls(
        &pki,
        &[
            "--tls-auth-clients-user",
            "CN",
            "--requirepass",
            "pw",
            "--user",
            "app",
            "on",
            "~*",
            "+@all",
        ],
    );
    let mut a = crate::tls::tls_client(&srv, &pki, Some("client")).unwrap();
    let me: String = q(&mut a, &["ACL", "WHOAMI"]);
    assert_eq!(me, "app");
    // tls-auth-clients-user off: the certificate names nobody.
    let srv2 = crate::tls::start_tls(
        &pki,
        &["--requirepass", "pw", "--user", "app", "on", "~*", "+@all"],
    );
    let mut b = crate::tls::tls_client(&srv2, &pki, Some("client")).unwrap();
    assert_eq!(err(&mut b, &["PING"]), "NOAUTH Authentication required.");
}

#[test]
fn monitor_redacts_passwords() {
    let srv = Server::start(&["--requirepass", "topsecret"]);
    let mut mon = srv.raw();
    let got = raw_roundtrip(&mut mon, b"AUTH topsecret\r\nMONITOR\r\n", 10);
    assert_eq!(got, b"+OK\r\n+OK\r\n");
    let mut c = srv.client();
    ok(&mut c, &["AUTH", "topsecret"]);
    let _: Value = q(&mut c, &["HELLO", "2", "AUTH", "default", "topsecret"]);
    let mut buf = vec![0u8; 4096];
    let mut seen = String::new();
    while seen.matches("\r\n").count() < 2 {
        let n = mon.read(&mut buf).unwrap();
        assert!(n > 0, "monitor closed: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(!seen.contains("topsecret"), "{seen}");
    assert!(seen.contains("\"AUTH\" \"(redacted)\""), "{seen}");
    assert!(
        seen.contains("\"HELLO\" \"2\" \"AUTH\" \"(redacted)\" \"(redacted)\""),
        "{seen}"
    );
}

#[test]
fn revoking_a_channel_closes_its_subscribers_only() {
    let srv = Server::start(&[]);
    let mut admin = srv.client();
    ok(
        &mut admin,
        &[
            "ACL",
            "SETUSER",
            "sub",
            "on",
            ">pw",
            "+@all",
            "~*",
            "resetchannels",
            "&news*",
        ],
    );
    let mut keep = login(&srv, "sub", "pw");
    let mut gone = login(&srv, "sub", "pw");
    let _: Value = q(&mut keep, &["SUBSCRIBE", "newsletter"]);
    let _: Value = q(&mut gone, &["SUBSCRIBE", "news"]);
    // Narrowing the pattern to news?* keeps "newsletter" but revokes "news".
    ok(
        &mut admin,
        &["ACL", "SETUSER", "sub", "resetchannels", "&news?*"],
    );
    wait_until("the revoked subscriber closed", || {
        let (_, n): (String, i64) = q(&mut admin, &["PUBSUB", "NUMSUB", "news"]);
        n == 0
    });
    let n: i64 = q(&mut admin, &["PUBLISH", "newsletter", "hi"]);
    assert_eq!(n, 1, "the subscriber whose channel is still allowed stays");
    let (_, n): (String, i64) = q(&mut admin, &["PUBSUB", "NUMSUB", "news"]);
    assert_eq!(n, 0, "the subscriber of the revoked channel was closed");
    drop((keep, gone));
}

/// Commands whose key specs carry no read/write flag (EXISTS, TYPE, STRLEN, OBJECT...) still
/// need a key pattern matching the key; shard channels are checked as channels, not keys.
#[test]
fn keys_without_access_flags_are_still_checked() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    ok(
        c,
        &["ACL", "SETUSER", "u", "on", ">pw", "~foo*", "+@all", "&*"],
    );
    ok(c, &["SET", "bar", "1"]);
    let u = &mut login(&srv, "u", "pw");
    const NOPERM: &str =
        "NOPERM this user has no permissions to access one of the keys used as arguments";
    for args in [
        &["EXISTS", "bar"][..],
        &["TYPE", "bar"],
        &["STRLEN", "bar"],
        &["OBJECT", "ENCODING", "bar"],
        &["MEMORY", "USAGE", "bar"],
        &["TOUCH", "bar"],
        &["SISMEMBER", "bar", "x"],
        &["EXISTS", "foo1", "bar"],
    ] {
        assert_eq!(err(u, args), NOPERM, "{args:?}");
    }
    assert_eq!(q::<i64>(u, &["EXISTS", "foo1"]), 0);
    assert_eq!(q::<i64>(u, &["SPUBLISH", "anychannel", "m"]), 0);
}

/// SORT's BY and GET patterns read keys no key spec names: Redis allows them only to a user
/// who may read every key.
#[test]
fn sort_by_and_get_need_access_to_every_key() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    ok(c, &["ACL", "SETUSER", "some", "on", ">pw", "~l*", "+@all"]);
    ok(
        c,
        &["ACL", "SETUSER", "all", "on", ">pw", "%R~*", "~l*", "+@all"],
    );
    q::<i64>(c, &["RPUSH", "l", "2", "1"]);
    q::<()>(c, &["SET", "w_1", "9"]);
    let some = &mut login(&srv, "some", "pw");
    assert_eq!(
        err(some, &["SORT", "l", "BY", "w_*"]),
        "ERR BY option of SORT denied due to insufficient ACL permissions."
    );
    assert_eq!(
        err(some, &["SORT", "l", "GET", "#"]),
        "ERR GET option of SORT denied due to insufficient ACL permissions."
    );
    // A BY without `*` reads no key: allowed (it only skips sorting).
    assert_eq!(
        q::<Vec<String>>(some, &["SORT", "l", "BY", "nosort"]),
        ["2", "1"]
    );
    let all = &mut login(&srv, "all", "pw");
    assert_eq!(
        q::<Vec<Option<String>>>(all, &["SORT", "l", "GET", "w_*"]),
        [Some("9".into()), None]
    );
}

/// BITFIELD's key is read-only when it only GETs (Redis's variable key-spec flags).
#[test]
fn bitfield_with_only_gets_needs_read_permission_only() {
    let srv = Server::start(&[]);
    let c = &mut srv.client();
    ok(
        c,
        &["ACL", "SETUSER", "r", "on", ">pw", "%R~read*", "+@all"],
    );
    let r = &mut login(&srv, "r", "pw");
    assert_eq!(
        q::<Vec<i64>>(r, &["BITFIELD", "readstr", "GET", "u4", "0"]),
        [0]
    );
    for args in [
        &["BITFIELD", "readstr", "SET", "u4", "0", "1"][..],
        &[
            "BITFIELD", "readstr", "GET", "u4", "0", "INCRBY", "u4", "0", "1",
        ],
    ] {
        assert!(err(r, args).starts_with("NOPERM"), "{args:?}");
    }
}

/// ACL LOG says where a refused command came from: a MULTI queue, EXEC's re-check after the
/// rules changed, or a script.
#[test]
fn acl_log_contexts_multi_exec_recheck_and_lua() {
    let srv = Server::start(&[]);
    let admin = &mut srv.client();
    ok(
        admin,
        &["ACL", "SETUSER", "u", "on", ">pw", "~*", "+@all", "-incr"],
    );
    let u = &mut login(&srv, "u", "pw");
    let newest = |c: &mut Connection| acl_log(c).into_iter().next().expect("a log entry");

    ok(u, &["MULTI"]);
    assert!(err(u, &["INCR", "k"]).starts_with("NOPERM"));
    assert!(err(u, &["EXEC"]).starts_with("EXECABORT"));
    let e = newest(admin);
    assert_eq!(
        (e["context"].as_str(), e["object"].as_str()),
        ("multi", "incr")
    );

    // Allowed when queued, refused at EXEC: the other commands still run.
    ok(admin, &["ACL", "SETUSER", "u", "+incr"]);
    let mut raw = srv.raw();
    let mut say = |req: &[u8], want: &[u8]| {
        assert_eq!(raw_roundtrip(&mut raw, req, want.len()), want);
    };
    say(b"AUTH u pw\r\n", b"+OK\r\n");
    say(b"MULTI\r\n", b"+OK\r\n");
    say(b"INCR k\r\n", b"+QUEUED\r\n");
    say(b"SET j 1\r\n", b"+QUEUED\r\n");
    ok(admin, &["ACL", "SETUSER", "u", "-incr"]);
    say(
        b"EXEC\r\n",
        b"*2\r\n-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to execute the command or subcommand\r\n+OK\r\n",
    );
    assert_eq!(q::<Option<String>>(admin, &["GET", "k"]), None);
    let e = newest(admin);
    assert_eq!(
        (e["context"].as_str(), e["object"].as_str()),
        ("multi", "incr")
    );

    // Redis 7.0's wording for a script's call (script.c), not the top-level NOPERM.
    assert!(err(u, &["EVAL", "return redis.call('incr','k')", "0"])
        .starts_with("ERR The user executing the script can't run this command or subcommand"));
    let e = newest(admin);
    assert_eq!(
        (e["context"].as_str(), e["object"].as_str()),
        ("lua", "incr")
    );
    assert!(err(u, &["INCR", "k"]).starts_with("NOPERM"));
    assert_eq!(newest(admin)["context"], "toplevel");
}

#[test]
fn migrate_keys_for_acl() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    q::<()>(
        &mut c,
        &["ACL", "SETUSER", "m", "on", "nopass", "+@all", "~rw"],
    );
    let dry = |c: &mut redis::Connection, args: &[&str]| -> String {
        let mut a = vec!["ACL", "DRYRUN", "m", "MIGRATE", "h", "1"];
        a.extend_from_slice(args);
        q(c, &a)
    };
    assert_eq!(dry(&mut c, &["rw", "0", "500"]), "OK");
    assert_eq!(
        dry(&mut c, &["other", "0", "500"]),
        "This user has no permissions to access the 'other' key"
    );
    // With KEYS, the empty key argument is no key; the listed ones are.
    assert_eq!(dry(&mut c, &["", "0", "500", "KEYS", "rw"]), "OK");
    assert_eq!(
        dry(&mut c, &["", "0", "500", "AUTH", "KEYS", "KEYS", "other"]),
        "This user has no permissions to access the 'other' key"
    );
}

/// The sequence of a client library's own ACL LOG test (redis-py test_acl_log): the
/// library's connection handshake sends CLIENT SETINFO, which Redis 7.0 does not have
/// (unknown subcommand, answered before any ACL check): it must not add a third entry.
#[test]
fn acl_log_counts_as_redis_7_0_for_a_client_library_sequence() {
    let srv = Server::start(&[]);
    let mut admin = srv.client();
    ok(
        &mut admin,
        &[
            "ACL", "SETUSER", "lib-user", "reset", "on", "nopass", "+get", "+set", "+select",
            "~cache:*",
        ],
    );
    ok(&mut admin, &["ACL", "LOG", "RESET"]);
    let mut c = srv.client();
    ok(&mut c, &["AUTH", "lib-user", "x"]);
    for attr in [["LIB-NAME", "redis-py"], ["LIB-VER", "5.0.1"]] {
        assert_eq!(
            err(&mut c, &["CLIENT", "SETINFO", attr[0], attr[1]]),
            "ERR unknown subcommand 'SETINFO'. Try CLIENT HELP."
        );
    }
    ok(&mut c, &["SET", "cache:0", "1"]);
    assert_eq!(q::<String>(&mut c, &["GET", "cache:0"]), "1");
    assert!(err(&mut c, &["GET", "violated_cache:0"]).starts_with("NOPERM"));
    assert!(err(&mut c, &["HSET", "cache:0", "hkey", "hval"]).starts_with("NOPERM"));
    let log = acl_log(&mut admin);
    assert_eq!(log.len(), 2, "{log:?}");
    let one: Vec<Value> = q(&mut admin, &["ACL", "LOG", "1"]);
    assert_eq!(one.len(), 1);
}
