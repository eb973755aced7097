#!/usr/bin/env bash
# How often does kbench call a difference where there is none? Runs an A/A study (two
# variants with the same kernel, command line and workload) K times in each of four ways:
#
#   sequential / quiet        all runs of A, then all of B (rounds = 1), nothing else running
#   interleaved / quiet       kbench's default: a boot per run, A and B in a seeded random order
#   sequential / hog          as above, with a CPU hog (one busy loop per host CPU) started by
#   interleaved / hog         this script halfway through the study, until it ends
#
# and prints, per way: the false-alarm rate of the Elapsed Time verdict (and of any of
# Elapsed, User and System Time), the median |change| of elapsed, the share of runs
# flagged noisy (runs.csv `noise`), the time budget (share of the wall time spent in
# timed runs) and bench's own CPU share of one core (meta.json `time_budget`).
# A false alarm is a "slower" or "faster" verdict between A and B; with alpha = 0.05 a
# fair design should give about 5 % or fewer on a quiet host.
#
# Usage: scripts/aa-false-alarms.sh [K] [RESULTS_DIR]        (K = 5, results/aa by default)
# Environment: RUNS (timed runs per variant, default 4), LOOPS (iterations of the guest's
# busy loop per run, default 30000: about a second under TCG), THRESHOLD (bench report
# --threshold, default 1%). Needs the tiny guest (scripts/build-tiny-guest.sh), the agent
# (scripts/build-agent.sh), bench ($BENCH, else $CARGO_TARGET_DIR/release/bench) and
# python3. Takes about K × 4 minutes under TCG; the machine should otherwise be idle.
set -euo pipefail
CARGO_TARGET_DIR=$(realpath -m "${CARGO_TARGET_DIR:-$(dirname "$0")/../target}")
repo=$(realpath "$(dirname "$0")/..")
count=${1:-5}
results=$(realpath -m "${2:-results/aa}")
runs=${RUNS:-4}
loops=${LOOPS:-30000}
threshold=${THRESHOLD:-1%}
bench=${BENCH:-$CARGO_TARGET_DIR/release/bench}
for needed in "$bench" "$repo/vm-images/tiny/vmlinuz" "$repo/vm-images/tiny/initramfs.cpio.gz"; do
    [ -e "$needed" ] || { echo "aa-false-alarms: $needed is missing (see the usage at the top of $0)" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "aa-false-alarms: needs python3" >&2; exit 2; }
mkdir -p "$results"

hogs=()
stop_hogs() {
    if [ ${#hogs[@]} -gt 0 ]; then kill "${hogs[@]}" 2>/dev/null || true; wait "${hogs[@]}" 2>/dev/null || true; fi
    hogs=()
}
trap stop_hogs EXIT

# scenario ORDER: the A/A study, sequential or interleaved.
scenario() {
    local design
    if [ "$1" = sequential ]; then design=$'rounds = 1\norder = "alternate"'; else design=""; fi
    cat <<EOF
name = "aa-$1"
runs = $runs
warmup = 0
jobs = [1]
$design

[guest]
kernel = "$repo/vm-images/tiny/vmlinuz"
initrd = "$repo/vm-images/tiny/initramfs.cpio.gz"
cpus = 1
memory = "512M"
cmdline = "quiet"

[[variant]]
name = "A"

[[variant]]
name = "B"

[workload]
kind = "command"
command = "i=0; while [ \$i -lt $loops ]; do i=\$((i+1)); done"
EOF
}

# study ORDER HOST ITERATION HOG_AFTER_S: runs one study; prints its wall seconds.
study() {
    local order=$1 host=$2 i=$3 hog_after=$4 dir="$results/$1-$2/$3" started status=0 pid
    rm -rf "$dir" && mkdir -p "$dir"
    scenario "$order" >"$dir/aa.toml"
    started=$SECONDS
    "$bench" run "$dir/aa.toml" --results "$dir" --threshold "$threshold" >"$dir/bench.log" 2>&1 &
    pid=$!
    if [ "$host" = hog ]; then
        # Wait for half the study (or its end), then load every host CPU until it ends.
        while kill -0 "$pid" 2>/dev/null && [ $((SECONDS - started)) -lt "$hog_after" ]; do sleep 1; done
        for _ in $(seq "$(nproc)"); do sh -c 'while :; do :; done' & hogs+=($!); done
    fi
    wait "$pid" || status=$?
    stop_hogs
    if [ "$status" -gt 1 ]; then echo "aa-false-alarms: bench run exited $status; see $dir/bench.log" >&2; exit "$status"; fi
    echo $((SECONDS - started))
}

for i in $(seq "$count"); do
    for order in sequential interleaved; do
        wall=$(study "$order" quiet "$i" 0)
        echo "iteration $i: $order, quiet host: $wall s" >&2
        study "$order" hog "$i" $((wall / 2)) >/dev/null
        echo "iteration $i: $order, CPU hog from half-way" >&2
    done
done

python3 - "$results" "$count" <<'EOF'
import csv, glob, json, os, statistics, sys

results, count = sys.argv[1], int(sys.argv[2])
print(f"A/A studies: {count} per way; {os.cpu_count()} host CPUs; verdicts at alpha 0.05")
print(f"{'way':<24} {'false alarms (elapsed)':>22} {'(any time)':>11} {'median |change|':>16} "
      f"{'noisy runs':>11} {'in timed runs':>14} {'bench CPU':>10}")
for way in ["sequential-quiet", "interleaved-quiet", "sequential-hog", "interleaved-hog"]:
    alarms = any_alarms = studies = noisy = rows = 0
    changes, budgets, bench_cpu = [], [], []
    for folder in sorted(glob.glob(f"{results}/{way}/*/aa-*/*/")):
        report = json.load(open(os.path.join(folder, "report.json")))
        verdicts = {}
        for level in report["analysis"]["levels"]:
            for variant in level["variants"]:
                for metric in variant["metrics"]:
                    comparison = metric.get("comparison")
                    if comparison and metric["metric"] in ("elapsed", "user", "sys"):
                        verdicts[metric["metric"]] = comparison["verdict"]
                        if metric["metric"] == "elapsed":
                            changes.append(abs(comparison["change_percent"]))
        studies += 1
        alarms += verdicts.get("elapsed") in ("higher", "lower")
        any_alarms += any(v in ("higher", "lower") for v in verdicts.values())
        for row in csv.DictReader(open(os.path.join(folder, "runs.csv"))):
            rows += 1
            noisy += bool(row.get("noise"))
        budget = json.load(open(os.path.join(folder, "meta.json"))).get("time_budget") or {}
        if budget.get("wall_s"):
            budgets.append(100 * budget["timed_runs_s"] / budget["wall_s"])
            bench_cpu.append(100 * budget["bench_cpu_s"] / budget["wall_s"])
    if not studies:
        continue
    median = lambda values, unit: f"{statistics.median(values):.1f} {unit}" if values else "n/a"
    print(f"{way:<24} {f'{alarms}/{studies} ({100 * alarms / studies:.0f} %)':>22} {f'{any_alarms}/{studies}':>11} "
          f"{median(changes, '%'):>16} {f'{noisy}/{rows}':>11} {median(budgets, '%'):>14} {median(bench_cpu, '%'):>10}")
EOF
