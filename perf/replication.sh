#!/usr/bin/env bash
# Replication costs, ferrokv vs Debian's redis-server 7.0, in the same run (issue 17):
#  1. full sync of N keys x 100 bytes (DEBUG POPULATE) from a master to a replica of the
#     same kind over TLS (mutual TLS, tls-replication yes), disk-backed
#     (repl-diskless-sync no) and diskless (yes, delay 0), the latter also with the
#     replica loading as the snapshot streams in (repl-diskless-load swapdb): seconds
#     from REPLICAOF until the replica's link is up with every key;
#  2. the master's CPU per request (utime+stime from /proc over the requests) for a SET
#     load over TLS (redis-benchmark --tls, 50 clients, -P 16, 100-byte values) with 0
#     and with 2 replicas attached, and the replication lag seen meanwhile (master offset
#     minus the slowest replica's acknowledged offset, sampled every 100 ms; max).
# Medians over --rounds (default 3), the servers alternating.
#
#   perf/replication.sh [--rounds N] [--keys N] [--requests N] [--sync-only] [--no-build]
# Needs redis-server, redis-cli and redis-benchmark (TLS builds, as Debian's); test
# certificates are made in $TMPDIR with scripts/gen-test-certs.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 keys=1000000 requests=2000000 build=1 sync_only=0
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --keys) keys=$2; shift 2 ;;
        --requests) requests=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        --sync-only) sync_only=1; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
[ "$build" = 1 ] && cargo build --release --quiet
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
scripts/gen-test-certs.sh "$work/tls" >/dev/null 2>&1
declare -A bin=([ferrokv]=$PWD/target/release/ferrokv [redis]=/usr/bin/redis-server)
hz=$(getconf CLK_TCK)
tls=(--tls-cert-file "$work/tls/redis.crt" --tls-key-file "$work/tls/redis.key"
     --tls-client-cert-file "$work/tls/client.crt" --tls-client-key-file "$work/tls/client.key"
     --tls-ca-cert-file "$work/tls/ca.crt" --tls-auth-clients yes --tls-replication yes)
cli() { redis-cli -p "$1" "${@:2}"; }

start() { # kind plain-port tls-port dir args... -> pid in $started
    local kind=$1 port=$2 tport=$3 dir=$4; shift 4
    mkdir -p "$dir"
    "${bin[$kind]}" --port "$port" --tls-port "$tport" --bind 127.0.0.1 --save "" \
        --dir "$dir" --enable-debug-command yes "${tls[@]}" "$@" >"$dir/log" 2>&1 &
    started=$!
    pids+=("$started")
    for _ in $(seq 600); do
        cli "$port" ping 2>/dev/null | grep -q PONG && return
        sleep 0.05
    done
    echo "$kind did not start" >&2; exit 1
}
stopall() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    pids=(); sleep 0.3
}
field() { cli "$1" info "$2" | tr -d '\r' | sed -n "s/^$3://p"; }
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

sync_time() { # kind diskless(yes|no) replica-load(disabled|swapdb) -> seconds
    local kind=$1 dl=$2 ld=$3
    start "$kind" 7861 7871 "$work/m" --repl-diskless-sync "$dl" --repl-diskless-sync-delay 0
    cli 7861 debug populate "$keys" key 100 >/dev/null
    start "$kind" 7862 7872 "$work/r" --repl-diskless-load "$ld"
    local t0 t1
    t0=$(date +%s.%N)
    cli 7862 replicaof 127.0.0.1 7871 >/dev/null
    while true; do
        [ "$(field 7862 replication master_link_status)" = up ] &&
            [ "$(cli 7862 dbsize)" = "$keys" ] && break
        sleep 0.02
    done
    t1=$(date +%s.%N)
    stopall; rm -rf "$work/m" "$work/r"
    echo "$t1 - $t0" | bc -l
}

load() { # kind replicas -> "us_per_req max_lag"
    local kind=$1 n=$2 mpid
    start "$kind" 7861 7871 "$work/m" --repl-diskless-sync-delay 0
    mpid=$started
    for i in $(seq "$n"); do
        start "$kind" $((7862 + i)) $((7872 + i)) "$work/r$i"
        cli $((7862 + i)) replicaof 127.0.0.1 7871 >/dev/null
    done
    for i in $(seq "$n"); do
        while [ "$(field $((7862 + i)) replication master_link_status)" != up ]; do sleep 0.05; done
    done
    local c0 c1 lagfile=$work/lag
    : >"$lagfile"
    ( while true; do
        info=$(cli 7861 info replication | tr -d '\r')
        off=$(sed -n 's/^master_repl_offset://p' <<<"$info")
        low=$(grep -o 'offset=[0-9]*' <<<"$info" | cut -d= -f2 | sort -n | head -1)
        [ -n "$low" ] && echo $((off - low)) >>"$lagfile"
        sleep 0.1
      done ) &
    local sampler=$!
    c0=$(cpu "$mpid")
    redis-benchmark --tls --cert "$work/tls/client.crt" --key "$work/tls/client.key" \
        --cacert "$work/tls/ca.crt" -p 7871 -c 50 -P 16 -d 100 -r 100000 \
        -n "$requests" -t set -q >/dev/null 2>&1
    c1=$(cpu "$mpid")
    kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
    local lag
    lag=$( (sort -n "$lagfile" | tail -1) || echo 0)
    stopall; rm -rf "$work"/m "$work"/r?
    echo "$(echo "($c1 - $c0) * 1000000 / $hz / $requests" | bc -l) ${lag:-0}"
}

declare -A res
for r in $(seq "$rounds"); do
    for kind in ferrokv redis; do
        for c in no.disabled yes.disabled yes.swapdb; do
            res[$kind.sync.$c]+="$(sync_time "$kind" "${c%.*}" "${c#*.}") "
        done
        [ "$sync_only" = 1 ] && continue
        for n in 0 2; do
            read -r us lag <<<"$(load "$kind" "$n")"
            res[$kind.cpu.$n]+="$us "
            res[$kind.lag.$n]+="$lag "
        done
    done
    echo "round $r done" >&2
done
med() { tr ' ' '\n' <<<"${res[$1]}" | grep . | median; }
printf '%s\n' "replication, $keys keys x 100 B, $requests SETs (-P 16, TLS), medians of $rounds"
printf '%-34s %12s %12s %8s\n' case ferrokv redis ratio
for c in no.disabled yes.disabled yes.swapdb; do
    f=$(med ferrokv.sync.$c) r=$(med redis.sync.$c)
    printf '%-34s %11.2fs %11.2fs %8.2f\n' "full sync (diskless ${c%.*}, load ${c#*.})" "$f" "$r" "$(echo "$f / $r" | bc -l)"
done
[ "$sync_only" = 1 ] && exit 0
for n in 0 2; do
    f=$(med ferrokv.cpu.$n) r=$(med redis.cpu.$n)
    printf '%-34s %10.3fus %10.3fus %8.2f\n' "master CPU/req, $n replicas" "$f" "$r" "$(echo "$f / $r" | bc -l)"
done
f0=$(med ferrokv.cpu.0) f2=$(med ferrokv.cpu.2) r0=$(med redis.cpu.0) r2=$(med redis.cpu.2)
printf '%-34s %10.3fus %10.3fus\n' "added by 2 replicas" "$(echo "$f2 - $f0" | bc -l)" "$(echo "$r2 - $r0" | bc -l)"
printf '%-34s %11sB %11sB\n' "max replication lag, 2 replicas" "$(med ferrokv.lag.2)" "$(med redis.lag.2)"
