#!/usr/bin/env bash
# Side-by-side benchmark: ferrokv (release build) vs Debian's redis-server, same options and
# test certificates, loopback ports 7810-7823 (--port-base), redis-benchmark in alternating rounds.
# Writes perf/results/latest.md (table, targets), latest.json (raw runs), latest.png (chart).
#
#   perf/compare.sh             full run (3 rounds, 30k requests per -P 1 run, 1M keys; about 6 minutes)
#   perf/compare.sh --quick     10k requests, 200k keys for the memory case (about 2 minutes)
#   perf/compare.sh --rounds 5 --requests 200000 --cases tls,newconn --no-memory
#   perf/compare.sh --no-build ...   skip `cargo build --release`
# Options after the script's own go to perf/compare.py (see its --help).
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
args=()
for a in "$@"; do
    if [ "$a" = --no-build ]; then build=0; else args+=("$a"); fi
done
command -v redis-benchmark >/dev/null || { echo "redis-benchmark missing: apt-get install redis-tools" >&2; exit 1; }
[ -x /usr/bin/redis-server ] || { echo "redis-server missing: apt-get install redis-server" >&2; exit 1; }
if [ "$build" = 1 ]; then cargo build --release --quiet; fi
[ -f tests/tls/redis.crt ] || scripts/gen-test-certs.sh tests/tls >/dev/null
exec python3 perf/compare.py "${args[@]}"
