#!/usr/bin/env bash
# A CI regression gate for a kernel bump: runs one scenario on the old kernel, then on the
# new one, and compares the two with `bench compare`.
#
#   scripts/ci-compare-kernels.sh SCENARIO OLD_KERNEL NEW_KERNEL [bench compare options]
#   e.g. scripts/ci-compare-kernels.sh scenarios/slub.toml /boot/vmlinuz-6.1 ./bzImage --threshold 2%
#
# The scenario's `[guest] kernel` is replaced by each kernel in turn (variants that name
# their own kernel keep it). Results go to $RESULTS (default results/ci-<timestamp>):
# old/, new/, compare.md (also appended to $GITHUB_STEP_SUMMARY when set) and compare.json.
# `bench` is $BENCH, else $CARGO_TARGET_DIR/release/bench (target/ by default), else the one
# on PATH. Relative paths are taken from the current folder.
#
# Exit codes: 0 no significant regression; 1 significant regression, or a run of the new
# kernel failed (it broke the workload); 2 unusable input, or a run of the old kernel failed.
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
mkdir -p "$results"

for file in "$scenario" "$old_kernel" "$new_kernel"; do
    [ -f "$file" ] || { echo "ci-compare-kernels: $file does not exist" >&2; exit 2; }
done

# The copies sit beside the scenario so that its relative paths (initrd, disk) still resolve.
old_scenario=$(mktemp "$(dirname "$scenario")/.ci-compare-old-XXXXXX.toml")
new_scenario=$(mktemp "$(dirname "$scenario")/.ci-compare-new-XXXXXX.toml")
trap 'rm -f "$old_scenario" "$new_scenario"' EXIT

# Writes SCENARIO with its [guest] kernel replaced by KERNEL to COPY.
with_kernel() {
    local kernel=$1 copy=$2
    awk -v kernel="$(realpath "$kernel")" '
        /^[[:space:]]*\[/ { in_guest = ($0 ~ /^[[:space:]]*\[guest\][[:space:]]*(#.*)?$/) }
        in_guest && /^[[:space:]]*kernel[[:space:]]*=/ { print "kernel = \"" kernel "\""; done = 1; next }
        { print }
        END { if (!done) exit 3 }
    ' "$scenario" >"$copy" || { echo "ci-compare-kernels: $scenario has no kernel = line in [guest]" >&2; exit 2; }
}
with_kernel "$old_kernel" "$old_scenario"
with_kernel "$new_kernel" "$new_scenario"

# Runs one side; a failed run of the new kernel is a regression, of the old one unusable.
run_side() {
    local side=$1 copy=$2 status=0
    echo "== $side kernel" >&2
    "$BENCH" run "$copy" --results "$results/$side" || status=$?
    if [ "$status" -ne 0 ]; then
        echo "ci-compare-kernels: bench run of the $side kernel exited $status; see $results/$side" >&2
        if [ "$side" = new ] && [ "$status" -eq 1 ]; then exit 1; fi
        exit 2
    fi
}
run_side old "$old_scenario"
run_side new "$new_scenario"
# RESULTS/<side>/<scenario name>/<timestamp>/: the only folder there.
old=$(find "$results/old" -mindepth 2 -maxdepth 2 -type d | head -n 1)
new=$(find "$results/new" -mindepth 2 -maxdepth 2 -type d | head -n 1)

status=0
"$BENCH" compare "$old" "$new" "$@" || status=$?
if [ "$status" -le 1 ]; then
    "$BENCH" compare "$old" "$new" "$@" --format markdown --output "$results/compare.md" >/dev/null 2>&1 || true
    "$BENCH" compare "$old" "$new" "$@" --format json --output "$results/compare.json" >/dev/null 2>&1 || true
    if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then cat "$results/compare.md" >>"$GITHUB_STEP_SUMMARY"; fi
    echo "comparison: $results/compare.md" >&2
fi
exit "$status"
