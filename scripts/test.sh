#!/usr/bin/env bash
# The test suite.
#
#   scripts/test.sh          everything (what CI runs), from a fresh machine: installs what the
#                            tests need, builds the static agent, the tiny guest and the Debian
#                            image, starts libvirtd, checks formatting and lints, then runs every
#                            test (unit and real-guest ones). Every build step is idempotent.
#   scripts/test.sh --fast   the hermetic tier: formatting, lints, and every test that needs no
#                            root, QEMU, guest image, libvirtd or browser (unit tests and the
#                            fixture-based tests of reports, compare and history). Needs only
#                            Rust and the libvirt headers (scripts/install-deps.sh); well under
#                            a minute once built.
#
# Further arguments go to `cargo test` (in --fast mode too), e.g. `-- --test-threads 1`.
set -euo pipefail
cd "$(dirname "$0")/.."

lint() {
  cargo fmt --all --check
  cargo clippy --workspace --all-targets --locked -- -D warnings
}

if [ "${1:-}" = "--fast" ]; then
  shift
  lint
  # Each of these test files builds its studies from fixtures and runs no guest.
  hermetic=(compare compare_junit history hosts host_noise_report report repo_hygiene)
  exec cargo test --workspace --locked --lib --bins "${hermetic[@]/#/--test=}" "$@"
fi

scripts/install-deps.sh
scripts/build-agent.sh
scripts/build-tiny-guest.sh
scripts/build-debian-image.sh
scripts/start-libvirtd.sh
lint
cargo test --workspace --locked "$@"
