#!/usr/bin/env bash
# Where does ferrokv spend its time per request? Runs the release build under `perf record`
# while redis-benchmark drives GET/SET at -P 16 (plaintext, then TLS), and prints the top
# symbols (self time) of each. Raw data: /tmp/ferrokv-profile/{plain,tls}.data.
#
#   perf/profile.sh [N_TOP] [REQUESTS]      (defaults 25, 2000000)
set -euo pipefail
cd "$(dirname "$0")/.."
top=${1:-25}
n=${2:-2000000}
port=7870
tls_port=7871
out=/tmp/ferrokv-profile
mkdir -p "$out"
[ -f tests/tls/redis.crt ] || scripts/gen-test-certs.sh tests/tls >/dev/null
target/release/ferrokv --port $port --tls-port $tls_port --save '' --bind 127.0.0.1 \
    --tls-cert-file tests/tls/redis.crt --tls-key-file tests/tls/redis.key \
    --tls-ca-cert-file tests/tls/ca.crt --tls-auth-clients no >"$out/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-benchmark -p $port -q -n 100000 -r 100000 -t set >/dev/null   # fill some keys first

profile() { # name, redis-benchmark port/TLS args...
    local name=$1; shift
    perf record -F 2999 -p $pid -o "$out/$name.data" -- sleep 600 \
        >/dev/null 2>&1 &
    local rec=$!
    sleep 0.5
    redis-benchmark "$@" -c 50 -P 16 -n "$n" -r 100000 -t set,get -q
    kill -INT $rec; wait $rec || true
    echo "== $name: top $top symbols by self time (% of ferrokv's samples)"
    perf report -i "$out/$name.data" --no-children --sort symbol --percent-limit 0.3 \
        --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -"$top"
    echo "== $name: by shared object"
    perf report -i "$out/$name.data" --no-children --sort dso --stdio -g none 2>/dev/null \
        | grep -E '^ +[0-9]' | head -8
}
profile plain -p $port
profile tls -p $tls_port --tls --cacert tests/tls/ca.crt
