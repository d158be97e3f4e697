//! redis.conf syntax: one directive per line, arguments split like Redis's sdssplitargs,
//! `include` of other files, options repeated on the command line as `--name value ...`.
use super::{lookup, Config};
use crate::resp::parse::split_args;

/// Directives that are not table options but are kept for the modules that own them.
#[derive(Default, Clone, Debug)]
pub struct Extras {
    /// `user ...` lines, for ACL.
    pub users: Vec<Vec<String>>,
    /// `rename-command old new` pairs.
    pub renames: Vec<(String, String)>,
}

pub struct Loader {
    pub config: Config,
    pub extras: Extras,
    /// Whether a `save` line was seen yet (the first one replaces the default, later ones add).
    saw_save: bool,
    depth: usize,
}

impl Default for Loader {
    fn default() -> Self {
        Self::new()
    }
}

impl Loader {
    pub fn new() -> Self {
        Loader {
            config: Config::default(),
            extras: Extras::default(),
            saw_save: false,
            depth: 0,
        }
    }

    /// Load a file (or "-" for stdin).
    pub fn load_file(&mut self, path: &str) -> Result<(), String> {
        let text = if path == "-" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .map_err(|e| format!("Fatal error, can't read config from stdin: {e}"))?;
            s
        } else {
            std::fs::read_to_string(path)
                .map_err(|e| format!("Fatal error, can't open config file '{path}': {e}"))?
        };
        self.load_text(&text, path)
    }

    /// Load directives from text; `origin` names the file (or "command line") in errors.
    pub fn load_text(&mut self, text: &str, origin: &str) -> Result<(), String> {
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            self.directive(line).map_err(|reason| {
                format!(
                    "\n*** FATAL CONFIG FILE ERROR (ferrokv {}) ***\nReading the configuration file {}, at line {}\n>>> '{}'\n{}",
                    env!("CARGO_PKG_VERSION"),
                    origin,
                    i + 1,
                    line,
                    reason
                )
            })?;
        }
        Ok(())
    }

    fn directive(&mut self, line: &str) -> Result<(), String> {
        let (mut buf, mut spans) = (Vec::new(), Vec::new());
        if !split_args(line.as_bytes(), &mut buf, &mut spans) {
            return Err("Unbalanced quotes in configuration line".into());
        }
        let argv: Vec<String> = spans
            .iter()
            .map(|&(s, e)| String::from_utf8_lossy(&buf[s as usize..e as usize]).into_owned())
            .collect();
        if argv.is_empty() {
            return Ok(());
        }
        let name = argv[0].to_ascii_lowercase();
        let args = &argv[1..];
        match name.as_str() {
            "include" => {
                if args.len() != 1 {
                    return Err("Bad directive or wrong number of arguments".into());
                }
                if self.depth > 16 {
                    return Err("include nesting too deep".into());
                }
                self.depth += 1;
                let r = self.load_file(&args[0]);
                self.depth -= 1;
                return r;
            }
            "user" => {
                self.extras.users.push(args.to_vec());
                return Ok(());
            }
            "rename-command" => {
                if args.len() != 2 {
                    return Err("Bad directive or wrong number of arguments".into());
                }
                self.extras.renames.push((args[0].clone(), args[1].clone()));
                return Ok(());
            }
            "loadmodule" => return Err("Modules are not supported by ferrokv".into()),
            _ => {}
        }
        let spec = lookup(&name)
            .ok_or_else(|| "Bad directive or wrong number of arguments".to_string())?;
        let multi_word = matches!(
            spec.name,
            "shutdown-on-sigint"
                | "shutdown-on-sigterm"
                | "save"
                | "bind"
                | "oom-score-adj-values"
                | "latency-tracking-info-percentiles"
                | "client-output-buffer-limit"
        );
        // Options taking several words report their own error for none, as in Redis.
        if args.is_empty() && !multi_word {
            return Err("wrong number of arguments".into());
        }
        let value = match spec.name {
            "replicaof" => {
                if args.len() != 2 {
                    return Err("wrong number of arguments".into());
                }
                let no_one =
                    args[0].eq_ignore_ascii_case("no") && args[1].eq_ignore_ascii_case("one");
                if !no_one && !args[1].parse::<u32>().is_ok_and(|p| p <= 65535) {
                    return Err("Invalid master port".into());
                }
                args.join(" ")
            }
            // Repeated lines accumulate for these, as in redis.conf.
            "save" => {
                if args.len() == 1 && args[0].is_empty() {
                    self.saw_save = true;
                    String::new()
                } else {
                    let prev = if self.saw_save {
                        (spec.get)(&self.config)
                    } else {
                        String::new()
                    };
                    self.saw_save = true;
                    format!("{} {}", prev, args.join(" ")).trim().to_string()
                }
            }
            "client-output-buffer-limit" => {
                let merged = self
                    .config
                    .client_output_buffer_limit
                    .merged(&args.join(" "))?;
                self.config.client_output_buffer_limit = merged;
                return Ok(());
            }
            _ if args.len() > 1 && !multi_word => return Err("wrong number of arguments".into()),
            _ => args.join(" "),
        };
        super::validate(spec, &value)?;
        (spec.set)(&mut self.config, &value)
    }

    /// Turn `--name v1 v2 --other v` command-line words into config text, as redis-server does.
    /// Turn command-line words into config text the way redis-server does: `--name` starts
    /// a line; the words after it are its values, quoted. A `--word` right after an option
    /// name that came alone is taken as that option's value (`--port --bla` sets port to
    /// "--bla"), except after `--save`, which then means `save ""`.
    pub fn args_to_text(words: &[String]) -> Result<String, String> {
        let mut text = String::new();
        // Whether the last option already has a value (or was given as "--name value").
        let mut has_value = true;
        for (i, w) in words.iter().enumerate() {
            let next_is_option = words.get(i + 1).is_some_and(|n| n.starts_with("--"));
            match w.strip_prefix("--") {
                Some(name) if has_value => {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(name);
                    text.push(' ');
                    let (mut buf, mut spans) = (Vec::new(), Vec::new());
                    let alone = !split_args(w.as_bytes(), &mut buf, &mut spans) || spans.len() <= 1;
                    has_value = !alone;
                    if alone
                        && w.eq_ignore_ascii_case("--save")
                        && (next_is_option || i + 1 == words.len())
                    {
                        text.push_str("\"\"");
                        has_value = true;
                    }
                }
                _ => {
                    text.push_str(&quote_always(w));
                    text.push(' ');
                    has_value = true;
                }
            }
        }
        Ok(text)
    }
}

/// A word in double quotes, escaped like Redis's sdscatrepr.
pub fn quote_always(w: &str) -> String {
    let mut s = String::from("\"");
    for c in w.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                s.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// Quote a word so split_args gives it back unchanged.
pub fn quote(w: &str) -> String {
    if !w.is_empty()
        && !w
            .bytes()
            .any(|c| c.is_ascii_whitespace() || c == b'"' || c == b'\'' || c == b'\\')
    {
        return w.to_string();
    }
    let mut s = String::from("\"");
    for c in w.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn file_lines_and_errors() {
        let mut l = Loader::new();
        l.load_text("# c\nport 7000\nsave 10 1\nsave 20 2\nbind 127.0.0.1 -::1\nclient-output-buffer-limit pubsub 1mb 2mb 3\n", "t.conf").unwrap();
        assert_eq!(l.config.port, 7000);
        assert_eq!(l.config.get("save").unwrap(), "10 1 20 2");
        assert_eq!(l.config.get("bind").unwrap(), "127.0.0.1 -::1");
        assert_eq!(l.config.client_output_buffer_limit.0[2].hard, 1 << 20);
        assert_eq!(l.config.client_output_buffer_limit.0[0].hard, 0);
        let err = Loader::new()
            .load_text("port 1\nport abc\n", "bad.conf")
            .unwrap_err();
        assert!(err.contains("bad.conf, at line 2"), "{err}");
        assert!(err.contains(">>> 'port abc'"), "{err}");
        assert!(
            err.contains("argument couldn't be parsed into an integer"),
            "{err}"
        );
        let err = Loader::new().load_text("nosuchthing 1\n", "x").unwrap_err();
        assert!(err.contains("Bad directive or wrong number of arguments"));
    }
    #[test]
    fn command_line_words() {
        let t = Loader::args_to_text(&[
            "--port".into(),
            "7001".into(),
            "--save".into(),
            "".into(),
            "--requirepass".into(),
            "a b".into(),
        ])
        .unwrap();
        let mut l = Loader::new();
        l.load_text(&t, "command line").unwrap();
        assert_eq!(l.config.port, 7001);
        assert_eq!(l.config.get("save").unwrap(), "");
        assert_eq!(l.config.requirepass, "a b");
    }
}
