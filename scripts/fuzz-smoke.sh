#!/usr/bin/env bash
# Runs every fuzz target for a short while (SECONDS_PER_TARGET, default 30) and fails on the
# first crash. Needs cargo-fuzz; works on a stable toolchain through RUSTC_BOOTSTRAP.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${SECONDS_PER_TARGET:-30}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
for target in $(cargo fuzz list); do
    echo "fuzzing $target for ${seconds}s"
    cargo fuzz run -O "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048
done
