//! Users and selectors, and the ACL rule language that edits them (ACL SETUSER, `user`
//! lines, the aclfile), with Redis 7.0's parsing, error texts and descriptions.
use crate::commands::{Table, CATEGORY_NAMES};
use std::collections::BTreeMap;

/// A rule that could not be applied (Redis's errno cases, with its texts).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RuleError {
    UnknownCommand,
    Syntax,
    KeysAfterAll,
    ChannelsAfterAll,
    NoSuchPassword,
    BadHash,
    SubcommandFirstArg,
}

impl RuleError {
    pub fn message(self) -> &'static str {
        match self {
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeysAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelsAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::SubcommandFirstArg => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct KeyPattern {
    /// KEY_READ | KEY_WRITE.
    pub flags: u8,
    pub pattern: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
pub struct Selector {
    /// Allowed command ids (the command table's entry index).
    pub bits: Vec<bool>,
    /// Set by +@all: every command including ones added later; cleared only by -@all.
    pub future: bool,
    /// Every command allowed (no bit was cleared since +@all).
    pub all_commands: bool,
    /// `+cmd|arg` for a command without subcommands: allowed first arguments.
    pub first_args: BTreeMap<usize, Vec<Vec<u8>>>,
    pub all_keys: bool,
    pub patterns: Vec<KeyPattern>,
    pub all_channels: bool,
    pub channels: Vec<Vec<u8>>,
}

impl Selector {
    pub fn new(pubsub_all: bool) -> Selector {
        Selector {
            all_channels: pubsub_all,
            ..Default::default()
        }
    }
    #[inline]
    pub fn allowed(&self, id: usize) -> bool {
        self.bits.get(id).copied().unwrap_or(false)
    }
    fn set_bit(&mut self, id: usize, on: bool) {
        if self.bits.len() <= id {
            self.bits.resize(id + 1, false);
        }
        self.bits[id] = on;
        if !on {
            self.all_commands = false;
        }
    }
    /// Allow or deny a command; a container's subcommands follow it.
    fn change_perm(&mut self, table: &Table, id: usize, on: bool) {
        self.set_bit(id, on);
        self.first_args.remove(&id);
        for &sid in table.entries[id].subs.values() {
            self.set_bit(sid, on);
        }
    }
    fn set_category(&mut self, table: &Table, flag: u32, on: bool) {
        for id in 0..table.entries.len() {
            if table.entries[id].acl & flag != 0 {
                self.change_perm(table, id, on);
            }
        }
    }
    pub fn key_ok(&self, key: &[u8], need: u8) -> bool {
        self.all_keys
            || self
                .patterns
                .iter()
                .any(|p| p.flags & need == need && crate::util::glob_match(&p.pattern, key, false))
    }
    pub fn channel_ok(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.all_channels
            || self.channels.iter().any(|p| {
                if is_pattern {
                    p.as_slice() == channel
                } else {
                    crate::util::glob_match(p, channel, false)
                }
            })
    }

    /// One selector rule (`~pat`, `+cmd`, `-@cat`, `allkeys`, ...).
    pub fn apply(&mut self, op: &[u8], table: &Table) -> Result<(), RuleError> {
        let is = |w: &str| op.eq_ignore_ascii_case(w.as_bytes());
        if is("allkeys") || is("~*") {
            self.all_keys = true;
            self.patterns.clear();
        } else if is("resetkeys") {
            self.all_keys = false;
            self.patterns.clear();
        } else if is("allchannels") || is("&*") {
            self.all_channels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.all_channels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.bits = vec![true; table.len()];
            self.future = true;
            self.all_commands = true;
            self.first_args.clear();
        } else if is("nocommands") || is("-@all") {
            self.bits.clear();
            self.future = false;
            self.all_commands = false;
            self.first_args.clear();
        } else if op.first() == Some(&b'~') || op.first() == Some(&b'%') {
            if self.all_keys {
                return Err(RuleError::KeysAfterAll);
            }
            let (flags, pattern) = parse_key_pattern(op)?;
            if has_spaces(pattern) {
                return Err(RuleError::Syntax);
            }
            match self.patterns.iter_mut().find(|p| p.pattern == pattern) {
                Some(p) => p.flags |= flags,
                None => self.patterns.push(KeyPattern {
                    flags,
                    pattern: pattern.to_vec(),
                }),
            }
        } else if op.first() == Some(&b'&') {
            if self.all_channels {
                return Err(RuleError::ChannelsAfterAll);
            }
            let pat = &op[1..];
            if has_spaces(pat) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c == pat) {
                self.channels.push(pat.to_vec());
            }
        } else if op.len() >= 2 && (op[0] == b'+' || op[0] == b'-') && op[1] == b'@' {
            let flag = category_flag(&op[2..]).ok_or(RuleError::UnknownCommand)?;
            self.set_category(table, flag, op[0] == b'+');
        } else if op.first() == Some(&b'+') {
            let name = &op[1..];
            match name.iter().rposition(|&b| b == b'|') {
                None => {
                    let id = lookup_command(table, name).ok_or(RuleError::UnknownCommand)?;
                    self.change_perm(table, id, true);
                }
                Some(bar) => {
                    let (base, sub) = (&name[..bar], &name[bar + 1..]);
                    let id = lookup_command(table, base).ok_or(RuleError::UnknownCommand)?;
                    if table.entries[id].parent.is_some() {
                        return Err(RuleError::SubcommandFirstArg);
                    }
                    if sub.is_empty() {
                        return Err(RuleError::Syntax);
                    }
                    if !table.entries[id].subs.is_empty() {
                        let sid = table.lookup_sub(id, sub).ok_or(RuleError::UnknownCommand)?;
                        self.change_perm(table, sid, true);
                    } else {
                        crate::warn!(
                            "Deprecation warning: Allowing a first arg of an otherwise blocked command is a misuse of ACL and may get disabled in the future (offender: +{})",
                            String::from_utf8_lossy(name)
                        );
                        let list = self.first_args.entry(id).or_default();
                        if !list.iter().any(|a| a.eq_ignore_ascii_case(sub)) {
                            list.push(sub.to_vec());
                        }
                    }
                }
            }
        } else if op.first() == Some(&b'-') {
            let id = lookup_command(table, &op[1..]).ok_or(RuleError::UnknownCommand)?;
            self.change_perm(table, id, false);
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    /// The command rules as `+@all`/`-@all`, best-fitting categories, then single commands
    /// (Redis's algorithm, so ACL LIST and GETUSER read the same).
    pub fn describe_commands(&self, table: &Table) -> String {
        let n = table.len();
        let bit = |s: &Selector, id: usize| s.allowed(id);
        let mut rules = String::new();
        let mut fake = Selector::default();
        let additive = !self.future;
        if additive {
            rules.push_str("-@all ");
            let _ = fake.apply(b"-@all", table);
        } else {
            rules.push_str("+@all ");
            let _ = fake.apply(b"+@all", table);
        }
        let mut temp = self.clone();
        let mut applied = vec![false; CATEGORY_NAMES.len()];
        loop {
            let mut best = None;
            let (mut mindiff, mut maxsame) = (usize::MAX, 0usize);
            for (j, &(flag, _)) in CATEGORY_NAMES.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let (mut on, mut off) = (0usize, 0usize);
                for id in 0..n {
                    if table.entries[id].acl & flag != 0 {
                        if bit(&temp, id) {
                            on += 1;
                        } else {
                            off += 1;
                        }
                    }
                }
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some(j);
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some(j) = best else { break };
            let (flag, name) = CATEGORY_NAMES[j];
            fake.set_category(table, flag, additive);
            temp.set_category(table, flag, !additive);
            rules.push_str(if additive { "+@" } else { "-@" });
            rules.push_str(name);
            rules.push(' ');
            applied[j] = true;
        }
        for id in 0..n {
            let user_bit = bit(self, id);
            if user_bit != bit(&fake, id) {
                rules.push(if user_bit { '+' } else { '-' });
                rules.push_str(&table.entries[id].full_name);
                rules.push(' ');
                fake.change_perm(table, id, user_bit);
            }
            if !user_bit {
                if let Some(list) = self.first_args.get(&id) {
                    for a in list {
                        rules.push('+');
                        rules.push_str(&table.entries[id].full_name);
                        rules.push('|');
                        rules.push_str(&String::from_utf8_lossy(a));
                        rules.push(' ');
                    }
                }
            }
        }
        rules.pop();
        rules
    }

    /// Key patterns as ACL GETUSER shows them.
    pub fn describe_keys(&self) -> String {
        if self.all_keys {
            return "~*".into();
        }
        self.patterns
            .iter()
            .map(pattern_string)
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn describe_channels(&self) -> String {
        if self.all_channels {
            return "&*".into();
        }
        self.channels
            .iter()
            .map(|c| format!("&{}", String::from_utf8_lossy(c)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Keys, channels and commands in rule form (ACL LIST, ACL SAVE).
    pub fn describe(&self, table: &Table) -> String {
        let mut s = String::new();
        if self.all_keys {
            s.push_str("~* ");
        } else {
            for p in &self.patterns {
                s.push_str(&pattern_string(p));
                s.push(' ');
            }
        }
        if self.all_channels {
            s.push_str("&* ");
        } else {
            s.push_str("resetchannels ");
            for c in &self.channels {
                s.push('&');
                s.push_str(&String::from_utf8_lossy(c));
                s.push(' ');
            }
        }
        s.push_str(&self.describe_commands(table));
        s
    }
}

fn pattern_string(p: &KeyPattern) -> String {
    let prefix = match p.flags {
        1 => "%R~",
        2 => "%W~",
        _ => "~",
    };
    format!("{}{}", prefix, String::from_utf8_lossy(&p.pattern))
}

/// `~pat`, `%R~pat`, `%W~pat`, `%RW~pat`: the access flags and the pattern.
fn parse_key_pattern(op: &[u8]) -> Result<(u8, &[u8]), RuleError> {
    if op[0] == b'~' {
        return Ok((super::KEY_READ | super::KEY_WRITE, &op[1..]));
    }
    let mut flags = 0u8;
    let mut i = 1;
    while i < op.len() {
        match op[i].to_ascii_uppercase() {
            b'R' if flags & super::KEY_READ == 0 => flags |= super::KEY_READ,
            b'W' if flags & super::KEY_WRITE == 0 => flags |= super::KEY_WRITE,
            b'~' => {
                i += 1;
                break;
            }
            _ => return Err(RuleError::Syntax),
        }
        i += 1;
    }
    if flags == 0 {
        return Err(RuleError::Syntax);
    }
    Ok((flags, &op[i.min(op.len())..]))
}

fn category_flag(name: &[u8]) -> Option<u32> {
    CATEGORY_NAMES
        .iter()
        .find(|(_, n)| name.eq_ignore_ascii_case(n.as_bytes()))
        .map(|&(f, _)| f)
}

/// `get` or `config|get`, case-insensitively.
pub fn lookup_command(table: &Table, name: &[u8]) -> Option<usize> {
    let mut parts = name.split(|&b| b == b'|');
    let base = parts.next()?;
    let id = table.lookup(base)?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(id),
        (Some(sub), None) => table.lookup_sub(id, sub),
        _ => None,
    }
}

/// Spaces and NUL are refused in user names and patterns (they would not round-trip).
pub fn has_spaces(s: &[u8]) -> bool {
    s.iter()
        .any(|&b| b == 0 || matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
}

/// Join arguments of a selector spread over several words: `(~a` `+get)` -> `(~a +get)`.
/// Err holds the index of the word that opened an unmatched parenthesis.
pub fn merge_selector_args(args: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, usize> {
    let mut out = Vec::new();
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (j, a) in args.iter().enumerate() {
        if let Some((start, mut sel)) = open.take() {
            sel.push(b' ');
            sel.extend_from_slice(a);
            if a.last() == Some(&b')') {
                out.push(sel);
            } else {
                open = Some((start, sel));
            }
            continue;
        }
        if a.first() == Some(&b'(') && a.last() != Some(&b')') {
            open = Some((j, a.clone()));
            continue;
        }
        out.push(a.clone());
    }
    match open {
        Some((start, _)) => Err(start),
        None => Ok(out),
    }
}

#[derive(Clone, Debug)]
pub struct User {
    pub name: Vec<u8>,
    pub enabled: bool,
    pub nopass: bool,
    /// Some(true): sanitize-payload, Some(false): skip-sanitize-payload.
    pub sanitize: Option<bool>,
    pub passwords: Vec<[u8; 32]>,
    /// The root selector first, then `(...)` selectors in order.
    pub selectors: Vec<Selector>,
}

impl User {
    /// A new user: off, no passwords, no commands, no keys; channels per acl-pubsub-default.
    pub fn new(name: &[u8], pubsub_all: bool) -> User {
        User {
            name: name.to_vec(),
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            selectors: vec![Selector::new(pubsub_all)],
        }
    }
    /// `default`: on nopass ~* &* +@all.
    pub fn default_user() -> User {
        let mut u = User::new(b"default", false);
        u.enabled = true;
        u.nopass = true;
        let root = &mut u.selectors[0];
        root.all_keys = true;
        root.all_channels = true;
        root.future = true;
        root.all_commands = true;
        root.bits = vec![true; 4096];
        u
    }
    /// Runs anything without looking further (the common case: the default user).
    #[inline]
    pub fn unrestricted(&self) -> bool {
        let r = &self.selectors[0];
        r.all_commands && r.all_keys && r.all_channels
    }
    pub fn root(&self) -> &Selector {
        &self.selectors[0]
    }

    /// One rule (user flag, password, selector or root-selector rule).
    pub fn apply(&mut self, op: &[u8], table: &Table, pubsub_all: bool) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let is = |w: &str| op.eq_ignore_ascii_case(w.as_bytes());
        if is("on") {
            self.enabled = true;
        } else if is("off") {
            self.enabled = false;
        } else if is("skip-sanitize-payload") {
            self.sanitize = Some(false);
        } else if is("sanitize-payload") {
            self.sanitize = Some(true);
        } else if is("nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is("resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let h = if op[0] == b'>' {
                super::hash_password(&op[1..])
            } else {
                parse_hash(&op[1..])?
            };
            if !self.passwords.contains(&h) {
                self.passwords.push(h);
            }
            self.nopass = false;
        } else if op[0] == b'<' || op[0] == b'!' {
            let h = if op[0] == b'<' {
                super::hash_password(&op[1..])
            } else {
                parse_hash(&op[1..])?
            };
            let i = self
                .passwords
                .iter()
                .position(|p| *p == h)
                .ok_or(RuleError::NoSuchPassword)?;
            self.passwords.remove(i);
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let mut sel = Selector::new(pubsub_all);
            let inner = &op[1..op.len() - 1];
            let (mut buf, mut spans) = (Vec::new(), Vec::new());
            if crate::resp::parse::split_args(inner, &mut buf, &mut spans) {
                for &(s, e) in &spans {
                    sel.apply(&buf[s as usize..e as usize], table)?;
                }
            } else {
                return Err(RuleError::Syntax);
            }
            self.selectors.push(sel);
        } else if is("clearselectors") {
            self.selectors.truncate(1);
        } else if is("reset") {
            for r in ["resetpass", "resetkeys", "resetchannels"] {
                self.apply(r.as_bytes(), table, pubsub_all)?;
            }
            if pubsub_all {
                self.apply(b"allchannels", table, pubsub_all)?;
            }
            for r in ["off", "sanitize-payload", "clearselectors", "-@all"] {
                self.apply(r.as_bytes(), table, pubsub_all)?;
            }
        } else {
            self.selectors[0].apply(op, table)?;
        }
        Ok(())
    }

    /// Apply a list of rules atomically: all of them or none (ACL SETUSER).
    pub fn apply_all(
        &mut self,
        ops: &[Vec<u8>],
        table: &Table,
        pubsub_all: bool,
    ) -> Result<(), String> {
        let merged = merge_selector_args(ops).map_err(|i| {
            format!(
                "Unmatched parenthesis in acl selector starting at '{}'.",
                String::from_utf8_lossy(&ops[i])
            )
        })?;
        let mut staged = self.clone();
        for op in &merged {
            staged.apply(op, table, pubsub_all).map_err(|e| {
                format!(
                    "Error in ACL SETUSER modifier '{}': {}",
                    String::from_utf8_lossy(op),
                    e.message()
                )
            })?;
        }
        *self = staged;
        Ok(())
    }

    /// Flags as Redis orders them.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut f = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        match self.sanitize {
            Some(false) => f.push("skip-sanitize-payload"),
            Some(true) => f.push("sanitize-payload"),
            None => {}
        }
        f
    }

    pub fn password_hexes(&self) -> Vec<String> {
        self.passwords.iter().map(hex::encode).collect()
    }

    /// The whole user in rule form, as ACL LIST and the aclfile show it.
    pub fn describe(&self, table: &Table) -> String {
        let mut s = String::new();
        for f in self.flags() {
            s.push_str(f);
            s.push(' ');
        }
        for h in self.password_hexes() {
            s.push('#');
            s.push_str(&h);
            s.push(' ');
        }
        for (i, sel) in self.selectors.iter().enumerate() {
            if i == 0 {
                s.push_str(&sel.describe(table));
            } else {
                s.push_str(&format!(" ({})", sel.describe(table)));
            }
        }
        s
    }
}

fn parse_hash(h: &[u8]) -> Result<[u8; 32], RuleError> {
    if h.len() != 64 || !h.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(RuleError::BadHash);
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(h, &mut out).map_err(|_| RuleError::BadHash)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::{families, Table};

    fn table() -> Table {
        Table::build(&families())
    }

    #[test]
    fn describe_round_trips() {
        let t = table();
        let mut u = User::new(b"x", false);
        let ops: Vec<Vec<u8>> = [
            "on",
            ">p",
            "~k*",
            "%R~r*",
            "&ch",
            "+@string",
            "-set",
            "+select|0",
            "(+get ~z*)",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        u.apply_all(&ops, &t, false).unwrap();
        let d = u.describe(&t);
        assert!(d.starts_with("on #"), "{d}");
        assert!(
            d.contains("~k* %R~r* resetchannels &ch -@all +@string"),
            "{d}"
        );
        assert!(d.contains("-set"), "{d}");
        assert!(d.contains("+select|0"), "{d}");
        assert!(d.ends_with("(~z* resetchannels -@all +get)"), "{d}");
        // Reapplying the description gives the same description.
        let mut v = User::new(b"x", false);
        let words: Vec<Vec<u8>> = d.split(' ').map(|w| w.as_bytes().to_vec()).collect();
        v.apply_all(&words, &t, false).unwrap();
        assert_eq!(v.describe(&t), d);
    }

    #[test]
    fn errors_leave_user_unchanged() {
        let t = table();
        let mut u = User::new(b"x", false);
        let err = u
            .apply_all(&[b"on".to_vec(), b"+nosuch".to_vec()], &t, false)
            .unwrap_err();
        assert_eq!(
            err,
            "Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL"
        );
        assert!(!u.enabled);
        assert_eq!(
            u.apply_all(&[b"(~a".to_vec(), b"+get".to_vec()], &t, false)
                .unwrap_err(),
            "Unmatched parenthesis in acl selector starting at '(~a'."
        );
    }
}
