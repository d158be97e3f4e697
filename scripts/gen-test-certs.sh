#!/usr/bin/env bash
# Make test certificates as Redis's utils/gen-test-certs.sh does: a CA, a server
# certificate (redis.crt/key), a client certificate with clientAuth usage
# (client.crt/key), and DH parameters (redis.dh). For tests and local use only.
# usage: scripts/gen-test-certs.sh [DIR]   (default tests/tls)
set -euo pipefail
dir=${1:-tests/tls}
mkdir -p "$dir"
cd "$dir"

gen_cert() {
    local name=$1 cn=$2 usage=$3
    [ -f "$name.key" ] || openssl genrsa -out "$name.key" 2048 2>/dev/null
    openssl req -new -sha256 -subj "/O=ferrokv Test/CN=$cn" -key "$name.key" |
        openssl x509 -req -sha256 -CA ca.crt -CAkey ca.key -CAserial ca.txt -CAcreateserial -days 365 \
            -extfile <(printf '%s\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n' "$usage") -out "$name.crt" 2>/dev/null
}

[ -f ca.key ] || openssl genrsa -out ca.key 4096 2>/dev/null
openssl req -x509 -new -nodes -sha256 -key ca.key -days 3650 -subj '/O=ferrokv Test/CN=Certificate Authority' -out ca.crt
printf 'keyUsage = digitalSignature, keyEncipherment\n' > openssl.cnf
gen_cert redis "Server-only" "keyUsage = digitalSignature, keyEncipherment"
gen_cert server "Server-only" "extendedKeyUsage = serverAuth"
gen_cert client "Client-only" "extendedKeyUsage = clientAuth"
[ -f redis.dh ] || openssl dhparam -out redis.dh 2048 2>/dev/null
rm -f openssl.cnf
echo "certificates in $(pwd): ca.crt redis.crt redis.key server.crt client.crt client.key redis.dh"
