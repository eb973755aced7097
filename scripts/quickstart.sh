#!/usr/bin/env bash
# From a fresh Debian machine to a first result: installs the system packages, builds
# kbench, the static agent and the Debian guest image, then runs scenarios/quick.toml
# (a small real kernel compile with and without slub_debug=P). Idempotent: a second run
# only reruns the study. Extra arguments go to `bench run` (e.g. --results DIR).
set -euo pipefail
# Cargo's output folder: $CARGO_TARGET_DIR (made absolute before the cd below), else target/.
CARGO_TARGET_DIR=$(realpath -m "${CARGO_TARGET_DIR:-$(dirname "$0")/../target}")
export CARGO_TARGET_DIR
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "quickstart: cargo is missing: install Rust (https://rustup.rs), then rerun" >&2; exit 2; }
scripts/install-deps.sh
scripts/build-agent.sh
scripts/build-debian-image.sh
cargo build --quiet --release --locked
exec "$CARGO_TARGET_DIR/release/bench" run scenarios/quick.toml "$@"
