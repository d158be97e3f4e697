#!/usr/bin/env bash
# Start a TLS ferrokv on port 6379 (plaintext port off), making test certificates first
# if none are given. Extra arguments are passed to ferrokv (e.g. --tls-auth-clients no).
#   CERT_DIR=/path/with/{ca.crt,redis.crt,redis.key} scripts/start-tls.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${CERT_DIR:-tests/tls}
if [ ! -f "$dir/redis.crt" ] || [ ! -f "$dir/redis.key" ] || [ ! -f "$dir/ca.crt" ]; then
    scripts/gen-test-certs.sh "$dir"
fi
cargo build --release --quiet
exec target/release/ferrokv --port 0 --tls-port "${TLS_PORT:-6379}" \
    --tls-cert-file "$dir/redis.crt" --tls-key-file "$dir/redis.key" \
    --tls-ca-cert-file "$dir/ca.crt" "$@"
