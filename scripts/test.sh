#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, builds the
# static agent and the tiny guest, then runs every test (unit and real-guest ones).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build-agent.sh
scripts/build-tiny-guest.sh
cargo test --workspace --locked "$@"
