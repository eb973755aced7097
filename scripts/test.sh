#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, builds the
# static agent, the tiny guest and the Debian image, starts libvirtd, then runs every test (unit and
# real-guest ones). Every build step is idempotent: a second run rebuilds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build-agent.sh
scripts/build-tiny-guest.sh
scripts/build-debian-image.sh
scripts/start-libvirtd.sh
cargo test --workspace --locked "$@"
