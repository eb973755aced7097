#!/usr/bin/env bash
# Times a scenario end to end (wall clock, boots included) N times and prints each time,
# the median, and the host's load, which matters: on a shared 2-core machine other work
# slows TCG guests. Rerun it to check the figures in the README. Needs what
# scripts/quickstart.sh builds (and scripts/build-tiny-guest.sh for tiny.toml).
# Usage: scripts/time-scenario.sh [SCENARIO] [N] [RESULTS_DIR]
#        (scenarios/quick.toml, 1 time, results/ by default; the results are kept)
set -euo pipefail
# Cargo's output folder: $CARGO_TARGET_DIR (made absolute before the cd below), else target/.
CARGO_TARGET_DIR=$(realpath -m "${CARGO_TARGET_DIR:-$(dirname "$0")/../target}")
export CARGO_TARGET_DIR
cd "$(dirname "$0")/.."
scenario=${1:-scenarios/quick.toml}
count=${2:-1}
results=${3:-results}
times=()
status=0
for i in $(seq "$count"); do
  echo "run $i: load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  started=$(date +%s)
  run_status=0
  "$CARGO_TARGET_DIR/release/bench" run "$scenario" --results "$results" > /dev/null || run_status=$?
  elapsed=$(( $(date +%s) - started ))
  times+=("$elapsed")
  [ "$run_status" -eq 0 ] || status=$run_status
  echo "run $i: exit $run_status, $elapsed s wall clock; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
echo "$scenario: ${times[*]} s; median $median s"
exit "$status"
