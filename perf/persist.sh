#!/usr/bin/env bash
# RDB persistence, ferrokv vs Debian's redis-server 7.0, in the same run (issue 15):
# for 1M strings of 100 bytes and for one hash of 1M fields, each server's SAVE time,
# BGSAVE total time and fork pause (latest_fork_usec), file size, and startup load time
# (its own "DB loaded from disk" line). Medians over --rounds (default 3).
#
#   perf/persist.sh [--rounds N] [--keys N]
# Needs redis-server and redis-cli; builds ferrokv unless --no-build.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 keys=1000000 build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        --keys) keys=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
[ "$build" = 1 ] && cargo build --release --quiet
work=$(mktemp -d)
trap 'redis-cli -p 7841 shutdown nosave >/dev/null 2>&1 || true; redis-cli -p 7842 shutdown nosave >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
declare -A bin=([ferrokv]=target/release/ferrokv [redis]=/usr/bin/redis-server)
declare -A port=([ferrokv]=7841 [redis]=7842)

start() { # name dir
    "${bin[$1]}" --port "${port[$1]}" --bind 127.0.0.1 --save "" --dir "$2" \
        --enable-debug-command yes >"$2/log" 2>&1 &
    for _ in $(seq 600); do
        redis-cli -p "${port[$1]}" ping 2>/dev/null | grep -q PONG && return
        sleep 0.05
    done
    echo "$1 did not start" >&2; exit 1
}
stop() { redis-cli -p "${port[$1]}" shutdown nosave >/dev/null 2>&1 || true; sleep 0.3; }
ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

fill() { # name shape
    local p=${port[$1]}
    if [ "$2" = strings ]; then
        redis-cli -p "$p" debug populate "$keys" key 100 >/dev/null
    else
        # One hash of $keys fields, in pipelined batches.
        python3 - "$p" "$keys" <<'EOF'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
def cmd(*a):
    return b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in a)
batch = 1000
for i in range(0, n, batch):
    args = [b"HSET", b"bighash"]
    for j in range(i, min(n, i + batch)):
        args += [b"field:%d" % j, b"value:%d" % j]
    s.sendall(cmd(*args))
    buf = b""
    while not buf.endswith(b"\r\n"):
        buf += s.recv(100)
EOF
    fi
}

printf '| data | measure | ferrokv | redis-server | ratio |\n|---|---|---:|---:|---:|\n'
for shape in strings hash; do
    declare -A save=() bg=() fork=() size=() load=()
    for name in ferrokv redis; do
        d="$work/$name-$shape"; mkdir -p "$d"
        start "$name" "$d"; fill "$name" "$shape"
        p=${port[$name]}
        s=() b=() f=()
        for _ in $(seq "$rounds"); do
            t0=$(ms); redis-cli -p "$p" save >/dev/null; s+=($(( $(ms) - t0 )))
            before=$(redis-cli -p "$p" lastsave)
            t0=$(ms); redis-cli -p "$p" bgsave >/dev/null
            while redis-cli -p "$p" info persistence | grep -q 'rdb_bgsave_in_progress:1'; do sleep 0.01; done
            b+=($(( $(ms) - t0 )))
            f+=($(redis-cli -p "$p" info stats | tr -d '\r' | sed -n 's/^latest_fork_usec://p'))
        done
        save[$name]=$(printf '%s\n' "${s[@]}" | median)
        bg[$name]=$(printf '%s\n' "${b[@]}" | median)
        fork[$name]=$(printf '%s\n' "${f[@]}" | median)
        size[$name]=$(stat -c %s "$d/dump.rdb")
        stop "$name"
        l=()
        for _ in $(seq "$rounds"); do
            start "$name" "$d"
            l+=($(sed -n 's/.*DB loaded from disk: \([0-9.]*\) seconds.*/\1/p' "$d/log" | tail -1 | awk '{printf "%d", $1*1000}'))
            stop "$name"
        done
        load[$name]=$(printf '%s\n' "${l[@]}" | median)
    done
    row() { awk -v a="$3" -v b="$4" -v d="$1" -v m="$2" 'BEGIN {printf "| %s | %s | %s | %s | %.2f |\n", d, m, a, b, (b > 0 ? a / b : 0)}'; }
    row "$shape" "SAVE ms" "${save[ferrokv]}" "${save[redis]}"
    row "$shape" "BGSAVE total ms" "${bg[ferrokv]}" "${bg[redis]}"
    row "$shape" "fork pause µs" "${fork[ferrokv]}" "${fork[redis]}"
    row "$shape" "file bytes" "${size[ferrokv]}" "${size[redis]}"
    row "$shape" "startup load ms" "${load[ferrokv]}" "${load[redis]}"
done
