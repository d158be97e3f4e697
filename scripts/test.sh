#!/usr/bin/env bash
# The test command: unit and integration tests (release build), then interop with
# redis-cli, openssl s_client and redis-benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release
scripts/interop.sh
