#!/usr/bin/env bash
# Times scenarios/quick.toml end to end (wall clock, boots included) and prints the
# host's load, which matters: on a shared 2-core machine other work slows TCG guests.
# Rerun it to check the figure in the README. Needs what scripts/quickstart.sh builds.
# Usage: scripts/time-quick.sh [RESULTS_DIR]   (results/ by default; the results are kept)
set -euo pipefail
cd "$(dirname "$0")/.."
results=${1:-results}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
started=$(date +%s)
status=0
target/release/bench run scenarios/quick.toml --results "$results" || status=$?
echo "quick.toml: exit $status, $(( $(date +%s) - started )) s wall clock; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$status"
