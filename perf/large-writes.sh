#!/usr/bin/env bash
# Large SETs over TLS (issue 16): redis-benchmark --tls SET of 40 KB and 100 KB values,
# one client (p50 latency: a stall here is the client's Nagle waiting out the server's
# delayed ACK) and 20 clients (throughput), ferrokv and redis-server 7.0.15 in the same
# run, medians over --rounds (default 3).
#
#   perf/large-writes.sh [--rounds N] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
[ "$build" = 1 ] && cargo build --release --quiet
[ -f tests/tls/redis.crt ] || scripts/gen-test-certs.sh tests/tls >/dev/null
certs=$(pwd)/tests/tls
work=$(mktemp -d)
declare -A bin=([ferrokv]=target/release/ferrokv [redis]=/usr/bin/redis-server)
declare -A port=([ferrokv]=7861 [redis]=7862)
tls=(--tls --cacert tests/tls/ca.crt)
trap 'for n in ferrokv redis; do redis-cli -p ${port[$n]} "${tls[@]}" shutdown nosave >/dev/null 2>&1 || true; done; rm -rf "$work"' EXIT
for n in ferrokv redis; do
    "${bin[$n]}" --port 0 --tls-port "${port[$n]}" --bind 127.0.0.1 --save "" --dir "$work" \
        --tls-cert-file "$certs/redis.crt" --tls-key-file "$certs/redis.key" \
        --tls-ca-cert-file "$certs/ca.crt" --tls-auth-clients no >"$work/$n.log" 2>&1 &
done
for n in ferrokv redis; do
    up=0
    for _ in $(seq 100); do
        redis-cli -p "${port[$n]}" "${tls[@]}" ping 2>/dev/null | grep -q PONG && { up=1; break; }
        sleep 0.1
    done
    [ "$up" = 1 ] || { echo "$n did not start:" >&2; cat "$work/$n.log" >&2; exit 1; }
done
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
bench() { # name clients size requests -> "rps p50"
    redis-benchmark -p "${port[$1]}" "${tls[@]}" -c "$2" -d "$3" -n "$4" -t set -q 2>/dev/null |
        tr '\r' '\n' | grep 'per second' | tail -1 | sed -E 's/.*: ([0-9.]+) requests per second, p50=([0-9.]+) msec/\1 \2/'
}
printf '%-8s %-8s %-7s %14s %10s\n' server clients size requests/s p50_ms
for c in 1 20; do
    for d in 40000 100000; do
        for n in ferrokv redis; do
            rs=() ps=()
            for _ in $(seq "$rounds"); do
                read -r r p < <(bench "$n" "$c" "$d" $((c == 1 ? 200 : 2000)))
                rs+=("$r"); ps+=("$p")
            done
            printf '%-8s %-8s %-7s %14s %10s\n' "$n" "$c" "$d" \
                "$(printf '%s\n' "${rs[@]}" | median)" "$(printf '%s\n' "${ps[@]}" | median)"
        done
    done
done
