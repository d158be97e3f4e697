#!/usr/bin/env python3
"""One client against all others (issue 13 of the audit), side by side on each server given.

  perf/abuse.py [--port-base 7900] NAME=BINARY ...    e.g. ferrokv=target/release/ferrokv
                                                           redis=/usr/bin/redis-server

Cases, each on a fresh server (plain TCP on loopback, no persistence):
  trickle  a client sends '*1000000000', 21 MB of 1-byte elements at once, then one more
           element every 20 ms for 10 s; meanwhile another client PINGs every 10 ms.
           Reports the server's CPU seconds during the trickle and the PING latency.
  idle     150 clients each send one SET of a 3 MB value (10 distinct keys) and stay
           connected, idle. Reports RSS and used_memory growth 3 s later, and
           mem_clients_normal.
"""
import os, socket, subprocess, sys, tempfile, time, statistics

# Process CPU (schedstat, ns precision) and RSS, as compare.py measures them.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import cpu_seconds, rss_bytes  # noqa: E402

def start(binary, port):
    d = tempfile.mkdtemp(prefix="abuse-")
    p = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--dir", d],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                return p, s
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{binary} did not start on {port}")

def cmd(s, *args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    s.sendall(out)

def read_reply(f):
    line = f.readline()
    if line[:1] == b"$":
        n = int(line[1:])
        return f.read(n + 2)[:-2] if n >= 0 else None
    if line[:1] == b"*":
        return [read_reply(f) for _ in range(int(line[1:]))]
    return line.rstrip(b"\r\n")

def info(s, f, section, field):
    cmd(s, "INFO", section)
    for l in read_reply(f).decode().splitlines():
        if l.startswith(field + ":"):
            return int(l.split(":")[1])
    return 0

def trickle(binary, port):
    p, probe = start(binary, port)
    probe.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    a = socket.create_connection(("127.0.0.1", port))
    a.sendall(b"*1000000000\r\n" + b"$1\r\nx\r\n" * 3_000_000)
    time.sleep(1.0)
    cpu0 = cpu_seconds(p.pid)
    lat = []
    t_end = time.time() + 10
    next_el = time.time()
    while time.time() < t_end:
        now = time.time()
        if now >= next_el:
            a.sendall(b"$1\r\nx\r\n")
            next_el += 0.02
        t = time.perf_counter()
        probe.sendall(b"PING\r\n")
        probe.recv(16)
        lat.append((time.perf_counter() - t) * 1000)
        time.sleep(0.01)
    cpu = cpu_seconds(p.pid) - cpu0
    p.kill(); p.wait()
    lat.sort()
    return {"cpu_s": round(cpu, 3), "ping_p50_ms": round(statistics.median(lat), 3),
            "ping_p99_ms": round(lat[int(len(lat) * 0.99)], 3), "pings": len(lat)}

def idle(binary, port):
    p, c = start(binary, port)
    f = c.makefile("rb")
    time.sleep(0.3)
    rss0, used0 = rss_bytes(p.pid), info(c, f, "memory", "used_memory")
    value = b"v" * (3 << 20)
    socks = []
    for i in range(150):
        s = socket.create_connection(("127.0.0.1", port))
        cmd(s, "SET", f"k{i % 10}", value)
        assert s.recv(16).startswith(b"+OK")
        socks.append(s)
    time.sleep(3.0)
    out = {"rss_growth_mb": round((rss_bytes(p.pid) - rss0) / 2**20, 1),
           "used_memory_growth_mb": round((info(c, f, "memory", "used_memory") - used0) / 2**20, 1),
           "mem_clients_normal_mb": round(info(c, f, "memory", "mem_clients_normal") / 2**20, 2)}
    p.kill(); p.wait()
    return out

def main():
    argv = sys.argv[1:]
    base = 7900
    if argv[:1] == ["--port-base"]:
        base, argv = int(argv[1]), argv[2:]
    servers = [a.split("=", 1) for a in argv] or [["ferrokv", "target/release/ferrokv"], ["redis", "/usr/bin/redis-server"]]
    for case in (trickle, idle):
        for i, (name, binary) in enumerate(servers):
            print(f"{case.__name__:8} {name:12} {case(binary, base + i)}", flush=True)

if __name__ == "__main__":
    main()
