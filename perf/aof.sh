#!/usr/bin/env bash
# AOF cost, ferrokv vs Debian's redis-server 7.0, in the same run (issue 15): a SET load
# (redis-benchmark, 50 clients, -P 1, 100-byte values) against each server with the AOF
# off, with appendfsync everysec and with appendfsync always. Per case: the server's CPU
# per request (utime+stime from /proc over the requests) and the throughput; medians over
# --rounds (default 3), the servers alternating. The AOF overhead is each server's CPU
# per request with the AOF over the same without it.
#
#   perf/aof.sh [--rounds N] [--requests N] [--no-build]
# Needs redis-server, redis-cli and redis-benchmark; writes its files under $TMPDIR.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 requests=200000 build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --requests) requests=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
[ "$build" = 1 ] && cargo build --release --quiet
work=$(mktemp -d)
trap 'redis-cli -p 7851 shutdown nosave >/dev/null 2>&1 || true; redis-cli -p 7852 shutdown nosave >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
declare -A bin=([ferrokv]=target/release/ferrokv [redis]=/usr/bin/redis-server)
declare -A port=([ferrokv]=7851 [redis]=7852)
hz=$(getconf CLK_TCK)

start() { # name dir args...
    local name=$1 dir=$2; shift 2
    "${bin[$name]}" --port "${port[$name]}" --bind 127.0.0.1 --save "" --dir "$dir" "$@" \
        >"$dir/log" 2>&1 &
    echo $! >"$dir/pid"
    for _ in $(seq 600); do
        redis-cli -p "${port[$name]}" ping 2>/dev/null | grep -q PONG && return
        sleep 0.05
    done
    echo "$name did not start" >&2; exit 1
}
stop() { redis-cli -p "${port[$1]}" shutdown nosave >/dev/null 2>&1 || true; sleep 0.3; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A cpu rps
for round in $(seq "$rounds"); do
    for mode in off everysec always; do
        for name in ferrokv redis; do
            dir="$work/$name-$mode-$round"; mkdir -p "$dir"
            case $mode in
                off) start "$name" "$dir" --appendonly no ;;
                *) start "$name" "$dir" --appendonly yes --appendfsync "$mode" ;;
            esac
            pid=$(cat "$dir/pid")
            n=$requests
            before=$(cpu_ticks "$pid")
            out=$(redis-benchmark -p "${port[$name]}" -t set -n "$n" -c 50 -d 100 -r 100000 -q 2>/dev/null | tr '\r' '\n' | grep -E "requests per second" | tail -1)
            after=$(cpu_ticks "$pid")
            stop "$name"
            r=$(echo "$out" | awk '{print $2}')
            c=$(awk -v a="$after" -v b="$before" -v n="$n" -v hz="$hz" 'BEGIN {printf "%.3f", (a - b) / hz * 1e6 / n}')
            cpu[$name,$mode]+="$c "
            rps[$name,$mode]+="$r "
            echo "round $round $mode $name: $c us/request, $r requests/s" >&2
        done
    done
done
med() { tr ' ' '\n' | grep . | median; }
printf '%-9s %-9s %12s %12s %10s\n' mode server "cpu us/req" "requests/s" "overhead"
for mode in off everysec always; do
    for name in ferrokv redis; do
        c=$(echo "${cpu[$name,$mode]}" | med); r=$(echo "${rps[$name,$mode]}" | med)
        base=$(echo "${cpu[$name,off]}" | med)
        o=$(awk -v c="$c" -v b="$base" 'BEGIN {printf "%.2fx", c / b}')
        printf '%-9s %-9s %12s %12s %10s\n' "$mode" "$name" "$c" "$r" "$o"
    done
done
