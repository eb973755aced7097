#!/usr/bin/env bash
# Reruns the simulation of decide mode (runs = "auto" with decide = true) whose table is in
# docs/scenario.md: 20,000 studies per row, normal and lognormal noise, A/A pairs and true
# changes of twice the threshold, both spending functions, against the fixed design.
# Pure computation (src/stats/sequential.rs), a release build, a few minutes on one core.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --lib verdict_simulation_table -- --ignored --nocapture --test-threads 1 2>/dev/null | grep '^|'
