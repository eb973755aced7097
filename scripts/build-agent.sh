#!/usr/bin/env bash
# Builds the in-guest agent as a static binary (the guest may have no C library):
# target/x86_64-unknown-linux-gnu/release/bench-agent, where `bench` looks for it.
# --target keeps crt-static off the build scripts and proc macros, which cannot be static.
set -euo pipefail
cd "$(dirname "$0")/.."
RUSTFLAGS="-C target-feature=+crt-static" cargo build --quiet --release --locked \
  -p bench-agent --target x86_64-unknown-linux-gnu
echo "agent: $(pwd)/target/x86_64-unknown-linux-gnu/release/bench-agent"
