#!/usr/bin/env bash
# Builds the in-guest agent as a static binary (the guest may have no C library):
# $CARGO_TARGET_DIR (default target/)/x86_64-unknown-linux-gnu/release/bench-agent, where
# `bench` looks for it.
# --target keeps crt-static off the build scripts and proc macros, which cannot be static.
set -euo pipefail
# Cargo's output folder: $CARGO_TARGET_DIR (made absolute before the cd below), else target/.
CARGO_TARGET_DIR=$(realpath -m "${CARGO_TARGET_DIR:-$(dirname "$0")/../target}")
export CARGO_TARGET_DIR
cd "$(dirname "$0")/.."
RUSTFLAGS="-C target-feature=+crt-static" cargo build --quiet --release --locked \
  -p bench-agent --target x86_64-unknown-linux-gnu
echo "agent: $CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/bench-agent"
