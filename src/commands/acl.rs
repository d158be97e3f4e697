//! ACL: SETUSER GETUSER DELUSER LIST USERS WHOAMI CAT GENPASS LOG SAVE LOAD DRYRUN HELP.
//! The model and the checks live in `crate::acl`.
use super::*;
use crate::acl::{self, User};
use crate::util::eq_ic;

const F: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
const NOT_ADMIN: u32 = NOSCRIPT | LOADING | STALE;

pub static COMMANDS: &[Command] = &[cmd("acl", -2, 0, 0, container).subs(ACL)];

static ACL: &[Command] = &[
    cmd("cat", -2, NOT_ADMIN, 0, acl_cat),
    cmd("deluser", -3, F, 0, acl_deluser),
    cmd("dryrun", -4, F, 0, acl_dryrun),
    cmd("genpass", -2, NOT_ADMIN, 0, acl_genpass),
    cmd("getuser", 3, F, 0, acl_getuser),
    cmd("help", 2, LOADING | STALE, 0, acl_help),
    cmd("list", 2, F, 0, acl_list),
    cmd("load", 2, F, 0, acl_load),
    cmd("log", -2, F, 0, acl_log),
    cmd("save", 2, F, 0, acl_save),
    cmd("setuser", -3, F, 0, acl_setuser),
    cmd("users", 2, F, 0, acl_users),
    cmd("whoami", 2, NOT_ADMIN, 0, acl_whoami),
];

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

fn acl_setuser(ctx: &mut Ctx, args: Args) {
    let name = args.get(2);
    if crate::acl::rules_has_spaces(name) {
        return ctx
            .out
            .error("ERR Usernames can't contain spaces or null characters");
    }
    let ops: Vec<Vec<u8>> = args.iter().skip(3).map(|a| a.to_vec()).collect();
    let all = acl::pubsub_default_all(ctx.srv);
    let mut user = ctx
        .srv
        .admin
        .acl
        .user(name)
        .cloned()
        .unwrap_or_else(|| User::new(name, all));
    match user.apply_all(&ops, &ctx.srv.cmds, all) {
        Ok(()) => {
            ctx.srv.admin.acl.users.insert(name.to_vec(), user);
            acl::kill_revoked_subscribers(ctx.srv, name, ctx.id);
            ctx.out.ok();
        }
        Err(e) => ctx.out.error(&format!("ERR {e}")),
    }
}

fn acl_deluser(ctx: &mut Ctx, args: Args) {
    if args.iter().skip(2).any(|n| n == b"default") {
        return ctx.out.error("ERR The 'default' user cannot be removed");
    }
    let mut deleted = 0;
    for name in args.iter().skip(2) {
        if ctx.srv.admin.acl.users.remove(name).is_some() {
            acl::kill_user_clients(ctx.srv, name, ctx.id);
            deleted += 1;
        }
    }
    ctx.out.int(deleted);
}

fn selector_fields(out: &mut crate::resp::Reply, s: &acl::Selector, table: &Table) {
    out.bulk_str("commands");
    out.bulk_str(&s.describe_commands(table));
    out.bulk_str("keys");
    out.bulk_str(&s.describe_keys());
    out.bulk_str("channels");
    out.bulk_str(&s.describe_channels());
}

fn acl_getuser(ctx: &mut Ctx, args: Args) {
    let Some(u) = ctx.srv.admin.acl.user(args.get(2)) else {
        return ctx.out.null();
    };
    let table = &ctx.srv.cmds;
    let out = &mut *ctx.out;
    out.map(6);
    out.bulk_str("flags");
    let flags = u.flags();
    out.set(flags.len());
    for f in flags {
        out.bulk_str(f);
    }
    out.bulk_str("passwords");
    let pw = u.password_hexes();
    out.array(pw.len());
    for p in pw {
        out.bulk_str(&p);
    }
    selector_fields(out, u.root(), table);
    out.bulk_str("selectors");
    out.array(u.selectors.len() - 1);
    for s in &u.selectors[1..] {
        out.map(3);
        selector_fields(out, s, table);
    }
}

fn acl_list(ctx: &mut Ctx, _: Args) {
    let lines: Vec<String> = ctx
        .srv
        .admin
        .acl
        .users
        .iter()
        .map(|(n, u)| format!("user {} {}", lossy(n), u.describe(&ctx.srv.cmds)))
        .collect();
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.bulk_str(&l);
    }
}

fn acl_users(ctx: &mut Ctx, _: Args) {
    let out = &mut *ctx.out;
    out.array(ctx.srv.admin.acl.users.len());
    for n in ctx.srv.admin.acl.users.keys() {
        out.bulk(n);
    }
}

fn acl_whoami(ctx: &mut Ctx, _: Args) {
    let name = ctx.client().user.clone();
    ctx.out.bulk_str(&name);
}

const NO_ACLFILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

fn acl_load(ctx: &mut Ctx, _: Args) {
    if ctx.srv.cfg.aclfile.is_empty() {
        return ctx.out.error(NO_ACLFILE);
    }
    let path = ctx.srv.cfg.aclfile.clone();
    match acl::load_file(ctx.srv, &path) {
        Ok(users) => {
            acl::replace_users(ctx.srv, users, ctx.id);
            ctx.out.ok();
        }
        Err(e) => ctx.out.error(&format!("ERR {e}")),
    }
}

fn acl_save(ctx: &mut Ctx, _: Args) {
    if ctx.srv.cfg.aclfile.is_empty() {
        return ctx.out.error(NO_ACLFILE);
    }
    let path = ctx.srv.cfg.aclfile.clone();
    let text = acl::save_text(ctx.srv);
    // Write a temporary file and rename it over the old one, so a crash leaves either.
    let tmp = format!(
        "{}.tmp-{}-{}",
        path,
        std::process::id(),
        crate::util::now_ms()
    );
    let res = std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, &path));
    match res {
        Ok(()) => ctx.out.ok(),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            crate::warn!("Writing ACL file for ACL SAVE: {}", e);
            ctx.out.error("ERR There was an error trying to save the ACLs. Please check the server logs for more information");
        }
    }
}

fn acl_cat(ctx: &mut Ctx, args: Args) {
    if args.len() == 2 {
        ctx.out.array(CATEGORY_NAMES.len());
        for (_, n) in CATEGORY_NAMES {
            ctx.out.bulk_str(n);
        }
        return;
    }
    if args.len() > 3 {
        return subcommand_syntax_error(ctx, args);
    }
    let cat = args.get(2);
    let Some(&(flag, _)) = CATEGORY_NAMES
        .iter()
        .find(|(_, n)| cat.eq_ignore_ascii_case(n.as_bytes()))
    else {
        let c = &cat[..cat.len().min(128)];
        return ctx
            .out
            .error(&format!("ERR Unknown category '{}'", lossy(c)));
    };
    let names: Vec<&str> = ctx
        .srv
        .cmds
        .entries
        .iter()
        .filter(|e| e.acl & flag != 0)
        .map(|e| e.full_name.as_str())
        .collect();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk_str(n);
    }
}

fn acl_genpass(ctx: &mut Ctx, args: Args) {
    if args.len() > 3 {
        return subcommand_syntax_error(ctx, args);
    }
    let mut bits = 256;
    if args.len() == 3 {
        let Some(b) = int_arg(ctx, args.get(2)) else {
            return;
        };
        bits = b;
    }
    if bits <= 0 || bits > 4096 {
        return ctx.out.error("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096");
    }
    let chars = ((bits + 3) / 4) as usize;
    ctx.out.bulk_str(&crate::server::random_hex(chars));
}

fn acl_log(ctx: &mut Ctx, args: Args) {
    if args.len() > 3 {
        return subcommand_syntax_error(ctx, args);
    }
    let mut count = 10i64;
    if args.len() == 3 {
        if eq_ic(args.get(2), "reset") {
            ctx.srv.admin.acl.log.clear();
            return ctx.out.ok();
        }
        let Some(n) = int_arg(ctx, args.get(2)) else {
            return;
        };
        count = n.max(0);
    }
    let now = crate::util::now_ms();
    let n = (count as usize).min(ctx.srv.admin.acl.log.len());
    let out = &mut *ctx.out;
    out.array(n);
    for e in ctx.srv.admin.acl.log.iter().take(n) {
        out.map(7);
        out.bulk_str("count");
        out.int(e.count as i64);
        out.bulk_str("reason");
        out.bulk_str(e.reason_str());
        out.bulk_str("context");
        out.bulk_str(e.context);
        out.bulk_str("object");
        out.bulk(&e.object);
        out.bulk_str("username");
        out.bulk(&e.username);
        out.bulk_str("age-seconds");
        out.double((now - e.ctime_ms) as f64 / 1000.0);
        out.bulk_str("client-info");
        out.bulk_str(&e.client_info);
    }
}

fn acl_dryrun(ctx: &mut Ctx, args: Args) {
    let Some(user) = ctx.srv.admin.acl.user(args.get(2)) else {
        return ctx
            .out
            .error(&format!("ERR User '{}' not found", lossy(args.get(2))));
    };
    let cmd_args = args.tail(3);
    let table = &ctx.srv.cmds;
    let Some(mut id) = table.lookup(cmd_args.get(0)) else {
        return ctx.out.error(&format!(
            "ERR Command '{}' not found",
            lossy(cmd_args.get(0))
        ));
    };
    if !table.entries[id].subs.is_empty() && cmd_args.len() >= 2 {
        match table.lookup_sub(id, cmd_args.get(1)) {
            Some(s) => id = s,
            None => {
                return ctx.out.error(&format!(
                    "ERR Command '{}' not found",
                    lossy(cmd_args.get(0))
                ))
            }
        }
    }
    let e = &table.entries[id];
    if !arity_ok(e.cmd.arity, cmd_args.len()) {
        return ctx.out.error(&format!(
            "ERR wrong number of arguments for '{}' command",
            e.full_name
        ));
    }
    let argv: Vec<&[u8]> = cmd_args.iter().collect();
    match acl::user_check(user, table, id, &argv) {
        Ok(()) => ctx.out.ok(),
        Err((why, pos)) => {
            let msg = match why {
                acl::Denial::Command => format!(
                    "This user has no permissions to run the '{}' command",
                    e.full_name
                ),
                acl::Denial::Key => format!(
                    "This user has no permissions to access the '{}' key",
                    lossy(argv[pos])
                ),
                _ => format!(
                    "This user has no permissions to access the '{}' channel",
                    lossy(argv[pos])
                ),
            };
            ctx.out.bulk_str(&msg);
        }
    }
}

fn subcommand_syntax_error(ctx: &mut Ctx, args: Args) {
    ctx.out.error(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
        lossy(args.get(1))
    ));
}

fn acl_help(ctx: &mut Ctx, _: Args) {
    super::server::help(
        ctx,
        "ACL",
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    );
}
