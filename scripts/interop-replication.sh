#!/usr/bin/env bash
# Replication interop at scale (issue 17): ferrokv -> redis-server 7.0 -> ferrokv, all
# over mutual TLS (tls-replication yes). The first ferrokv is loaded with N keys of every
# type (strings, strings with TTLs, lists, hashes, sets, integer sets, sorted sets,
# streams with consumer groups, HyperLogLogs) and a function library; the redis-server
# replicates from it and the second ferrokv from the redis-server, while writes of every
# kind go on (redis-benchmark). Both ferrokv ends must then have the same DEBUG DIGEST
# (the data went through redis-server's loader, stream and RDB writer intact), and all
# three the same DBSIZE; then the first link is killed, more writes are made, and the
# chain must continue partially (sync_partial_ok) and agree again.
#
#   scripts/interop-replication.sh [--keys N] [--writes N]   (default 1000000, 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
keys=1000000 writes=100000
while [ $# -gt 0 ]; do
    case "$1" in
        --keys) keys=$2; shift 2 ;;
        --writes) writes=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
cargo build --release --quiet
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
scripts/gen-test-certs.sh "$work/tls" >/dev/null 2>&1
tls=(--tls-cert-file "$work/tls/redis.crt" --tls-key-file "$work/tls/redis.key"
     --tls-client-cert-file "$work/tls/client.crt" --tls-client-key-file "$work/tls/client.key"
     --tls-ca-cert-file "$work/tls/ca.crt" --tls-auth-clients yes --tls-replication yes)
start() { # binary plain tls name
    mkdir -p "$work/$4"
    "$1" --port "$2" --tls-port "$3" --bind 127.0.0.1 --save "" --dir "$work/$4" \
        --enable-debug-command yes --repl-diskless-sync-delay 0 "${tls[@]}" >"$work/$4/log" 2>&1 &
    pids+=($!)
    until redis-cli -p "$2" ping 2>/dev/null | grep -q PONG; do sleep 0.05; done
}
field() { redis-cli -p "$1" info "$2" | tr -d '\r' | sed -n "s/^$3://p"; }
settled() { # master-plain replica-plain
    for _ in $(seq 1200); do
        [ "$(field "$2" replication master_link_status)" = up ] &&
            [ "$(field "$1" replication master_repl_offset)" = "$(field "$2" replication slave_repl_offset)" ] && return
        sleep 0.1
    done
    echo "replica on port $2 did not catch up" >&2; exit 1
}
start target/release/ferrokv 7901 7911 a
start /usr/bin/redis-server 7902 7912 b
start target/release/ferrokv 7903 7913 c

echo "loading $keys keys of every type..." >&2
awk -v n="$keys" 'BEGIN {
    for (i = 0; i < n; i++) {
        t = i % 10
        if (t == 0) printf "SET s:%d value-%d\n", i, i
        else if (t == 1) printf "SET t:%d v PX %d\n", i, 600000 + i
        else if (t == 2) printf "RPUSH l:%d a %d c\n", i, i
        else if (t == 3) printf "HSET h:%d f %d g x\n", i, i
        else if (t == 4) printf "SADD m:%d a%d b c\n", i, i
        else if (t == 5) printf "SADD i:%d 1 %d 3\n", i, i
        else if (t == 6) printf "ZADD z:%d 1.5 a %d b\n", i, i
        else if (t == 7) printf "XADD x:%d * n %d\n", i % 1000, i
        else if (t == 8) printf "PFADD p:%d a b %d\n", i % 1000, i
        else printf "INCRBY n:%d %d\n", i, i
    }
    for (j = 7; j < 1000; j += 10) printf "XGROUP CREATE x:%d g 0\n", j
}' | redis-cli -p 7901 --pipe >/dev/null
redis-cli -p 7901 FUNCTION LOAD "#!lua name=interop
redis.register_function('f', function(keys, args) return 1 end)" >/dev/null

load() { # requests
    redis-benchmark -p 7901 -q -r 200000 -n "$1" -t set,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,mset -P 8 >/dev/null 2>&1
}
load "$writes" &
loader=$!
redis-cli -p 7902 replicaof 127.0.0.1 7911 >/dev/null
redis-cli -p 7903 replicaof 127.0.0.1 7912 >/dev/null
wait "$loader"
redis-cli -p 7901 EVAL "redis.call('SET', 'script', '1') return redis.call('XADD', 'x:7', '*', 'from', 'script')" 0 >/dev/null
redis-cli -p 7901 XREADGROUP GROUP g alice COUNT 5 STREAMS x:7 '>' >/dev/null
settled 7901 7902
settled 7902 7903
da=$(redis-cli -p 7901 debug digest) dc=$(redis-cli -p 7903 debug digest)
na=$(redis-cli -p 7901 dbsize) nb=$(redis-cli -p 7902 dbsize) nc=$(redis-cli -p 7903 dbsize)
echo "after the sync: dbsize $na / $nb / $nc, digest $da / $dc"
[ "$da" = "$dc" ] && [ "$na" = "$nb" ] && [ "$nb" = "$nc" ] || { echo "MISMATCH" >&2; exit 1; }

redis-cli -p 7901 client kill type replica >/dev/null
load "$writes"
settled 7901 7902
settled 7902 7903
da=$(redis-cli -p 7901 debug digest) dc=$(redis-cli -p 7903 debug digest)
na=$(redis-cli -p 7901 dbsize) nb=$(redis-cli -p 7902 dbsize) nc=$(redis-cli -p 7903 dbsize)
partial=$(field 7901 stats sync_partial_ok)
echo "after a killed link: dbsize $na / $nb / $nc, digest $da / $dc, partial resyncs at the top $partial"
[ "$da" = "$dc" ] && [ "$na" = "$nb" ] && [ "$nb" = "$nc" ] && [ "$partial" -ge 1 ] || { echo "MISMATCH" >&2; exit 1; }
echo OK
