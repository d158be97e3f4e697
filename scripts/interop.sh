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

# Ports: INTEROP_BASE .. INTEROP_BASE+9 (default 16379).
b=${INTEROP_BASE:-16379}
p_plain=$b p_tls=$((b+1)) p_opt=$((b+2)) p_no=$((b+3)) p_conf=$((b+4)) p_off=$((b+5))
s_client() { # s_client PORT ARGS... (stdin closed)
    local port=$1; shift
    echo | timeout 20 openssl s_client -connect 127.0.0.1:"$port" "$@" 2>/dev/null
}
refused() { "$@" >/dev/null 2>&1 && echo accepted || echo refused; }

# The guide's dual-port migration setup, mTLS enforced (tls-auth-clients yes, the default).
start "$p_plain" --port "$p_plain" --tls-port "$p_tls" "${tlsargs[@]}"
check "redis-cli ping" PONG "$(redis-cli -p "$p_plain" PING)"
check "redis-cli set" OK "$(redis-cli -p "$p_plain" SET greeting hello)"
check "redis-cli --tls client cert (yes)" hello "$(redis-cli -p "$p_tls" "${cli_tls[@]}" GET greeting)"
check "redis-cli --tls server pair as client cert (guide's basic connection)" PONG \
    "$(redis-cli -p "$p_tls" --tls --cert "$certs/redis.crt" --key "$certs/redis.key" --cacert "$certs/ca.crt" PING)"
check "redis-cli --tls without client cert refused (yes)" refused "$(refused redis-cli -p "$p_tls" --tls --cacert "$certs/ca.crt" PING)"
check "redis-cli --tls without CA refused" refused "$(refused redis-cli -p "$p_tls" --tls --cert "$certs/client.crt" --key "$certs/client.key" PING)"
check "redis-cli --tls --insecure" PONG "$(redis-cli -p "$p_tls" --tls --insecure --cert "$certs/client.crt" --key "$certs/client.key" PING)"
check "plaintext redis-cli on the TLS port refused" refused "$(refused timeout 5 redis-cli -p "$p_tls" PING)"
check "CONFIG GET tls-protocols" "tls-protocols" "$(redis-cli -p "$p_plain" CONFIG GET tls-protocols | head -1)"
check "INFO server shows tls_port" "tls_port:$p_tls" "$(redis-cli -p "$p_plain" INFO server | tr -d '\r' | grep '^tls_port:')"
id=(-cert "$certs/client.crt" -key "$certs/client.key" -CAfile "$certs/ca.crt")
for proto in -tls1_2 -tls1_3; do
    out=$(s_client "$p_tls" $proto "${id[@]}")
    check "openssl s_client $proto verify" "Verify return code: 0 (ok)" "$(grep -m1 -o 'Verify return code: 0 (ok)' <<<"$out" || true)"
done
reuse=$(s_client "$p_tls" -tls1_2 -reconnect "${id[@]}" | grep -c '^Reused' || true)
check "openssl s_client -tls1_2 -reconnect reuses the session" yes "$([ "$reuse" -ge 1 ] && echo yes || echo no)"
# TLS 1.3 tickets arrive after the handshake, which -reconnect does not wait for (same with
# redis-server): keep the first session open a moment, save it, resume it.
sleep 1 | timeout 20 openssl s_client -connect 127.0.0.1:"$p_tls" -tls1_3 -sess_out "$work/sess.pem" "${id[@]}" >/dev/null 2>&1 || true
check "openssl s_client -tls1_3 -sess_in resumes" "Reused, TLSv1.3" "$(s_client "$p_tls" -tls1_3 -sess_in "$work/sess.pem" "${id[@]}" | grep -m1 -o 'Reused, TLSv1.3' || true)"

start "$p_opt" --port 0 --tls-port "$p_opt" "${tlsargs[@]}" --tls-auth-clients optional
check "redis-cli --tls --cacert only (optional)" PONG "$(redis-cli -p "$p_opt" --tls --cacert "$certs/ca.crt" PING)"
check "redis-cli --tls client cert (optional)" PONG "$(redis-cli -p "$p_opt" "${cli_tls[@]}" PING)"
start "$p_no" --port 0 --tls-port "$p_no" "${tlsargs[@]}" --tls-auth-clients no
check "redis-cli --tls --cacert only (no)" PONG "$(redis-cli -p "$p_no" --tls --cacert "$certs/ca.crt" PING)"
check "redis-cli --tls client cert (no)" PONG "$(redis-cli -p "$p_no" "${cli_tls[@]}" PING)"

# The guide's production example as a config file, with an encrypted key (OpenSSL 3 PKCS#8).
openssl pkcs8 -topk8 -in "$certs/redis.key" -out "$certs/redis-enc.key" -passout pass:secret_passphrase
cat >"$work/redis-tls.conf" <<CONF
port 0
tls-port $p_conf
tls-cert-file $certs/redis.crt
tls-key-file $certs/redis-enc.key
tls-key-file-pass secret_passphrase
tls-ca-cert-file $certs/ca.crt
tls-dh-params-file $certs/redis.dh
tls-auth-clients yes
tls-protocols "TLSv1.2 TLSv1.3"
tls-ciphers DEFAULT:!MEDIUM
tls-ciphersuites TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384
tls-prefer-server-ciphers yes
tls-session-caching yes
tls-session-cache-size 20480
tls-session-cache-timeout 300
CONF
"$bin" "$work/redis-tls.conf" --save "" --bind 127.0.0.1 >"$work/server-$p_conf.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$p_conf") 2>/dev/null && break; sleep 0.05; done
check "config-file server (encrypted key)" PONG "$(redis-cli -p "$p_conf" "${cli_tls[@]}" PING)"
check "tls-ciphers from the guide" "tls-ciphers DEFAULT:!MEDIUM" "$(redis-cli -p "$p_conf" "${cli_tls[@]}" CONFIG GET tls-ciphers | paste -sd' ')"
start "$p_off" --port 0 --tls-port "$p_off" "${tlsargs[@]}" --tls-session-caching no
reuse=$(s_client "$p_off" -tls1_2 -reconnect -cert "$certs/client.crt" -key "$certs/client.key" -CAfile "$certs/ca.crt" | grep -c '^Reused' || true)
check "tls-session-caching no: no reuse" 0 "$reuse"

bench() { # bench NAME ARGS...
    local name=$1; shift
    local out
    out=$(redis-benchmark -q -n "${BENCH_N:-20000}" -c 50 "$@" 2>&1) || fail "$name: redis-benchmark exited non-zero: $out"
    if grep -qiE 'error|ERR ' <<<"$out"; then echo "$out"; failed=$((failed+1)); echo "interop: $name: error replies"; return; fi
    passed=$((passed+1))
    echo "== $name"; tr '\r' '\n' <<<"$out" | grep 'requests per second' || true
}
bench "redis-benchmark default suite -P 1" -p "$p_plain"
bench "redis-benchmark default suite -P 16" -p "$p_plain" -P 16
bench "redis-benchmark --tls default suite" -p "$p_tls" "${cli_tls[@]}"
bench "redis-benchmark --tls default suite -P 16" -p "$p_tls" "${cli_tls[@]}" -P 16
echo "interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
