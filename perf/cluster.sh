#!/usr/bin/env bash
# Cluster costs, ferrokv vs Debian's redis-server 7.0, in the same run (issue 18):
#  1. aggregate throughput of a cluster of N masters on this machine (N = cores, the
#     slots split evenly), driven by `redis-benchmark --cluster` (SET and GET, 50
#     clients, -P 16), plaintext and TLS (tls-cluster yes);
#  2. idle gossip CPU per node (utime+stime over 30 s, ms of CPU per second) in clusters
#     of 6 and 30 nodes;
#  3. failure detection and failover with cluster-node-timeout 5000: 3 masters with a
#     replica each, kill -9 a master, seconds until its replica is master and every
#     live node says cluster_state:ok;
#  4. slot migration: `redis-cli --cluster reshard` of half the slots of a master
#     holding N keys x 100 bytes (DEBUG POPULATE) to an empty one: keys/s and MB/s.
# Medians over --rounds (default 3) for 1 and 3, the servers alternating.
#
#   perf/cluster.sh [--rounds N] [--keys N] [--requests N] [--no-build] [--only 1,2,3,4]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 keys=1000000 requests=2000000 build=1 only=1,2,3,4
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --keys) keys=$2; shift 2 ;;
        --requests) requests=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        --only) only=$2; shift 2 ;;
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
tlsopts=(--tls-cert-file "$work/tls/redis.crt" --tls-key-file "$work/tls/redis.key"
     --tls-client-cert-file "$work/tls/client.crt" --tls-client-key-file "$work/tls/client.key"
     --tls-ca-cert-file "$work/tls/ca.crt" --tls-replication yes)
tlscli=(--tls --cert "$work/tls/client.crt" --key "$work/tls/client.key" --cacert "$work/tls/ca.crt")
cli() { redis-cli -p "$1" "${@:2}"; }
want() { [[ ",$only," == *",$1,"* ]]; }
base=21000

start() { # kind port dir args... -> pid in $started (plain port, bus port port+10000)
    local kind=$1 port=$2 dir=$3; shift 3
    mkdir -p "$dir"
    "${bin[$kind]}" --port "$port" --bind 127.0.0.1 --save "" --dir "$dir" \
        --cluster-enabled yes --enable-debug-command yes "$@" >"$dir/log" 2>&1 &
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
    pids=(); sleep 0.5; rm -rf "$work"/n*
}
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ok_all() { # ports...: every node says cluster_state:ok and knows them all
    local n=$#
    for p in "$@"; do
        cli "$p" cluster info 2>/dev/null | tr -d '\r' | grep -q '^cluster_state:ok' || return 1
        [ "$(cli "$p" cluster info | tr -d '\r' | sed -n 's/^cluster_known_nodes://p')" = "$n" ] || return 1
    done
}
wait_ok() { for _ in $(seq 1200); do ok_all "$@" && return; sleep 0.1; done; echo "cluster did not converge" >&2; exit 1; }
# Masters on ports $@ splitting the slots evenly, joined by MEET.
masters() {
    local n=$# i=0 per=$((16384 / $#))
    for p in "$@"; do
        local a=$((i * per)) b=$(( i == n - 1 ? 16383 : (i + 1) * per - 1 ))
        cli "$p" cluster addslotsrange "$a" "$b" >/dev/null
        i=$((i + 1))
    done
    for p in "${@:2}"; do cli "$p" cluster meet 127.0.0.1 "$1" >/dev/null; done
}

results=()
say() { echo "$*"; results+=("$*"); }

if want 1; then
    n=$(nproc)
    for mode in ${modes:-plain tls}; do
        declare -A rps_set=() rps_get=()
        for r in $(seq "$rounds"); do
            for kind in ferrokv redis; do
                ports=()
                for i in $(seq 0 $((n - 1))); do
                    p=$((base + i)); ports+=("$p")
                    if [ "$mode" = tls ]; then
                        start "$kind" "$p" "$work/n$i" --tls-port $((p + 100)) --port "$p" "${tlsopts[@]}" --tls-cluster yes --cluster-port $((p + 10000))
                    else
                        start "$kind" "$p" "$work/n$i"
                    fi
                done
                masters "${ports[@]}"
                wait_ok "${ports[@]}"
                if [ "$mode" = tls ]; then
                    bargs=(-p $((base + 100)) "${tlscli[@]}")
                else
                    bargs=(-p "$base")
                fi
                out=$(redis-benchmark "${bargs[@]}" --cluster -t set,get -n "$requests" -c 50 -P 16 -d 100 -q 2>/dev/null | tr '\r' '\n')
                s=$(echo "$out" | sed -n 's/^SET: \([0-9.]*\) requests.*/\1/p' | tail -1)
                g=$(echo "$out" | sed -n 's/^GET: \([0-9.]*\) requests.*/\1/p' | tail -1)
                rps_set[$kind]+="$s "; rps_get[$kind]+="$g "
                stopall
            done
        done
        for kind in ferrokv redis; do
            ms=$(echo ${rps_set[$kind]} | tr ' ' '\n' | median)
            mg=$(echo ${rps_get[$kind]} | tr ' ' '\n' | median)
            say "throughput $mode N=$n $kind: SET $ms rps, GET $mg rps (median of $rounds: ${rps_set[$kind]}/ ${rps_get[$kind]})"
        done
    done
fi

if want 2; then
    for size in 6 30; do
        for kind in ferrokv redis; do
            ports=()
            for i in $(seq 0 $((size - 1))); do
                p=$((base + i)); ports+=("$p")
                start "$kind" "$p" "$work/n$i" --cluster-node-timeout 15000
            done
            masters "${ports[@]}"
            wait_ok "${ports[@]}"
            sleep 5
            before=0; for p in "${pids[@]}"; do before=$((before + $(cpu "$p"))); done
            sleep 30
            after=0; for p in "${pids[@]}"; do after=$((after + $(cpu "$p"))); done
            per=$(awk -v d=$((after - before)) -v hz="$hz" -v n="$size" 'BEGIN {printf "%.2f", d / hz / 30 * 1000 / n}')
            say "idle gossip CPU, $size nodes, $kind: $per ms CPU per second per node"
            stopall
        done
    done
fi

if want 3; then
    declare -A fo=()
    for r in $(seq "$rounds"); do
        for kind in ferrokv redis; do
            ports=()
            for i in 0 1 2 3 4 5; do
                p=$((base + i)); ports+=("$p")
                start "$kind" "$p" "$work/n$i" --cluster-node-timeout 5000
            done
            masters "${ports[@]:0:3}"
            for i in 3 4 5; do cli "${ports[$i]}" cluster meet 127.0.0.1 "$base" >/dev/null; done
            wait_ok "${ports[@]}"
            for i in 0 1 2; do
                id=$(cli "${ports[$i]}" cluster myid)
                for _ in $(seq 100); do cli "${ports[$((i + 3))]}" cluster replicate "$id" >/dev/null 2>&1 && break; sleep 0.1; done
            done
            for _ in $(seq 600); do [ "$(cli $((base + 3)) role | head -1)" = slave ] && cli $((base + 3)) info replication | grep -q master_link_status:up && break; sleep 0.1; done
            sleep 2
            t0=$(date +%s.%N)
            kill -9 "${pids[0]}"
            for _ in $(seq 1200); do
                [ "$(cli $((base + 3)) role | head -1)" = master ] && ok_all_live=1 || ok_all_live=0
                if [ $ok_all_live = 1 ]; then
                    good=1
                    for p in "${ports[@]:1}"; do cli "$p" cluster info | tr -d '\r' | grep -q '^cluster_state:ok' || good=0; done
                    [ $good = 1 ] && break
                fi
                sleep 0.05
            done
            t1=$(date +%s.%N)
            fo[$kind]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') "
            stopall
        done
    done
    for kind in ferrokv redis; do
        say "failover (node-timeout 5000, kill -9 a master) $kind: $(echo ${fo[$kind]} | tr ' ' '\n' | median) s (median of $rounds: ${fo[$kind]})"
    done
fi

if want 4; then
    for kind in ferrokv redis; do
        start "$kind" "$base" "$work/n0"; a=$started
        start "$kind" $((base + 1)) "$work/n1"
        start "$kind" $((base + 2)) "$work/n2"
        cli "$base" cluster addslotsrange 0 10000 >/dev/null
        cli $((base + 2)) cluster addslotsrange 10001 16383 >/dev/null
        cli $((base + 1)) cluster meet 127.0.0.1 "$base" >/dev/null
        cli $((base + 2)) cluster meet 127.0.0.1 "$base" >/dev/null
        wait_ok "$base" $((base + 1)) $((base + 2))
        # DEBUG POPULATE fills every slot: keep those the node owns.
        cli "$base" debug populate "$keys" key 100 >/dev/null
        total=$(cli "$base" dbsize)
        from=$(cli "$base" cluster myid); to=$(cli $((base + 1)) cluster myid)
        t0=$(date +%s.%N)
        redis-cli --cluster reshard 127.0.0.1:"$base" --cluster-from "$from" --cluster-to "$to" \
            --cluster-slots 5000 --cluster-yes --cluster-pipeline 100 >/dev/null 2>&1 || true
        t1=$(date +%s.%N)
        moved=$(cli $((base + 1)) dbsize)
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
        say "slot migration $kind: $moved of $total keys in $secs s: $(awk -v k="$moved" -v s="$secs" 'BEGIN {printf "%.0f keys/s, %.1f MB/s", k / s, k * 100 / s / 1e6}')"
        stopall
    done
fi
echo
printf '%s\n' "${results[@]}"
