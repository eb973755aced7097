#!/usr/bin/env bash
# A CI regression gate for a kernel bump, kept for the jobs that call it: a thin wrapper
# over `bench bump`, which does the work (see `bench bump --help`).
#
#   scripts/ci-compare-kernels.sh SCENARIO OLD_KERNEL NEW_KERNEL [bench bump options]
#   e.g. scripts/ci-compare-kernels.sh scenarios/slub.toml /boot/vmlinuz-6.1 ./bzImage --threshold 2%
#
# `bench bump` measures every variant V of the scenario as old.V with OLD_KERNEL and new.V
# with NEW_KERNEL in ONE study, their boots interleaved in a random order from a recorded
# seed, splits it per kernel and compares the halves. Results go to $RESULTS (default
# results/ci-<timestamp>, a new or empty folder): scenario.toml, study/, old/, new/,
# compare.md (also appended to $GITHUB_STEP_SUMMARY when set), compare.json, compare.xml,
# compare.txt and mail.txt.
# `bench` is $BENCH, else $CARGO_TARGET_DIR/release/bench (target/ by default), else the one
# on PATH. Relative paths are taken from the current folder.
#
# Exit codes: those of `bench bump`: 0 every gated metric the same or better; 1 a
# significant regression, or runs of the new kernel failed (it broke the workload); 3 the
# comparison cannot tell (a gated metric inconclusive: too noisy or too few runs;
# `--inconclusive pass|fail` decides otherwise); anything else (unusable input, a study
# that could not run or broke, every run of the old kernel failed) is 2.
set -euo pipefail

if [ $# -lt 3 ]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
scenario=$1 old_kernel=$2 new_kernel=$3
shift 3
if [ -z "${BENCH:-}" ]; then
    target_dir=$(realpath -m "${CARGO_TARGET_DIR:-$(dirname "$0")/../target}")
    if [ -x "$target_dir/release/bench" ]; then BENCH=$target_dir/release/bench; else BENCH=bench; fi
fi
results=${RESULTS:-results/ci-$(date -u +%Y%m%d-%H%M%S)}

status=0
"$BENCH" bump "$scenario" --old "$old_kernel" --new "$new_kernel" -o "$results" "$@" || status=$?
if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$results/compare.md" ]; then
    cat "$results/compare.md" >>"$GITHUB_STEP_SUMMARY"
fi
case $status in
    0 | 1 | 3) exit "$status" ;;
    *) echo "ci-compare-kernels: bench bump exited $status; see $results" >&2; exit 2 ;;
esac
