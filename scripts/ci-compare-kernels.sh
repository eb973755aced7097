#!/usr/bin/env bash
# A CI regression gate for a kernel bump: measures the old and the new kernel in ONE study,
# their boots interleaved in a random order from a recorded seed, then splits the study
# per kernel and compares the two with `bench compare`.
#
#   scripts/ci-compare-kernels.sh SCENARIO OLD_KERNEL NEW_KERNEL [bench compare options]
#   e.g. scripts/ci-compare-kernels.sh scenarios/slub.toml /boot/vmlinuz-6.1 ./bzImage --threshold 2%
#
# Every variant V of the scenario is measured twice, as old.V with OLD_KERNEL and new.V with
# NEW_KERNEL (a variant that names its own kernel keeps it on both sides: an A/A check).
# Interleaving matters: measuring all of the old kernel, then all of the new one, turns
# any drift of the host (other jobs, heat, a neighbour) into a false verdict. The
# scenario's rounds and order apply (by default every run is its own round, so the
# kernels alternate boot by boot).
#
# Results go to $RESULTS (default results/ci-<timestamp>): study/ (the interleaved study,
# with its own report), old/ and new/ (its two halves, `bench split`), compare.md (also
# appended to $GITHUB_STEP_SUMMARY when set) and compare.json.
# `bench` is $BENCH, else $CARGO_TARGET_DIR/release/bench (target/ by default), else the one
# on PATH. Relative paths are taken from the current folder.
#
# Exit codes: 0 every gated metric the same or better; 1 significant regression, or runs of
# the new kernel failed (it broke the workload); 3 the comparison cannot tell (a gated metric
# inconclusive: too noisy or too few runs; `--inconclusive pass|fail` decides otherwise);
# 2 unusable input, the study could not run or broke, or every run of the old kernel failed.
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

# The study's scenario sits beside the original so that its relative paths (initrd, disk)
# still resolve; a copy of it is kept in the results folder (scenario.toml).
both=$(mktemp "$(dirname "$scenario")/.ci-compare-XXXXXX.toml")
trap 'rm -f "$both"' EXIT

# Writes the scenario with each [[variant]] block twice, as old.NAME and new.NAME with
# the kernel of its side, and the baseline renamed to old.BASELINE.
awk -v old="$(realpath "$old_kernel")" -v new="$(realpath "$new_kernel")" '
    function flush(   side, tag, kernel, i, line, has_kernel) {
        if (!n) return
        for (side = 1; side <= 2; side++) {
            tag = side == 1 ? "old." : "new."; kernel = side == 1 ? old : new
            has_kernel = 0
            for (i = 1; i <= n; i++) if (block[i] ~ /^[[:space:]]*kernel[[:space:]]*=/) has_kernel = 1
            for (i = 1; i <= n; i++) {
                line = block[i]
                if (line ~ /^[[:space:]]*name[[:space:]]*=[[:space:]]*"/) sub(/"/, "\"" tag, line)
                print line
                if (i == 1 && !has_kernel) print "kernel = \"" kernel "\""
            }
        }
        n = 0; variants++
    }
    /^[[:space:]]*\[/ { flush(); in_variant = ($0 ~ /^[[:space:]]*\[\[variant\]\]/) }
    in_variant { block[++n] = $0; next }
    !seen_table && /^[[:space:]]*baseline[[:space:]]*=[[:space:]]*"/ { sub(/"/, "\"old.") }
    /^[[:space:]]*\[/ { seen_table = 1 }
    { print }
    END { flush(); if (!variants) exit 3 }
' "$scenario" >"$both" || { echo "ci-compare-kernels: $scenario has no [[variant]]" >&2; exit 2; }

echo "== old and new kernel, interleaved in one study" >&2
status=0
"$BENCH" run "$both" --results "$results/study" || status=$?
# 1: some runs failed, which `bench compare` weighs (failures of the new kernel are a
# regression); anything else means there is no study to compare.
if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then
    echo "ci-compare-kernels: bench run exited $status; see $results/study" >&2
    exit 2
fi
# RESULTS/study/<scenario name>/<timestamp>/: the only folder there.
study=$(find "$results/study" -mindepth 2 -maxdepth 2 -type d | head -n 1)
"$BENCH" split "$study" "old.=$results/old" "new.=$results/new" >&2 || exit 2

status=0
"$BENCH" compare "$results/old" "$results/new" "$@" || status=$?
if [ "$status" -le 1 ] || [ "$status" -eq 3 ]; then
    "$BENCH" compare "$results/old" "$results/new" "$@" --format markdown --output "$results/compare.md" >/dev/null 2>&1 || true
    "$BENCH" compare "$results/old" "$results/new" "$@" --format json --output "$results/compare.json" >/dev/null 2>&1 || true
    if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then cat "$results/compare.md" >>"$GITHUB_STEP_SUMMARY"; fi
    echo "comparison: $results/compare.md" >&2
fi
exit "$status"
