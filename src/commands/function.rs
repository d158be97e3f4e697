//! FUNCTION: ferrokv has no function libraries yet (scripting is its own work), so the
//! registry is always empty; FLUSH and LIST answer as Redis does for an empty registry.
use super::*;

pub static COMMANDS: &[Command] = &[cmd("function", -2, 0, SCRIPTING, (0, 0, 0), container)
    .subs(FUNCTION)
    .doc("A container for function commands", "7.0.0")];

static FUNCTION: &[Command] = &[
    cmd("flush", -2, WRITE | NOSCRIPT, SCRIPTING, (0, 0, 0), flush)
        .doc("Deletes all libraries and functions", "7.0.0"),
    cmd("list", -2, NOSCRIPT, SCRIPTING, (0, 0, 0), list)
        .doc("Returns information about all libraries", "7.0.0"),
];

/// FUNCTION FLUSH [ASYNC|SYNC]
fn flush(ctx: &mut Ctx, args: Args) {
    match args.len() {
        2 => ctx.out.ok(),
        3 if crate::util::eq_ic(args.get(2), "async")
            || crate::util::eq_ic(args.get(2), "sync") =>
        {
            ctx.out.ok()
        }
        3 => ctx
            .out
            .error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"),
        _ => ctx.out.error(SYNTAX),
    }
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]: the registry is empty.
fn list(ctx: &mut Ctx, _: Args) {
    ctx.out.array(0);
}
