//! Commands clients call on a standalone Redis 7.0 (issue 14.3): CLUSTER answering that
//! cluster support is disabled (and usable in ACL rules), DEBUG ERROR, MODULE, LOLWUT,
//! ROLE and WAIT without replicas.
use crate::common::*;
use redis::Value;

#[test]
fn cluster_exists_disabled_and_in_acl_rules() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    for sub in ["INFO", "NODES", "SLOTS", "SHARDS", "MYID", "HELP", "RESET"] {
        assert_eq!(
            err(&mut c, &["CLUSTER", sub]),
            "ERR This instance has cluster support disabled"
        );
    }
    assert_eq!(
        err(&mut c, &["CLUSTER", "KEYSLOT", "k"]),
        "ERR This instance has cluster support disabled"
    );
    assert!(err(&mut c, &["CLUSTER", "NOPE"]).starts_with("ERR unknown subcommand 'NOPE'"));
    for rule in [
        vec!["ACL", "SETUSER", "a", "+cluster"],
        vec!["ACL", "SETUSER", "b", "+@all", "-cluster"],
        vec!["ACL", "SETUSER", "c", "+cluster|nodes", "+cluster|slots"],
    ] {
        let r: String = q(&mut c, &rule);
        assert_eq!(r, "OK", "{rule:?}");
    }
    // In a script: Redis refuses CLUSTER RESET (noscript), the rest answer disabled.
    let e = err(
        &mut c,
        &["EVAL", "return redis.call('cluster', 'reset')", "0"],
    );
    assert!(
        e.contains("This Redis command is not allowed from script"),
        "{e}"
    );
}

#[test]
fn debug_error_module_lolwut_role_wait() {
    let srv = Server::start(&[]);
    let mut c = srv.client();
    assert_eq!(err(&mut c, &["DEBUG", "ERROR", "boom"]), "ERR boom");
    assert_eq!(
        err(
            &mut c,
            &[
                "DEBUG",
                "ERROR",
                "-LOADING Redis is loading the dataset in memory"
            ]
        ),
        "LOADING Redis is loading the dataset in memory"
    );
    let mods: Vec<Value> = q(&mut c, &["MODULE", "LIST"]);
    assert!(mods.is_empty());
    assert!(err(&mut c, &["MODULE", "LOAD", "/nonexistent.so"])
        .starts_with("ERR MODULE command not allowed"));
    let lol: String = q(&mut c, &["LOLWUT"]);
    assert!(lol.contains("Redis ver. 7.0.15"), "{lol}");
    let lol: String = q(&mut c, &["LOLWUT", "VERSION", "5", "1", "2"]);
    assert!(lol.contains("Redis ver."), "{lol}");
    let role: Value = q(&mut c, &["ROLE"]);
    assert_eq!(
        role,
        Value::Array(vec![
            Value::BulkString(b"master".to_vec()),
            Value::Int(0),
            Value::Array(vec![])
        ])
    );
    let n: i64 = q(&mut c, &["WAIT", "0", "0"]);
    assert_eq!(n, 0);
    let t = std::time::Instant::now();
    let n: i64 = q(&mut c, &["WAIT", "1", "200"]);
    assert_eq!(n, 0);
    assert!(t.elapsed() >= std::time::Duration::from_millis(190));
    assert_eq!(err(&mut c, &["WAIT", "1", "-1"]), "ERR timeout is negative");
    // Inside MULTI WAIT does not block.
    let r: Vec<i64> = redis::pipe()
        .atomic()
        .cmd("WAIT")
        .arg(1)
        .arg(0)
        .query(&mut c)
        .unwrap();
    assert_eq!(r, vec![0]);
}

#[test]
fn module_commands_when_enabled() {
    let srv = Server::start(&["--enable-module-command", "yes"]);
    let mut c = srv.client();
    assert_eq!(
        err(&mut c, &["MODULE", "LOAD", "/nonexistent.so"]),
        "ERR Error loading the extension. Please check the server logs."
    );
    assert_eq!(
        err(&mut c, &["MODULE", "UNLOAD", "x"]),
        "ERR Error unloading module: no such module with that name"
    );
}
