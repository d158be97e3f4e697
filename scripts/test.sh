#!/usr/bin/env bash
# The test command: unit and integration tests (release build), the keyspace's and the
# types' unit tests again under valgrind (their unsafe code: entry, dict, chunked slab,
# slots, the one-word containers of types/thin.rs), then interop with redis-cli,
# openssl s_client and redis-benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release
if command -v valgrind >/dev/null 2>&1; then
    bin=$(cargo test --release --lib --no-run --message-format=json 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
    valgrind --error-exitcode=9 -q "$bin" keyspace:: types:: --test-threads=1
else
    echo "valgrind not installed: keyspace unit tests not run under it" >&2
fi
scripts/interop.sh
# A cluster-aware client (redis-py's RedisCluster, TLS) through a reshard and a kill -9.
if /usr/bin/python3 -c 'import redis.cluster' 2>/dev/null; then
    /usr/bin/python3 scripts/cluster-workload.py
else
    echo "python3-redis not installed: the RedisCluster workload is not run" >&2
fi
# A Sentinel-discovering client (redis-py's Sentinel, TLS) through a kill -9 failover.
if /usr/bin/python3 -c 'import redis.sentinel' 2>/dev/null && command -v redis-sentinel >/dev/null 2>&1; then
    /usr/bin/python3 scripts/sentinel-workload.py
else
    echo "python3-redis or redis-sentinel not installed: the Sentinel workload is not run" >&2
fi
