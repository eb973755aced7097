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
# the kernel of its side, and the baseline renamed to old.BASELINE. It reads TOML line by
# line, so it follows what could hide a line's meaning: multi-line strings (''' and """,
# whose lines are text, even one that starts with `[`), multi-line arrays, both quote
# styles of a name. Anything it cannot rewrite for certain it refuses (exit 2): a
# scenario is never turned into another study in silence.
status=0
awk -v old="$(realpath "$old_kernel")" -v new="$(realpath "$new_kernel")" '
    function fail(what) {
        printf "ci-compare-kernels: %s line %d: cannot rewrite this scenario safely: %s\n", FILENAME, FNR, what > "/dev/stderr"
        failed = 1
        exit 2
    }
    # The key of a key = value line, "" for anything else; a quoted key is refused.
    function key_of(line,   k) {
        if (line ~ /^[[:space:]]*["\047]/) fail("a quoted key; write the key bare (name = ..., not \"name\" = ...)")
        if (line !~ /^[[:space:]]*[A-Za-z0-9_.-]+[[:space:]]*=/) return ""
        k = line; sub(/^[[:space:]]*/, "", k); sub(/[[:space:]]*=.*/, "", k)
        return k
    }
    # `line` (key = "x" or key = '\''x'\'') with `tag` put before x.
    function tagged(line, tag) {
        if (line ~ /=[[:space:]]*("""|\047\047\047)/) fail("a multi-line string as a name; write it on one line")
        if (!match(line, /=[[:space:]]*["\047]/)) fail("a name that is not a string")
        return substr(line, 1, RSTART + RLENGTH - 1) tag substr(line, RSTART + RLENGTH)
    }
    # How many more [ than ] the text holds outside strings and comments.
    function depth_of(text) {
        gsub(/"([^"\\]|\\.)*"/, "", text); gsub(/\047[^\047]*\047/, "", text); sub(/#.*/, "", text)
        return gsub(/\[/, "[", text) - gsub(/\]/, "]", text)
    }
    # What follows a closing delimiter may only be blanks, a comma or a comment.
    function after_close(rest) {
        if (rest !~ /^[[:space:]]*,?[[:space:]]*(#.*)?\r?$/) fail("text after the end of a multi-line string")
    }
    function keep(line, text) {
        if (in_variant) { block[++n] = line; is_text[n] = text; return }
        if (!seen_table && !text && key_of(line) == "baseline") line = tagged(line, "old.")
        if (!seen_table && !text && key_of(line) == "variant") fail("variants as an array of inline tables; write each as a [[variant]] table")
        print line
    }
    function flush(   side, tag, kernel, i, line, has_kernel, names) {
        if (!n) return
        has_kernel = 0; names = 0
        for (i = 1; i <= n; i++) if (!is_text[i]) {
            if (key_of(block[i]) == "kernel") has_kernel = 1
            if (key_of(block[i]) == "name") names++
        }
        if (names != 1) { FNR = header_line; fail("a [[variant]] without exactly one name = line") }
        for (side = 1; side <= 2; side++) {
            tag = side == 1 ? "old." : "new."; kernel = side == 1 ? old : new
            gsub(/\\/, "\\\\", kernel); gsub(/"/, "\\\"", kernel)
            for (i = 1; i <= n; i++) {
                line = block[i]
                if (!is_text[i] && key_of(line) == "name") line = tagged(line, tag)
                print line
                if (i == 1 && !has_kernel) print "kernel = \"" kernel "\""
            }
        }
        n = 0; variants++
    }
    ml != "" {
        # Inside a multi-line string: text, whatever it looks like.
        if (ml == "\"\"\"" && $0 ~ /\\"/) fail("an escaped quote in a multi-line \"\"\" string; use a \047\047\047 string")
        if (at = index($0, ml)) { after_close(substr($0, at + 3)); ml = "" }
        keep($0, 1); next
    }
    depth > 0 {
        if ($0 ~ /"""|\047\047\047/) fail("a multi-line string inside an array")
        depth += depth_of($0); keep($0, 1); next
    }
    /^[[:space:]]*\[/ {
        header = $0; sub(/#.*/, "", header); gsub(/[[:space:]]/, "", header)
        if (header ~ /["\047]/) fail("a quoted table name")
        flush()
        if (header ~ /^\[\[?variant\./) fail("a sub-table of a variant")
        in_variant = (header == "[[variant]]"); header_line = FNR
        seen_table = 1
        keep($0, 0); next
    }
    {
        value = $0
        if (key_of(value) != "") sub(/^[^=]*=[[:space:]]*/, "", value)
        if (value ~ /"""|\047\047\047/) {
            if (key_of($0) == "" || value !~ /^("""|\047\047\047)/) fail("\047\047\047 or \"\"\" that does not open a value")
            ml = substr(value, 1, 3); rest = substr(value, 4)
            if (at = index(rest, ml)) { after_close(substr(rest, at + 3)); ml = "" }
            else if (ml == "\"\"\"" && rest ~ /\\"/) fail("an escaped quote in a multi-line \"\"\" string; use a \047\047\047 string")
        } else if (key_of($0) != "" && value ~ /^\[/) {
            depth = depth_of(value)
        }
        keep($0, 0)
    }
    END {
        if (failed) exit 2
        if (ml != "") fail("a multi-line string that never ends")
        if (depth > 0) fail("an array that never ends")
        flush()
        if (!variants) exit 3
    }
' "$scenario" >"$both" || status=$?
case $status in
    0) ;;
    3) echo "ci-compare-kernels: $scenario has no [[variant]]" >&2; exit 2 ;;
    *) exit 2 ;;
esac

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
