//! A socket: TCP or Unix, optionally wrapped in a nonblocking rustls session of either
//! side (a client's connection to us, or one of our outgoing links: `crate::link`).
//! Reads append plaintext to a read buffer; writes drain an output buffer.
use std::io::{self, ErrorKind, Read, Write};

pub enum Stream {
    Tcp(mio::net::TcpStream),
    Unix(mio::net::UnixStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }
    /// rustls hands its queued records over as a vector. writev(2) goes through the VFS
    /// layer (a few % of a TLS request's CPU at -P 1); send(2) for one record and sendmsg(2)
    /// for several go straight to the socket.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let mut nonempty = bufs.iter().filter(|b| !b.is_empty());
        match (nonempty.next(), nonempty.next()) {
            (None, _) => Ok(0),
            (Some(one), None) => self.write(one),
            _ => match self {
                Stream::Tcp(s) => socket2::SockRef::from(&*s).send_vectored(bufs),
                Stream::Unix(s) => socket2::SockRef::from(&*s).send_vectored(bufs),
            },
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl mio::event::Source for Stream {
    fn register(&mut self, r: &mio::Registry, t: mio::Token, i: mio::Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(r, t, i),
            Stream::Unix(s) => s.register(r, t, i),
        }
    }
    fn reregister(&mut self, r: &mio::Registry, t: mio::Token, i: mio::Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(r, t, i),
            Stream::Unix(s) => s.reregister(r, t, i),
        }
    }
    fn deregister(&mut self, r: &mio::Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(r),
            Stream::Unix(s) => s.deregister(r),
        }
    }
}

pub struct Conn {
    pub stream: Stream,
    /// The TLS session: the server side for clients, the client side for outgoing links.
    pub tls: Option<Box<rustls::Connection>>,
    /// The TLS handshake finished (always true for plaintext).
    pub established: bool,
    /// The peer shut down its side (epoll said so): reads go on to the end-of-file
    /// instead of trusting a short read to mean "drained", since no later edge will
    /// report the FIN that came with the data.
    pub hup: bool,
}

/// What a read did.
pub enum ReadResult {
    /// Bytes appended (possibly 0 with the socket still open).
    Data(usize),
    /// Peer closed (after any bytes appended).
    Closed(usize),
}

/// Largest amount read from one socket in one readiness event before yielding to others.
const READ_BUDGET: usize = 4 * 1024 * 1024;

impl Conn {
    pub fn plain(stream: Stream) -> Self {
        Conn {
            stream,
            tls: None,
            established: true,
            hup: false,
        }
    }
    pub fn tls(stream: Stream, session: impl Into<rustls::Connection>) -> Self {
        Conn {
            stream,
            tls: Some(Box::new(session.into())),
            established: false,
            hup: false,
        }
    }

    /// Read everything available (up to a budget) into `rbuf`. TLS errors come back as
    /// `InvalidData` with rustls's reason.
    pub fn read_into(&mut self, rbuf: &mut Vec<u8>) -> io::Result<ReadResult> {
        match &mut self.tls {
            None => read_plain(&mut self.stream, rbuf, self.hup),
            Some(tls) => {
                let r = read_tls(tls, &mut self.stream, rbuf, self.hup);
                if !tls.is_handshaking() {
                    self.established = true;
                }
                r
            }
        }
    }

    /// Write `out[*pos..]`. Returns true when everything (including TLS records) is on the
    /// wire, false when the socket would block with data left.
    pub fn write_from(&mut self, out: &[u8], pos: &mut usize) -> io::Result<bool> {
        match &mut self.tls {
            None => {
                while *pos < out.len() {
                    match self.stream.write(&out[*pos..]) {
                        Ok(0) => return Err(ErrorKind::WriteZero.into()),
                        Ok(n) => *pos += n,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(true)
            }
            Some(tls) => {
                loop {
                    // Encrypt as much plaintext as rustls will buffer, then push records out.
                    if *pos < out.len() {
                        let n = tls.writer().write(&out[*pos..])?;
                        *pos += n;
                    }
                    if !flush_tls(tls, &mut self.stream)? {
                        return Ok(false);
                    }
                    if *pos >= out.len() {
                        return Ok(true);
                    }
                }
            }
        }
    }

    /// Push out TLS records rustls has queued (handshake messages, alerts).
    pub fn flush_tls(&mut self) -> io::Result<bool> {
        match &mut self.tls {
            Some(tls) => flush_tls(tls, &mut self.stream),
            None => Ok(true),
        }
    }

    pub fn is_handshaking(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.is_handshaking())
    }
}

/// Make room for at least `need` more bytes. The buffer grows by half its length (16 KB
/// to 16 MB at a time) and exactly, never doubling: a buffer that process_input sized for
/// one big bulk is not doubled past it as the bulk's last bytes arrive.
fn make_room(rbuf: &mut Vec<u8>, need: usize) {
    if rbuf.capacity() - rbuf.len() < need {
        let step = (rbuf.len() / 2).clamp(16 * 1024, 16 << 20).max(need);
        rbuf.reserve_exact(step);
    }
}

fn read_plain(stream: &mut Stream, rbuf: &mut Vec<u8>, hup: bool) -> io::Result<ReadResult> {
    let mut total = 0;
    loop {
        make_room(rbuf, 4096);
        let len = rbuf.len();
        let cap = rbuf.capacity();
        // SAFETY: the spare capacity is allocated, and the only reader it is handed to
        // is `Stream::read`, i.e. read(2) on a mio socket, which writes into it and never
        // reads it; set_len below covers exactly the bytes read(2) wrote.
        let spare =
            unsafe { std::slice::from_raw_parts_mut(rbuf.as_mut_ptr().add(len), cap - len) };
        match stream.read(spare) {
            Ok(0) => return Ok(ReadResult::Closed(total)),
            Ok(n) => {
                // SAFETY: read(2) initialised the first n bytes of the spare capacity.
                unsafe { rbuf.set_len(len + n) };
                total += n;
                // A short read drained the socket: epoll (edge-triggered) reports the next
                // arrival, so skip the read() that would only return EAGAIN (unless the
                // peer hung up: then that read is the end-of-file).
                if (n < cap - len && !hup) || total >= READ_BUDGET {
                    return Ok(ReadResult::Data(total));
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(ReadResult::Data(total)),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reads through to the socket, remembering whether the last read came back short.
struct ShortRead<'a> {
    inner: &'a mut Stream,
    short: bool,
}

impl Read for ShortRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.short = n < buf.len();
        Ok(n)
    }
}

fn read_tls(
    tls: &mut rustls::Connection,
    stream: &mut Stream,
    rbuf: &mut Vec<u8>,
    hup: bool,
) -> io::Result<ReadResult> {
    let mut total = 0;
    loop {
        let (mut eof, mut drained) = (false, false);
        let mut probe = ShortRead {
            inner: &mut *stream,
            short: false,
        };
        match tls.read_tls(&mut probe) {
            Ok(0) => eof = true,
            // As in read_plain: a short read means the socket is drained.
            Ok(_) => drained = probe.short && !hup,
            Err(e) if e.kind() == ErrorKind::WouldBlock => drained = true,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        let state = tls.process_new_packets().map_err(|e| {
            // Send the alert rustls queued before the connection is dropped, unless the peer
            // is not speaking TLS at all (plaintext): it would read the alert as a reply.
            if !matches!(
                e,
                rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)
            ) {
                let _ = flush_tls(tls, stream);
            }
            io::Error::new(ErrorKind::InvalidData, e)
        })?;
        let avail = state.plaintext_bytes_to_read();
        let peer_closed = state.peer_has_closed();
        if avail > 0 {
            make_room(rbuf, avail);
            let len = rbuf.len();
            // SAFETY: make_room above made room for `avail` bytes, handed only to rustls's
            // Reader::read, which copies into the buffer without reading it.
            let spare =
                unsafe { std::slice::from_raw_parts_mut(rbuf.as_mut_ptr().add(len), avail) };
            let n = tls.reader().read(spare)?;
            // SAFETY: rustls's Reader::read copied n plaintext bytes into the front of
            // `spare` (it writes into the buffer and never reads it).
            unsafe { rbuf.set_len(len + n) };
            total += n;
        }
        if tls.wants_write() {
            flush_tls(tls, stream)?;
        }
        if eof || peer_closed {
            return Ok(ReadResult::Closed(total));
        }
        if drained || total >= READ_BUDGET {
            return Ok(ReadResult::Data(total));
        }
    }
}

/// Write queued TLS records. Ok(true) when rustls has nothing more to send.
fn flush_tls(tls: &mut rustls::Connection, stream: &mut Stream) -> io::Result<bool> {
    while tls.wants_write() {
        match tls.write_tls(stream) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

impl Stream {
    fn fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }

    /// Ask the kernel to acknowledge what arrives at once rather than after its delayed-ACK
    /// timer (TCP_QUICKACK; the kernel drops back to delayed ACKs by itself, so this is
    /// re-armed per read). A client sending a large request with Nagle's algorithm holds
    /// its last small segment until the data before it is acknowledged: without this,
    /// each large request waits out the 40 ms timer.
    pub fn quickack(&self) {
        if let Stream::Tcp(_) = self {
            let one: libc::c_int = 1;
            // SAFETY: setsockopt on our own socket with a c_int option value we own.
            unsafe {
                libc::setsockopt(
                    self.fd(),
                    libc::IPPROTO_TCP,
                    libc::TCP_QUICKACK,
                    &one as *const libc::c_int as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
    }

    /// Wait until the socket is readable (`POLLIN`) or writable (`POLLOUT`), up to
    /// `timeout_ms` (-1: no limit). Err(TimedOut) when the time passed; an interrupting
    /// signal comes back as Err(Interrupted).
    pub(crate) fn wait(&self, events: libc::c_short, timeout_ms: i32) -> io::Result<()> {
        let mut p = libc::pollfd {
            fd: self.fd(),
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        match unsafe { libc::poll(&mut p, 1, timeout_ms) } {
            0 => Err(ErrorKind::TimedOut.into()),
            n if n < 0 => Err(io::Error::last_os_error()),
            _ => Ok(()),
        }
    }
}

/// Blocking I/O on a nonblocking connection, for the one place that talks to a client
/// outside the event loop: the Lua debugger, which (as Redis's LDB does) holds the
/// server, or runs in a forked child, while it converses with its client.
impl Conn {
    /// Write all of `data`, waiting at most `timeout_ms` each time the socket is full.
    pub fn write_all_blocking(&mut self, data: &[u8], timeout_ms: i32) -> io::Result<()> {
        let mut pos = 0;
        while !self.write_from(data, &mut pos)? {
            self.stream.wait(libc::POLLOUT, timeout_ms)?;
        }
        Ok(())
    }

    /// Wait for input and append it to `rbuf`. Ok(0) when the peer closed; a signal that
    /// interrupts the wait comes back as Err(Interrupted).
    pub fn read_blocking(&mut self, rbuf: &mut Vec<u8>) -> io::Result<usize> {
        loop {
            match self.read_into(rbuf)? {
                ReadResult::Closed(n) | ReadResult::Data(n) if n > 0 => return Ok(n),
                ReadResult::Closed(_) => return Ok(0),
                ReadResult::Data(_) => self.stream.wait(libc::POLLIN, -1)?,
            }
        }
    }
}
