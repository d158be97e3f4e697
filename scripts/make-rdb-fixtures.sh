#!/usr/bin/env bash
# Regenerate tests/assets/rdb/redis-7.0.15-all-types.rdb with a real redis-server 7.0:
# every type in its small (listpack/intset) and large (plain) encodings, TTLs, a second
# database, streams with consumer groups, PELs and consumers, and a function library.
# The RDB reader's unit tests (src/persist/rdb_load.rs) check its exact contents: change
# both together. Needs redis-server and redis-cli (Debian's redis-server/redis-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/assets/rdb/redis-7.0.15-all-types.rdb
dir=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
redis-server --port "$port" --dir "$dir" --save "" --appendonly no --daemonize no \
    --stream-node-max-entries 100 >"$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" PING >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$port" INFO server | grep -q '^redis_version:7\.0\.' || { echo "need redis 7.0"; exit 1; }
cli() { redis-cli -p "$port" "$@" >/dev/null; }

# Strings: raw, integer, LZF-compressed, negative, empty.
cli SET str:plain "hello world"
cli SET str:int 12345
cli SET str:neg -987654321
cli SET str:big 6000000000
cli SET str:lzf "$(printf 'abcdefgh%.0s' $(seq 40))"
cli SET str:empty ""
# Lists: one listpack node; many nodes.
cli RPUSH list:small a b c 1 2 -3 100000 6000000000
cli RPUSH list:big $(seq 1 1000)
# Sets: intset; hashtable of strings; too many integers for an intset.
cli SADD set:ints 3 1 2 -5 70000 5000000000
cli SADD set:strs apple banana cherry
cli SADD set:bigints $(seq 1 600)
# Sorted sets: listpack; skiplist (more than 128 members).
cli ZADD zset:small 1 one 2.5 two -3 three inf top -inf bottom
args=(); for i in $(seq 1 200); do args+=("$i.5" "m$i"); done
cli ZADD zset:big "${args[@]}"
# Hashes: listpack; hashtable by count; hashtable by value length.
cli HSET hash:small f1 v1 f2 2 f3 ""
args=(); for i in $(seq 1 600); do args+=("field$i" "value$i"); done
cli HSET hash:big "${args[@]}"
cli HSET hash:longval k "$(printf 'x%.0s' $(seq 100))"
# TTLs (absolute, far in the future).
cli SET ttl:ms v
cli PEXPIREAT ttl:ms 4102444800123
cli RPUSH ttl:list x
cli EXPIREAT ttl:list 4102444800
# A stream: varying fields, a deleted entry, two groups with pending entries.
cli XADD stream:s 1-1 name alice age 30
cli XADD stream:s 1-2 name bob age 25
cli XADD stream:s 2-0 city paris
cli XADD stream:s 3-0 name carol age 41
cli XADD stream:s 4-0 name dave age 50
cli XDEL stream:s 3-0
cli XGROUP CREATE stream:s g1 0
cli XGROUP CREATE stream:s g2 '$'
cli XREADGROUP GROUP g1 c1 COUNT 2 STREAMS stream:s '>'
cli XREADGROUP GROUP g1 c2 COUNT 1 STREAMS stream:s '>'
cli XACK stream:s g1 1-2
cli XGROUP CREATECONSUMER stream:s g1 idle
cli XGROUP CREATECONSUMER stream:s g2 c3
# A stream of several nodes (100 entries a node), with one group.
for i in $(seq 1 250); do echo "XADD stream:big $i-0 k $i"; done | redis-cli -p "$port" >/dev/null
cli XGROUP CREATE stream:big grp 100-0
# An empty stream with a group (streams may be empty).
cli XADD stream:empty 5-5 a b
cli XDEL stream:empty 5-5
# Another database.
cli -n 1 SET db1:key in-db-1
# A function library.
cli FUNCTION LOAD "#!lua name=mylib
redis.register_function('myfunc', function(keys, args) return 42 end)"
cli SAVE
cp "$dir/dump.rdb" "$out"
echo "wrote $out ($(wc -c <"$out") bytes)"
