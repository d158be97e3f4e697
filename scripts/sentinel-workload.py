#!/usr/bin/python3
"""A Sentinel-discovering client through a kill -9 failover (issue: no acknowledged write lost).

Starts three ferrokv instances over mutual TLS (a master and two replicas replicating
over TLS with the client certificate) and three Redis Sentinels (Debian's redis-sentinel,
7.0) on TLS ports watching the master (quorum 2). redis-py's Sentinel client, over TLS to
the sentinels and to the master it discovers, writes keys k0, k1, ...: each SET is
followed by WAIT 1 on the same connection (one pipeline), and a write counts as
acknowledged when WAIT says a replica has it. Errors (connection lost, no master known,
READONLY from a demoted master) are counted and the same write is retried after a short
sleep, as an application using Sentinel does. Meanwhile the master is killed with
SIGKILL, the sentinels promote a replica and repoint the other one, and the old master is
restarted empty on its port until the sentinels turn it into a replica of the new master.
At the end every acknowledged write must read back from the new master (and from both
replicas), and the replicas must hold as many keys as the master.

    /usr/bin/python3 scripts/sentinel-workload.py [--bin target/release/ferrokv] [--seconds 10]

--seconds is the time spent writing before the kill plus after the old master rejoins
(half each); the whole run takes 30-40 s. Exit status 0 when all checks pass, 1 when
one fails (the tails of the logs are printed), 2 when something needed is missing.
Needs Debian's python3-redis (redis-py 4.3), redis-sentinel and openssl.
"""
import argparse
import collections
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import redis
from redis.sentinel import Sentinel

SENTINEL_BIN = "/usr/bin/redis-sentinel"
# Errors a client of a failing-over master sees and retries (MasterNotFoundError and
# redis-py's "The previous master is now a slave", from READONLY, are ConnectionErrors).
RETRIED = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
           redis.exceptions.ReadOnlyError)


class Failure(Exception):
    pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_for(what, timeout, cond, detail=None):
    """Poll cond() (an error counts as false) until it is true or timeout seconds pass."""
    deadline = time.time() + timeout
    while True:
        try:
            if cond():
                return
        except (redis.exceptions.RedisError, OSError):
            pass
        if time.time() > deadline:
            extra = ""
            if detail:
                try:
                    extra = ": " + detail()
                except (redis.exceptions.RedisError, OSError) as e:
                    extra = f": ({type(e).__name__}: {e})"
            raise Failure(f"timed out after {timeout} s waiting for {what}{extra}")
        time.sleep(0.1)


def info(conn, section="replication"):
    """INFO as redis-py parses it, scalars as strings (slave<n> lines stay dicts)."""
    return {k: v if isinstance(v, dict) else str(v) for k, v in conn.info(section).items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=None, help="ferrokv binary (target/release/ferrokv)")
    ap.add_argument("--seconds", type=float, default=10)
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    a.bin = os.path.abspath(a.bin) if a.bin else os.path.join(root, "target/release/ferrokv")
    for f in (a.bin, SENTINEL_BIN):
        if not os.access(f, os.X_OK):
            print(f"FAIL: {f} is missing (or not executable)", file=sys.stderr)
            return 2
    work = tempfile.mkdtemp(prefix="fk-sentinel-workload-")
    procs = {}  # name -> Popen, everything this script started
    logs = {}   # name -> log files worth a tail on failure

    # A last resort against a hang (each wait below has its own, shorter, timeout).
    def alarm(*_):
        raise Failure("the whole run took too long (watchdog)")
    signal.signal(signal.SIGALRM, alarm)
    signal.alarm(int(150 + a.seconds))
    try:
        return run(a, root, work, procs, logs)
    except Exception as e:  # Failure, or an error from a server or from the system
        msg = str(e) if isinstance(e, Failure) else f"{type(e).__name__}: {e}"
        print(f"FAIL: {msg}", file=sys.stderr)
        for name, files in logs.items():
            for f in files:
                try:
                    with open(f, errors="replace") as fh:
                        tail = fh.readlines()[-25:]
                except OSError:
                    continue
                if tail:
                    print(f"---- {name}: {os.path.basename(f)} (last {len(tail)} lines)",
                          file=sys.stderr)
                    sys.stderr.write("".join(tail))
        return 1
    finally:
        signal.alarm(0)
        for p in procs.values():
            if p.poll() is None:
                p.kill()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(work, ignore_errors=True)


def run(a, root, work, procs, logs):
    certs = os.path.join(work, "tls")
    # No DH parameters are used here: a placeholder spares the slow `openssl dhparam`.
    os.makedirs(certs)
    open(os.path.join(certs, "redis.dh"), "w").close()
    subprocess.run([os.path.join(root, "scripts/gen-test-certs.sh"), certs], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    c = lambda f: os.path.join(certs, f)
    client_tls = dict(ssl=True, ssl_certfile=c("client.crt"), ssl_keyfile=c("client.key"),
                      ssl_ca_certs=c("ca.crt"))

    def conn(port, timeout=3):
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=timeout,
                           socket_connect_timeout=2, **client_tls)

    # ---- three ferrokv instances, TLS only (port 0), mutual TLS, replication over TLS
    tls = ["--tls-cert-file", c("redis.crt"), "--tls-key-file", c("redis.key"),
           "--tls-client-cert-file", c("client.crt"), "--tls-client-key-file", c("client.key"),
           "--tls-ca-cert-file", c("ca.crt"), "--tls-auth-clients", "yes",
           "--tls-replication", "yes"]
    ports, argv = [], {}

    def start(name):
        d = os.path.join(work, name)
        os.makedirs(d, exist_ok=True)
        out = open(os.path.join(d, "stdout"), "a")
        procs[name] = subprocess.Popen(argv[name], stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)
        out.close()
        logs[name] = [os.path.join(d, "stdout"), os.path.join(d, "log")]

    for i in range(3):
        name, tport = f"n{i}", free_port()
        d = os.path.join(work, name)
        argv[name] = [a.bin, "--port", "0", "--tls-port", str(tport), "--bind", "127.0.0.1",
                      "--save", "", "--appendonly", "no", "--dir", d,
                      "--repl-diskless-sync-delay", "0", "--logfile", os.path.join(d, "log")] + tls
        ports.append(tport)
        start(name)
    names = {p: f"n{i}" for i, p in enumerate(ports)}
    for p in ports:
        wait_for(f"ferrokv on TLS port {p}", 15, lambda: conn(p).ping())
    old = ports[0]
    for p in ports[1:]:
        conn(p).execute_command("REPLICAOF", "127.0.0.1", old)

    def online_replicas(p):
        i = info(conn(p))
        return sum(1 for k, v in i.items() if k.startswith("slave") and k[5:].isdigit()
                   and v.get("state") == "online")

    wait_for("both replicas online", 30, lambda: online_replicas(old) == 2 and all(
        info(conn(p)).get("master_link_status") == "up" for p in ports[1:]),
        lambda: str(info(conn(old))))

    # ---- three sentinels on TLS ports
    sports = []
    for i in range(3):
        name, sport = f"s{i}", free_port()
        d = os.path.join(work, name)
        os.makedirs(d)
        conf = os.path.join(d, "sentinel.conf")
        with open(conf, "w") as f:
            f.write(f"port 0\nbind 127.0.0.1\ntls-port {sport}\n"
                    f"tls-cert-file {c('redis.crt')}\ntls-key-file {c('redis.key')}\n"
                    f"tls-ca-cert-file {c('ca.crt')}\n"
                    f"tls-client-cert-file {c('client.crt')}\n"
                    f"tls-client-key-file {c('client.key')}\n"
                    f"tls-replication yes\ndir {d}\nlogfile {d}/sentinel.log\n"
                    f"sentinel monitor mymaster 127.0.0.1 {old} 2\n"
                    f"sentinel down-after-milliseconds mymaster 3000\n"
                    f"sentinel failover-timeout mymaster 10000\n")
        argv[name] = [SENTINEL_BIN, conf]
        start(name)
        logs[name] = [os.path.join(d, "stdout"), os.path.join(d, "sentinel.log")]
        sports.append(sport)
    for p in sports:
        wait_for(f"sentinel on TLS port {p}", 15, lambda: conn(p).ping())

    def sentinel_view(p):
        s = conn(p)
        return (len(s.execute_command("SENTINEL", "REPLICAS", "mymaster")),
                len(s.execute_command("SENTINEL", "SENTINELS", "mymaster")))

    wait_for("each sentinel to know 2 replicas and 2 other sentinels", 40,
             lambda: all(sentinel_view(p) == (2, 2) for p in sports),
             lambda: str([sentinel_view(p) for p in sports]))

    def master_addr(p):
        host, port = conn(p, 1).execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME",
                                                "mymaster")
        return int(port)

    # ---- the client: discovery through the sentinels, TLS all the way
    sentinel = Sentinel([("127.0.0.1", p) for p in sports],
                        sentinel_kwargs=dict(socket_timeout=1, socket_connect_timeout=1,
                                             **client_tls),
                        socket_timeout=3, socket_connect_timeout=1, **client_tls)
    master = sentinel.master_for("mymaster")
    if sentinel.discover_master("mymaster") != ("127.0.0.1", old):
        raise Failure(f"redis-py discovered {sentinel.discover_master('mymaster')}, "
                      f"not 127.0.0.1:{old}")
    w = Writer(master)
    w.start()
    try:
        stats = failover(a, w, procs, ports, names, old, sports, master_addr, conn, start)
    finally:
        w.stop.set()
        w.join(15)
    if w.is_alive():
        raise Failure("the writer did not stop within 15 s")
    return check(w, stats, sports, master_addr, conn, names)


class Writer(threading.Thread):
    """Writes k<i> = v<i>, each SET followed by WAIT 1 1000 on the same connection."""

    def __init__(self, master):
        super().__init__(daemon=True)
        self.master = master
        self.stop = threading.Event()
        self.attempts = 0       # pipelines sent (retries included)
        self.written = 0        # SETs that got their reply
        self.acked = {}         # key -> value, WAIT said >= 1 replica has it
        self.ack_times = []     # time of each acknowledgement
        self.retried = collections.Counter()  # expected errors, by kind
        self.unexpected = []    # anything else

    def run(self):
        i = 0
        while not self.stop.is_set():
            k, v = f"k{i}", f"v{i}"
            self.attempts += 1
            try:
                # A pipeline goes out on one connection: the WAIT counts this SET.
                pipe = self.master.pipeline(transaction=False)
                pipe.set(k, v)
                pipe.execute_command("WAIT", 1, 1000)
                ok, n = pipe.execute()
            except RETRIED as e:
                msg = str(e).split("\n")[0][:70]
                self.retried[f"{type(e).__name__}: {msg}"] += 1
                time.sleep(0.1)
                continue  # the same key again
            except Exception as e:
                self.unexpected.append(f"{k}: {type(e).__name__}: {e}")
                time.sleep(0.1)
                continue
            if ok is not True:
                self.unexpected.append(f"SET {k} replied {ok!r}")
            self.written += 1
            if int(n) >= 1:
                self.acked[k] = v
                self.ack_times.append(time.time())
            i += 1


def failover(a, w, procs, ports, names, old, sports, master_addr, conn, start):
    t0 = time.time()
    wait_for("the writer's first acknowledged write", 15, lambda: w.acked)
    time.sleep(max(0.0, a.seconds / 2 - (time.time() - t0)))
    acked_before = len(w.acked)
    if procs[names[old]].poll() is not None:
        raise Failure("the master died before it was killed")
    procs[names[old]].send_signal(signal.SIGKILL)
    procs[names[old]].wait(10)
    t_kill = time.time()
    wait_for("the sentinels to promote a replica", 45,
             lambda: all(master_addr(p) != old for p in sports),
             lambda: str([master_addr(p) for p in sports]))
    t_promoted = time.time()
    new = master_addr(sports[0])
    if new not in ports[1:]:
        raise Failure(f"the sentinels promoted port {new}, not one of the replicas")

    # Settled: every sentinel has ended the failover and names the same master, and the
    # other replica follows it. (Whichever master that is: on a loaded machine the
    # sentinels could fail over once more.)
    def state(p):
        s = conn(p, 1).sentinel_master("mymaster")
        return s["flags"], s["port"]

    def settled():
        states = {state(p) for p in sports}
        if len(states) != 1 or next(iter(states))[0] != "master":
            return False
        m = next(iter(states))[1]
        return all((lambda i: i.get("role") == "slave" and i.get("master_port") == str(m)
                    and i.get("master_link_status") == "up")(info(conn(p)))
                   for p in ports[1:] if p != m)
    wait_for("the sentinels to end the failover and the other replica to follow", 30,
             settled, lambda: str([state(p) for p in sports]) + " " + str(
                 [info(conn(p)) for p in ports[1:]]))
    wait_for("an acknowledged write through the new master", 30,
             lambda: w.ack_times and w.ack_times[-1] > t_kill)
    # The old master comes back, empty, on its port and is made a replica by the sentinels.
    start(names[old])
    t_restart = time.time()
    wait_for("the old master to restart", 15, lambda: conn(old).ping())

    def rejoined():
        i, m = info(conn(old)), master_addr(sports[0])
        return (i.get("role") == "slave" and i.get("master_port") == str(m)
                and i.get("master_link_status") == "up")
    wait_for("the sentinels to make the old master a replica of the new one", 60, rejoined,
             lambda: str(info(conn(old))))
    t_rejoined = time.time()
    acks = len(w.acked)
    time.sleep(a.seconds / 2)
    wait_for("acknowledged writes after the old master rejoined", 15,
             lambda: len(w.acked) > acks)
    first_ack = min(t for t in w.ack_times if t > t_kill)
    return dict(acked_before=acked_before, promote_s=t_promoted - t_kill,
                failover_s=first_ack - t_kill, rejoin_s=t_rejoined - t_restart, new=new)


def check(w, stats, sports, master_addr, conn, names):
    views = {master_addr(p) for p in sports}
    if len(views) != 1:
        raise Failure(f"the sentinels disagree about the master: {views}")
    m = views.pop()
    mc = conn(m, 10)
    if info(mc).get("role") != "master":
        raise Failure(f"port {m} ({names[m]}), master for the sentinels, says {info(mc)}")
    replicas = [p for p in names if p != m]
    keys = list(w.acked)
    lost, missing = set(), []  # keys, and where each was found wrong

    def compare(c, where):
        for i in range(0, len(keys), 1000):
            batch = keys[i:i + 1000]
            for k, got in zip(batch, c.mget(batch)):
                if got is None or got.decode() != w.acked[k]:
                    lost.add(k)
                    missing.append(f"{k}: {got!r} on {where}")
    compare(mc, f"the master {names[m]}")
    master_n = mc.dbsize()

    def caught_up(p):
        mi, ri = info(mc), info(conn(p))
        return (ri.get("role") == "slave" and ri.get("master_port") == str(m)
                and ri.get("master_link_status") == "up"
                and ri.get("slave_repl_offset") == mi.get("master_repl_offset")
                and conn(p).dbsize() == mc.dbsize())
    for p in replicas:
        wait_for(f"replica {names[p]} to catch up (DBSIZE as the master's)", 30,
                 lambda: caught_up(p),
                 lambda: f"master DBSIZE {mc.dbsize()} offset "
                         f"{info(mc).get('master_repl_offset')}, replica DBSIZE "
                         f"{conn(p).dbsize()} {info(conn(p))}")
        compare(conn(p, 10), f"replica {names[p]}")
    sizes = [conn(p).dbsize() for p in replicas]
    retried = sum(w.retried.values())
    print(f"writes attempted {w.attempts}, written {w.written}, acknowledged by WAIT 1: "
          f"{len(w.acked)} ({stats['acked_before']} before the kill); "
          f"errors retried: {retried}; unexpected errors: {len(w.unexpected)}")
    print(f"kill -9 of the master -> all sentinels name {names[stats['new']]} master: "
          f"{stats['promote_s']:.1f} s; -> first acknowledged write: "
          f"{stats['failover_s']:.1f} s; old master restarted -> replica of the new one: "
          f"{stats['rejoin_s']:.1f} s")
    print(f"master {names[m]} DBSIZE {master_n}, replicas "
          + ", ".join(f"{names[p]} {n}" for p, n in zip(replicas, sizes))
          + f"; acknowledged writes lost: {len(lost)}")
    for e, n in w.retried.most_common():
        print(f"  retried {n}x: {e}")
    for e in w.unexpected[:10]:
        print("  unexpected:", e)
    for k in missing[:10]:
        print("  lost:", k)
    problems = []
    if lost:
        problems.append(f"{len(lost)} acknowledged writes lost")
    if w.unexpected:
        problems.append(f"{len(w.unexpected)} unexpected errors")
    if any(n != master_n for n in sizes):
        problems.append(f"replica DBSIZE {sizes} != master's {master_n}")
    if master_n < len(w.acked):
        problems.append(f"master has {master_n} keys, fewer than the {len(w.acked)} acked")
    if stats["acked_before"] < 10:
        problems.append(f"only {stats['acked_before']} writes acknowledged before the kill")
    if problems:
        raise Failure("; ".join(problems))
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
