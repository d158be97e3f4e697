#!/usr/bin/python3
"""A cluster-aware client through a reshard and a kill -9 failover (issue 18).

Starts six ferrokv nodes (three masters with a replica each) with a mutual-TLS cluster
bus, builds the cluster with `redis-cli --cluster create`, then runs redis-py's
RedisCluster over TLS: one thread writes keys (each SET followed by WAIT 1 on the node
that took it: a write counts as acknowledged when a replica has it) and reads them back,
while the main thread reshards 3000 slots with `redis-cli --cluster reshard` and then
kills a master with SIGKILL. At the end every acknowledged write must read back, and
the only errors the application may have seen are the ones redis-py retried itself.

    /usr/bin/python3 scripts/cluster-workload.py [--bin target/release/ferrokv] [--seconds 20]

Needs Debian's python3-redis (redis-py 4.3, with RedisCluster), redis-cli and openssl.
"""
import argparse
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
from redis.cluster import RedisCluster, ClusterNode


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/ferrokv")
    ap.add_argument("--seconds", type=float, default=20)
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    work = tempfile.mkdtemp(prefix="fk-cluster-workload-")
    certs = os.path.join(work, "tls")
    subprocess.run([os.path.join(root, "scripts/gen-test-certs.sh"), certs],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    c = lambda f: os.path.join(certs, f)
    tls = ["--tls-cert-file", c("redis.crt"), "--tls-key-file", c("redis.key"),
           "--tls-client-cert-file", c("client.crt"), "--tls-client-key-file", c("client.key"),
           "--tls-ca-cert-file", c("ca.crt"), "--tls-cluster", "yes", "--tls-replication", "yes"]
    cli_tls = ["--tls", "--cert", c("client.crt"), "--key", c("client.key"), "--cacert", c("ca.crt")]
    procs, ports = [], []
    for i in range(6):
        d = os.path.join(work, f"n{i}")
        os.makedirs(d)
        tport, bus = free_port(), free_port()
        p = subprocess.Popen([a.bin, "--port", "0", "--tls-port", str(tport), "--bind", "127.0.0.1",
                              "--cluster-enabled", "yes", "--cluster-port", str(bus),
                              "--cluster-node-timeout", "2000", "--save", "", "--dir", d,
                              "--logfile", os.path.join(d, "log")] + tls)
        procs.append(p)
        ports.append(tport)
    try:
        return run(a, work, procs, ports, cli_tls, c)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


def run(a, work, procs, ports, cli_tls, c):
    def cli(*args, check=True):
        r = subprocess.run(["redis-cli"] + cli_tls + list(args), capture_output=True, text=True)
        if check and r.returncode != 0:
            raise SystemExit(f"redis-cli {args}: {r.stdout}{r.stderr}")
        return r.stdout
    for p in ports:
        for _ in range(200):
            if "PONG" in cli("-p", str(p), "ping", check=False):
                break
            time.sleep(0.05)
    cli("--cluster", "create", *[f"127.0.0.1:{p}" for p in ports], "--cluster-replicas", "1",
        "--cluster-yes")
    for _ in range(400):
        if all("cluster_state:ok" in cli("-p", str(p), "cluster", "info") for p in ports):
            break
        time.sleep(0.05)
    rc = RedisCluster(host="127.0.0.1", port=ports[0], ssl=True, ssl_certfile=c("client.crt"),
                      ssl_keyfile=c("client.key"), ssl_ca_certs=c("ca.crt"),
                      cluster_error_retry_attempts=100, socket_timeout=5,
                      retry_on_timeout=True)
    acked, written, errors, reads = {}, 0, [], 0
    stop = threading.Event()

    def writer():
        nonlocal written, reads
        i = 0
        while not stop.is_set():
            k, v = f"wk:{i}", f"v{i}"
            try:
                rc.set(k, v)
                written += 1
                # WAIT goes to the node that took the write (redis-py does not retry a
                # command sent to a given node): if that node is gone, the write was
                # simply not acknowledged.
                node = rc.get_node_from_key(k)
                try:
                    n = rc.execute_command("WAIT", 1, 1000, target_nodes=node)
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                    n = 0
                if int(n) >= 1:
                    acked[k] = v
                got = rc.get(f"wk:{i // 2}")
                reads += 1
                if got is not None and got.decode() != f"v{i // 2}":
                    errors.append(f"read wk:{i // 2} = {got!r}")
            except Exception as e:  # an error the client's own retries did not absorb
                errors.append(f"{type(e).__name__}: {e}")
                time.sleep(0.1)
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    time.sleep(a.seconds / 4)
    nodes = [l.split() for l in cli("-p", str(ports[0]), "cluster", "nodes").splitlines()]
    masters = [n for n in nodes if "master" in n[2] and len(n) > 8]
    src, dst = masters[0][0], masters[1][0]
    t0 = time.time()
    out = cli("--cluster", "reshard", f"127.0.0.1:{ports[0]}", "--cluster-from", src,
              "--cluster-to", dst, "--cluster-slots", "3000", "--cluster-yes")
    reshard_s = time.time() - t0
    if "ERR" in out:
        errors.append("reshard: " + out[-300:])
    time.sleep(a.seconds / 4)
    victim = masters[2]
    vport = int(victim[1].split("@")[0].split(":")[1])
    procs[ports.index(vport)].send_signal(signal.SIGKILL)
    t0 = time.time()
    live = [p for p in ports if p != vport]
    failover_s = None
    while time.time() - t0 < 60:
        if all("cluster_state:ok" in cli("-p", str(p), "cluster", "info", check=False) for p in live):
            view = cli("-p", str(live[0]), "cluster", "nodes")
            if any(victim[0] in l and "fail" in l for l in view.splitlines()):
                failover_s = time.time() - t0
                break
        time.sleep(0.1)
    time.sleep(a.seconds / 4)
    stop.set()
    t.join()
    lost = []
    for k, v in acked.items():
        got = rc.get(k)
        if got is None or got.decode() != v:
            lost.append(k)
    print(f"writes {written}, acknowledged by WAIT 1: {len(acked)}, reads {reads}; "
          f"reshard of 3000 slots {reshard_s:.1f} s; failover after kill -9 "
          f"{'%.1f s' % failover_s if failover_s else 'NOT DONE'}; "
          f"errors past the client's retries: {len(errors)}; acknowledged writes lost: {len(lost)}")
    for e in errors[:10]:
        print("  error:", e)
    for k in lost[:10]:
        print("  lost:", k)
    return 0 if not errors and not lost and failover_s and len(acked) > 100 else 1


if __name__ == "__main__":
    sys.exit(main())
