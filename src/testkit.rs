//! A server in a unit test: the real command table and `commands::execute`, with
//! internal clients (no socket, as an AOF being loaded has). Tests run commands as a
//! client would and inspect the server, e.g. the propagation stream.
use crate::commands;
use crate::resp::{Args, Reply};
use crate::server::{Ctx, Server};

pub struct Kit {
    pub srv: Server,
    _poll: mio::Poll,
}

impl Kit {
    pub fn new() -> Kit {
        let loader = crate::config::file::Loader::new();
        let table = commands::Table::build(&commands::families());
        let poll = mio::Poll::new().unwrap();
        let registry = poll.registry().try_clone().unwrap();
        let mut srv = Server::new(loader.config, loader.extras, None, table, registry);
        crate::acl::init(&mut srv).unwrap();
        Kit { srv, _poll: poll }
    }

    /// A new client; returns its position.
    pub fn client(&mut self) -> usize {
        self.srv.add_internal_client()
    }

    /// Run one command as client `idx` sends it; returns the reply (lossy text).
    pub fn run(&mut self, idx: usize, words: &[&str]) -> String {
        let words: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        String::from_utf8_lossy(&self.run_bytes(idx, &words)).into_owned()
    }

    /// Run one command of binary words; returns the reply bytes.
    pub fn run_bytes(&mut self, idx: usize, words: &[&[u8]]) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut spans = Vec::new();
        for w in words {
            let start = buf.len() as u32;
            buf.extend_from_slice(w);
            spans.push((start, buf.len() as u32));
        }
        let mut out: Reply = std::mem::take(&mut self.srv.net.clients[idx].out);
        let mark = out.buf.len();
        let db = self.srv.net.clients[idx].db;
        let mut ctx = Ctx {
            srv: &mut self.srv,
            out: &mut out,
            id: idx,
            db,
        };
        let outer = ctx.srv.executing.replace(idx);
        commands::execute(&mut ctx, Args::new(&buf, &spans));
        let db = ctx.db;
        self.srv.executing = outer;
        let reply = out.buf[mark..].to_vec();
        out.buf.clear();
        let c = &mut self.srv.net.clients[idx];
        c.out = out;
        c.db = db;
        if self.srv.data.blocking.has_work() {
            crate::reactor::serve_blocked(&mut self.srv);
        }
        reply
    }

    /// The propagated stream since the last call, one "db: WORDS" line per command.
    pub fn propagated(&mut self) -> Vec<String> {
        self.srv
            .data
            .prop
            .take_log()
            .iter()
            .map(|op| {
                let to = match op.target {
                    crate::propagate::AOF => " [aof]",
                    crate::propagate::REPL => " [repl]",
                    _ => "",
                };
                format!("{}: {}{to}", op.db, words(&op.resp))
            })
            .collect()
    }
}

/// "*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n" -> "DEL k" (test data has no CRLF inside words).
pub fn words(resp: &[u8]) -> String {
    let s = String::from_utf8_lossy(resp);
    s.split("\r\n")
        .skip(1)
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, w)| w)
        .collect::<Vec<_>>()
        .join(" ")
}
