#!/usr/bin/env bash
# Instruction counts per request, free of the noise of a shared machine: runs ferrokv (release)
# and redis-server under `valgrind --tool=callgrind`, drives each with the same
# redis-benchmark load (-P 16 SET then GET, plaintext and TLS), and prints user-space
# instructions per request for both, plus ferrokv's top functions by self cost.
#
#   perf/callgrind.sh [REQUESTS] [N_TOP]     (defaults 200000, 15)
# Output files: /tmp/ferrokv-callgrind/*.out (open with callgrind_annotate or kcachegrind).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200000}
top=${2:-15}
out=/tmp/ferrokv-callgrind
mkdir -p "$out"
[ -f tests/tls/redis.crt ] || scripts/gen-test-certs.sh tests/tls >/dev/null
common=(--save '' --bind 127.0.0.1 --tls-cert-file tests/tls/redis.crt --tls-key-file tests/tls/redis.key
    --tls-ca-cert-file tests/tls/ca.crt --tls-auth-clients no)

run() { # name binary port tls(0/1)
    local name=$1 bin=$2 port=$3 tls=$4 args
    rm -f "$out/$name.out"
    if [ "$tls" = 1 ]; then args=(--port 0 --tls-port "$port"); else args=(--port "$port"); fi
    valgrind --tool=callgrind --callgrind-out-file="$out/$name.out" --collect-atstart=yes \
        "$bin" "${args[@]}" "${common[@]}" >"$out/$name.log" 2>&1 &
    local pid=$!
    local cli=(-p "$port")
    [ "$tls" = 1 ] && cli+=(--tls --cacert tests/tls/ca.crt)
    for _ in $(seq 300); do redis-cli "${cli[@]}" ping >/dev/null 2>&1 && break; sleep 0.2; done
    # Warm-up (startup, first allocations), then zero the counters and measure.
    redis-benchmark "${cli[@]}" -c 50 -P 16 -n 20000 -r 100000 -t set -q >/dev/null
    callgrind_control --zero "$pid" >/dev/null
    redis-benchmark "${cli[@]}" -c 50 -P 16 -n "$n" -r 100000 -t set,get -q | tr '\r' '\n' | grep -v '^$' | tail -2 >&2
    callgrind_control --dump "$pid" >/dev/null
    kill "$pid"; wait "$pid" 2>/dev/null || true
    # The dump after --zero is part 1; the file without suffix is written at exit.
    local part="$out/$name.out.1"
    local ir
    ir=$(callgrind_annotate "$part" 2>/dev/null | grep -m1 'PROGRAM TOTALS' | awk '{gsub(",","",$1); print $1}')
    echo "$name: $ir instructions for $((2 * n)) requests = $((ir / (2 * n))) per request"
    echo "$part" > "$out/$name.last"
}

run ferrokv-plain target/release/ferrokv 7880 0
run redis-plain /usr/bin/redis-server 7881 0
run ferrokv-tls target/release/ferrokv 7882 1
run redis-tls /usr/bin/redis-server 7883 1
for name in ferrokv-plain ferrokv-tls; do
    echo "== $name: top $top functions by self instructions"
    callgrind_annotate --inclusive=no --threshold=100 "$(cat "$out/$name.last")" 2>/dev/null | sed -n '/^Ir/,$p' | grep -E '^ *[0-9,]+ ' | grep -v -e 'PROGRAM TOTALS' -e '(100.0%)' | head -"$top" || true
done
