#!/usr/bin/env bash
# Interop check with stock Redis tooling against the release build: redis-cli (plain and
# TLS, each tls-auth-clients mode), openssl s_client (verify code and session reuse), and
# redis-benchmark's default suite (plain -P 1 / -P 16, TLS). Fails on any error reply.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/ferrokv
[ -x "$bin" ] || cargo build --release --quiet
work=$(mktemp -d)
certs=$work/tls
scripts/gen-test-certs.sh "$certs" >/dev/null
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "interop: FAIL: $*"; exit 1; }

start() { # start PORT ARGS...
    local port=$1; shift
    "$bin" --bind 127.0.0.1 --save "" "$@" >"$work/server-$port.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0; sleep 0.05; done
    cat "$work/server-$port.log"; fail "server on $port did not start"
}
tlsargs=(--tls-cert-file "$certs/redis.crt" --tls-key-file "$certs/redis.key" --tls-ca-cert-file "$certs/ca.crt")
cli_tls=(--tls --cert "$certs/client.crt" --key "$certs/client.key" --cacert "$certs/ca.crt")
passed=0 failed=0
check() { # check NAME EXPECTED ACTUAL
    if [ "$2" == "$3" ]; then passed=$((passed+1)); else failed=$((failed+1)); echo "interop: $1: expected '$2', got '$3'"; fi
}

start 16379 --port 16379 --tls-port 16380 "${tlsargs[@]}"
check "redis-cli ping" PONG "$(redis-cli -p 16379 PING)"
check "redis-cli set" OK "$(redis-cli -p 16379 SET greeting hello)"
check "redis-cli tls get" hello "$(redis-cli -p 16380 "${cli_tls[@]}" GET greeting)"
check "redis-cli tls without client cert is refused" refused "$(redis-cli -p 16380 --tls --cacert "$certs/ca.crt" PING >/dev/null 2>&1 && echo accepted || echo refused)"
check "openssl s_client verify" "Verify return code: 0 (ok)" "$(echo | timeout 10 openssl s_client -connect 127.0.0.1:16380 -cert "$certs/client.crt" -key "$certs/client.key" -CAfile "$certs/ca.crt" 2>/dev/null | grep -m1 -o 'Verify return code: 0 (ok)' || true)"
reuse=$(echo | timeout 20 openssl s_client -tls1_2 -reconnect -connect 127.0.0.1:16380 -cert "$certs/client.crt" -key "$certs/client.key" -CAfile "$certs/ca.crt" 2>/dev/null | grep -c '^Reused' || true)
[ "$reuse" -ge 1 ] && check "openssl s_client -reconnect reuses the session" yes yes || check "openssl s_client -reconnect reuses the session" yes no

start 16381 --port 0 --tls-port 16381 "${tlsargs[@]}" --tls-auth-clients optional
check "tls-auth-clients optional without cert" PONG "$(redis-cli -p 16381 --tls --cacert "$certs/ca.crt" PING)"
start 16382 --port 0 --tls-port 16382 "${tlsargs[@]}" --tls-auth-clients no
check "tls-auth-clients no" PONG "$(redis-cli -p 16382 --tls --cacert "$certs/ca.crt" PING)"

bench() { # bench NAME ARGS...
    local name=$1; shift
    local out
    out=$(redis-benchmark -q -n "${BENCH_N:-20000}" -c 50 "$@" 2>&1) || fail "$name: redis-benchmark exited non-zero: $out"
    if grep -qiE 'error|ERR ' <<<"$out"; then echo "$out"; failed=$((failed+1)); echo "interop: $name: error replies"; return; fi
    passed=$((passed+1))
    echo "== $name"; tr '\r' '\n' <<<"$out" | grep 'requests per second' || true
}
bench "redis-benchmark default suite -P 1" -p 16379
bench "redis-benchmark default suite -P 16" -p 16379 -P 16
bench "redis-benchmark --tls default suite" -p 16380 "${cli_tls[@]}"
echo "interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
