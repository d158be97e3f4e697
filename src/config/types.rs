//! Value kinds of config options and how each parses and prints, with Redis's messages.
use crate::util::parse_memory;

pub const IMMUTABLE: u8 = 1;
/// Shown only when asked for by exact name (CONFIG GET with a pattern skips it).
pub const HIDDEN: u8 = 2;
/// Value masked in CONFIG GET output and logs.
pub const SENSITIVE: u8 = 4;
/// CONFIG SET refuses it (-LOADING) while a dataset loads (Redis's DENY_LOADING_CONFIG).
pub const DENY_LOADING: u8 = 8;
/// Not written back by CONFIG REWRITE when equal to its default.
pub const NONE: u8 = 0;

#[derive(Clone, Copy)]
pub enum Kind {
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    /// A byte amount accepting Redis's units (1gb, 10mb, 5k).
    Mem {
        min: i64,
        max: i64,
    },
    /// A byte amount or a percentage ("10%", kept negative as Redis does) up to `max_pct`.
    MemPct {
        max: i64,
        max_pct: i64,
    },
    /// A list of percentiles, each within 0..=100 (latency-tracking-info-percentiles).
    Percentiles,
    Str,
    Enum(&'static [&'static str]),
    /// Parsed and printed by the value type itself.
    Special,
}

pub trait ConfValue: Sized + Clone {
    fn parse(kind: &Kind, s: &str) -> Result<Self, String>;
    fn format(&self, kind: &Kind) -> String;
}

impl ConfValue for bool {
    fn parse(_: &Kind, s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "yes" => Ok(true),
            "no" => Ok(false),
            _ => Err("argument must be 'yes' or 'no'".into()),
        }
    }
    fn format(&self, _: &Kind) -> String {
        if *self { "yes" } else { "no" }.into()
    }
}

impl ConfValue for i64 {
    fn parse(kind: &Kind, s: &str) -> Result<Self, String> {
        let (v, min, max) = match *kind {
            Kind::Int { min, max } => (
                s.parse::<i64>()
                    .map_err(|_| "argument couldn't be parsed into an integer".to_string())?,
                min,
                max,
            ),
            Kind::Mem { min, max } => (
                parse_memory(s).ok_or_else(|| "argument must be a memory value".to_string())?,
                min,
                max,
            ),
            Kind::MemPct { max, max_pct } => {
                let pct = s
                    .strip_suffix('%')
                    .filter(|d| !d.is_empty())
                    .and_then(|d| d.parse::<i64>().ok())
                    .filter(|&n| n >= 0);
                if let Some(p) = pct {
                    if p > max_pct {
                        return Err(format!(
                            "percentage argument must be less or equal to {max_pct}"
                        ));
                    }
                    return Ok(-p);
                }
                (
                    parse_memory(s)
                        .ok_or_else(|| "argument must be a memory or percent value".to_string())?,
                    0,
                    max,
                )
            }
            _ => return Err("internal: integer option with a non-integer kind".into()),
        };
        if v < min || v > max {
            return Err(format!(
                "argument must be between {min} and {max} inclusive"
            ));
        }
        Ok(v)
    }
    fn format(&self, kind: &Kind) -> String {
        match kind {
            Kind::MemPct { .. } if *self < 0 => format!("{}%", -self),
            _ => self.to_string(),
        }
    }
}

impl ConfValue for String {
    fn parse(_: &Kind, s: &str) -> Result<Self, String> {
        Ok(s.to_string())
    }
    fn format(&self, _: &Kind) -> String {
        self.clone()
    }
}

/// An enum option: the index of its value in the kind's name list.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Choice(pub u8);

impl ConfValue for Choice {
    fn parse(kind: &Kind, s: &str) -> Result<Self, String> {
        let Kind::Enum(names) = kind else {
            return Err("internal: enum option without names".into());
        };
        names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(s))
            .map(|i| Choice(i as u8))
            .ok_or_else(|| {
                format!(
                    "argument(s) must be one of the following: {}",
                    names.join(", ")
                )
            })
    }
    fn format(&self, kind: &Kind) -> String {
        match kind {
            Kind::Enum(names) => names.get(self.0 as usize).unwrap_or(&"").to_string(),
            _ => String::new(),
        }
    }
}

/// `save <seconds> <changes> [...]`, or "" for none.
#[derive(Clone, Default, PartialEq, Debug)]
pub struct SavePoints(pub Vec<(i64, i64)>);

impl ConfValue for SavePoints {
    fn parse(_: &Kind, s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split_whitespace().collect();
        if !parts.len().is_multiple_of(2) {
            return Err("Invalid save parameters".into());
        }
        let mut v = Vec::new();
        for p in parts.chunks(2) {
            let (a, b) = (p[0].parse::<i64>(), p[1].parse::<i64>());
            match (a, b) {
                (Ok(a), Ok(b)) if a >= 1 && b >= 0 => v.push((a, b)),
                _ => return Err("Invalid save parameters".into()),
            }
        }
        Ok(SavePoints(v))
    }
    fn format(&self, _: &Kind) -> String {
        self.0
            .iter()
            .map(|(a, b)| format!("{a} {b}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A whitespace separated list of words (bind addresses).
#[derive(Clone, Default, PartialEq, Debug)]
pub struct Words(pub Vec<String>);

impl ConfValue for Words {
    fn parse(_: &Kind, s: &str) -> Result<Self, String> {
        let v: Vec<String> = s.split_whitespace().map(str::to_string).collect();
        if v.len() > 16 {
            return Err("Too many bind addresses specified.".into());
        }
        Ok(Words(v))
    }
    fn format(&self, _: &Kind) -> String {
        self.0.join(" ")
    }
}

/// A list of numbers (latency-tracking-info-percentiles, oom-score-adj-values).
#[derive(Clone, Default, PartialEq, Debug)]
pub struct Numbers(pub Vec<f64>);

impl ConfValue for Numbers {
    fn parse(kind: &Kind, s: &str) -> Result<Self, String> {
        let pct = matches!(kind, Kind::Percentiles);
        let v = s
            .split_whitespace()
            .map(|w| w.parse::<f64>().ok().filter(|x| x.is_finite()))
            .collect::<Option<Vec<f64>>>();
        let Some(v) = v else {
            return Err(if pct {
                "Invalid latency-tracking-info-percentiles parameters".into()
            } else {
                "Invalid list of numbers".into()
            });
        };
        if pct && v.iter().any(|x| !(0.0..=100.0).contains(x)) {
            return Err(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                    .into(),
            );
        }
        Ok(Numbers(v))
    }
    fn format(&self, _: &Kind) -> String {
        // Rust's shortest round-trip form prints 50 as "50" and 99.9 as "99.9", like Redis.
        self.0
            .iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// An octal permission mode (unixsocketperm).
#[derive(Clone, Copy, Default, PartialEq, Debug)]
pub struct Octal(pub u32);

impl ConfValue for Octal {
    fn parse(_: &Kind, s: &str) -> Result<Self, String> {
        match u32::from_str_radix(s, 8) {
            Ok(v) if v <= 0o777 => Ok(Octal(v)),
            _ => Err("Invalid socket file permissions".into()),
        }
    }
    fn format(&self, _: &Kind) -> String {
        format!("{:o}", self.0)
    }
}

/// Limits for one client class of client-output-buffer-limit.
#[derive(Clone, Copy, Default, PartialEq, Debug)]
pub struct ObufLimit {
    pub hard: i64,
    pub soft: i64,
    pub soft_secs: i64,
}

pub const OBUF_NORMAL: usize = 0;
pub const OBUF_REPLICA: usize = 1;
pub const OBUF_PUBSUB: usize = 2;

#[derive(Clone, Copy, Default, PartialEq, Debug)]
pub struct ObufLimits(pub [ObufLimit; 3]);

impl ConfValue for ObufLimits {
    fn parse(_: &Kind, s: &str) -> Result<Self, String> {
        ObufLimits::default().merged(s)
    }
    fn format(&self, _: &Kind) -> String {
        let names = ["normal", "slave", "pubsub"];
        (0..3)
            .map(|i| {
                format!(
                    "{} {} {} {}",
                    names[i], self.0[i].hard, self.0[i].soft, self.0[i].soft_secs
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl ObufLimits {
    /// Apply `class hard soft secs` groups on top of self (classes not named keep their value).
    pub fn merged(mut self, s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split_whitespace().collect();
        if parts.is_empty() || !parts.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        for p in parts.chunks(4) {
            let class = match p[0].to_ascii_lowercase().as_str() {
                "normal" => OBUF_NORMAL,
                "slave" | "replica" => OBUF_REPLICA,
                "pubsub" => OBUF_PUBSUB,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".into(),
                    )
                }
            };
            let hard = parse_memory(p[1]);
            let soft = parse_memory(p[2]);
            let secs = p[3].parse::<i64>().ok();
            match (hard, soft, secs) {
                (Some(h), Some(s), Some(t)) if h >= 0 && s >= 0 && t >= 0 => {
                    self.0[class] = ObufLimit {
                        hard: h,
                        soft: s,
                        soft_secs: t,
                    }
                }
                _ => return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                ),
            }
        }
        Ok(self)
    }
}

/// notify-keyspace-events flags, kept as the canonical letter string.
#[derive(Clone, Default, PartialEq, Debug)]
pub struct NotifyFlags(pub u32);

pub const NOTIFY_KEYSPACE: u32 = 1 << 0; // K
pub const NOTIFY_KEYEVENT: u32 = 1 << 1; // E
pub const NOTIFY_GENERIC: u32 = 1 << 2; // g
pub const NOTIFY_STRING: u32 = 1 << 3; // $
pub const NOTIFY_LIST: u32 = 1 << 4; // l
pub const NOTIFY_SET: u32 = 1 << 5; // s
pub const NOTIFY_HASH: u32 = 1 << 6; // h
pub const NOTIFY_ZSET: u32 = 1 << 7; // z
pub const NOTIFY_EXPIRED: u32 = 1 << 8; // x
pub const NOTIFY_EVICTED: u32 = 1 << 9; // e
pub const NOTIFY_STREAM: u32 = 1 << 10; // t
pub const NOTIFY_KEY_MISS: u32 = 1 << 11; // m
pub const NOTIFY_LOADED: u32 = 1 << 12; // module only
pub const NOTIFY_MODULE: u32 = 1 << 13; // d
pub const NOTIFY_NEW: u32 = 1 << 14; // n
pub const NOTIFY_ALL: u32 = NOTIFY_GENERIC
    | NOTIFY_STRING
    | NOTIFY_LIST
    | NOTIFY_SET
    | NOTIFY_HASH
    | NOTIFY_ZSET
    | NOTIFY_EXPIRED
    | NOTIFY_EVICTED
    | NOTIFY_STREAM
    | NOTIFY_MODULE;

impl ConfValue for NotifyFlags {
    fn parse(_: &Kind, s: &str) -> Result<Self, String> {
        let mut f = 0;
        for c in s.chars() {
            f |= match c {
                'A' => NOTIFY_ALL,
                'g' => NOTIFY_GENERIC,
                '$' => NOTIFY_STRING,
                'l' => NOTIFY_LIST,
                's' => NOTIFY_SET,
                'h' => NOTIFY_HASH,
                'z' => NOTIFY_ZSET,
                'x' => NOTIFY_EXPIRED,
                'e' => NOTIFY_EVICTED,
                'K' => NOTIFY_KEYSPACE,
                'E' => NOTIFY_KEYEVENT,
                't' => NOTIFY_STREAM,
                'm' => NOTIFY_KEY_MISS,
                'd' => NOTIFY_MODULE,
                'n' => NOTIFY_NEW,
                _ => return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
            };
        }
        Ok(NotifyFlags(f))
    }
    fn format(&self, _: &Kind) -> String {
        let f = self.0;
        let mut s = String::new();
        if f & NOTIFY_ALL == NOTIFY_ALL {
            s.push('A');
        } else {
            for (bit, c) in [
                (NOTIFY_GENERIC, 'g'),
                (NOTIFY_STRING, '$'),
                (NOTIFY_LIST, 'l'),
                (NOTIFY_SET, 's'),
                (NOTIFY_HASH, 'h'),
                (NOTIFY_ZSET, 'z'),
                (NOTIFY_EXPIRED, 'x'),
                (NOTIFY_EVICTED, 'e'),
                (NOTIFY_STREAM, 't'),
                (NOTIFY_MODULE, 'd'),
            ] {
                if f & bit != 0 {
                    s.push(c);
                }
            }
        }
        for (bit, c) in [
            (NOTIFY_KEYSPACE, 'K'),
            (NOTIFY_KEYEVENT, 'E'),
            (NOTIFY_KEY_MISS, 'm'),
            (NOTIFY_NEW, 'n'),
        ] {
            if f & bit != 0 {
                s.push(c);
            }
        }
        s
    }
}

/// A set of flags from an enum's names (shutdown-on-sigint "nosave now"); the first name
/// ("default") stands for none. Printed in the names' order.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct FlagSet(pub u32);

impl ConfValue for FlagSet {
    fn parse(kind: &Kind, s: &str) -> Result<Self, String> {
        let Kind::Enum(names) = kind else {
            return Err("internal: flag option without names".into());
        };
        let bad = || {
            format!(
                "argument(s) must be one of the following: {}",
                names.join(", ")
            )
        };
        let mut bits = 0u32;
        let mut words = 0;
        for w in s.split_whitespace() {
            words += 1;
            let i = names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(w))
                .ok_or_else(bad)?;
            if i > 0 {
                bits |= 1 << (i - 1);
            }
        }
        if words == 0 {
            return Err(bad());
        }
        Ok(FlagSet(bits))
    }
    fn format(&self, kind: &Kind) -> String {
        let Kind::Enum(names) = kind else {
            return String::new();
        };
        if self.0 == 0 {
            return names.first().unwrap_or(&"").to_string();
        }
        names
            .iter()
            .skip(1)
            .enumerate()
            .filter(|(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join(" ")
    }
}
