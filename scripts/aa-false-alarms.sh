#!/usr/bin/env bash
# How often does kbench call a difference where there is none? Runs an A/A study (two
# variants with the same kernel, command line and workload) K times in each of these ways
# (by default the first four):
#
#   sequential-quiet          all runs of A, then all of B (rounds = 1), nothing else running
#   interleaved-quiet         kbench's default: a boot per run, A and B in a seeded random order
#   sequential-hog            as above, with a CPU hog (one busy loop per host CPU) started by
#   interleaved-hog           this script halfway through the study, until it ends
#   interleaved-quiet-snapshot  any way with a third part: the study's `reuse` (default
#                             "boot"); with "snapshot" each variant boots once and later
#                             rounds restore it (scripts/aa-reuse.sh compares the two)
#
# and prints, per way: the false-alarm rate of the Elapsed Time verdict (and of any of
# Elapsed, User and System Time), the median |change| of elapsed, the median spread of a
# variant's elapsed times within a study (coefficient of variation, SD / mean), the share
# of runs flagged noisy (runs.csv `noise`) and of runs on a restored guest (runs.csv
# `start`), how much slower the median restored run is than the median booted one (within
# a study), the median wall time of a study, the time budget (share of the wall time spent
# in timed runs) and bench's own CPU share of one core (meta.json `time_budget`).
# A false alarm is a "slower" or "faster" verdict between A and B; with alpha = 0.05 a
# fair design should give about 5 % or fewer on a quiet host.
#
# Usage: scripts/aa-false-alarms.sh [K] [RESULTS_DIR]        (K = 5, results/aa by default)
# Environment: WAYS (the ways above, in the order each iteration runs them; even
# iterations run them in reverse, so that drift falls on every way alike), RUNS (timed
# runs per variant, default 4), WARMUP (untimed runs first, in every boot; default 0),
# PREPARE (a command the workload's prepare step runs, untimed, in every boot; default
# none), LOOPS (iterations of the guest's busy loop per run, default 30000: about a second
# under TCG), THRESHOLD (bench report --threshold, default 1%). Needs the tiny guest
# (scripts/build-tiny-guest.sh), the agent (scripts/build-agent.sh, or $KBENCH_AGENT),
# bench ($BENCH, else $CARGO_TARGET_DIR/release/bench) and python3. Takes about K × 4
# minutes under TCG with the default ways; the machine should otherwise be idle.
# SUMMARY_ONLY=1 runs nothing and prints the summary of the studies already in
# RESULTS_DIR (say, of an interrupted run).
set -euo pipefail
CARGO_TARGET_DIR=$(realpath -m "${CARGO_TARGET_DIR:-$(dirname "$0")/../target}")
repo=$(realpath "$(dirname "$0")/..")
count=${1:-5}
results=$(realpath -m "${2:-results/aa}")
runs=${RUNS:-4}
warmup=${WARMUP:-0}
prepare=${PREPARE:-}
loops=${LOOPS:-30000}
threshold=${THRESHOLD:-1%}
read -r -a ways <<<"${WAYS:-sequential-quiet interleaved-quiet sequential-hog interleaved-hog}"
for way in "${ways[@]}"; do
    case $way in
        sequential-quiet | sequential-hog | interleaved-quiet | interleaved-hog) ;;
        sequential-quiet-boot | sequential-hog-boot | interleaved-quiet-boot | interleaved-hog-boot) ;;
        interleaved-quiet-snapshot | interleaved-hog-snapshot) ;;
        *) echo "aa-false-alarms: unknown way '$way' in WAYS (see the top of $0)" >&2; exit 2 ;;
    esac
done
bench=${BENCH:-$CARGO_TARGET_DIR/release/bench}
needs=("$bench" "$repo/vm-images/tiny/vmlinuz" "$repo/vm-images/tiny/initramfs.cpio.gz")
if [ -n "${SUMMARY_ONLY:-}" ]; then needs=(); fi
for needed in "${needs[@]}"; do
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

# scenario ORDER REUSE: the A/A study, sequential or interleaved, booted or restored.
scenario() {
    local design
    if [ "$1" = sequential ]; then design=$'rounds = 1\norder = "alternate"'; else design=""; fi
    cat <<EOF
name = "aa-$1"
runs = $runs
warmup = $warmup
jobs = [1]
reuse = "$2"
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
${prepare:+prepare = \"$prepare\"}
command = "i=0; while [ \$i -lt $loops ]; do i=\$((i+1)); done"
EOF
}

# study WAY ITERATION HOG_AFTER_S: runs one study (WAY is ORDER-HOST[-REUSE]); prints its
# wall seconds.
study() {
    local way=$1 i=$2 hog_after=$3 dir="$results/$1/$2" order host reuse started status=0 pid
    IFS=- read -r order host reuse <<<"$way"
    rm -rf "$dir" && mkdir -p "$dir"
    scenario "$order" "${reuse:-boot}" >"$dir/aa.toml"
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

# A hog way starts its hog half-way through the wall time of the last study of the same
# way on a quiet host (from the start when there was none yet).
declare -A quiet_wall=()
iterations=$count
if [ -n "${SUMMARY_ONLY:-}" ]; then iterations=0; fi
for i in $(seq "$iterations"); do
    order_of_ways=("${ways[@]}")
    if [ $((i % 2)) -eq 0 ]; then
        order_of_ways=()
        for ((w = ${#ways[@]} - 1; w >= 0; w--)); do order_of_ways+=("${ways[w]}"); done
    fi
    for way in "${order_of_ways[@]}"; do
        quiet=${way/-hog/-quiet}
        if [ "$way" = "$quiet" ]; then
            wall=$(study "$way" "$i" 0)
            quiet_wall[$way]=$wall
            echo "iteration $i: $way: $wall s" >&2
        else
            wall=$(study "$way" "$i" $((${quiet_wall[$quiet]:-0} / 2)))
            echo "iteration $i: $way (CPU hog from half-way): $wall s" >&2
        fi
    done
done

python3 - "$results" "$count" "${ways[@]}" <<'EOF'
import csv, glob, json, os, statistics, sys

results, count, ways = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print(f"A/A studies: up to {count} per way; {os.cpu_count()} host CPUs; verdicts at alpha 0.05; "
      "spread: median over studies and variants of the elapsed times' SD / mean")
print(f"{'way':<27} {'false alarms (elapsed)':>22} {'(any time)':>11} {'median |change|':>16} "
      f"{'spread':>7} {'noisy runs':>11} {'restored':>9} {'restore vs boot':>16} {'wall':>7} {'in timed runs':>14} "
      f"{'bench CPU':>10}")
for way in ways:
    alarms = any_alarms = studies = noisy = rows = restored = 0
    changes, spreads, walls, budgets, bench_cpu, restore_costs = [], [], [], [], [], []
    for folder in sorted(glob.glob(f"{results}/{way}/*/aa-*/*/")):
        if os.path.islink(folder.rstrip("/")) or not os.path.exists(os.path.join(folder, "report.json")):
            continue  # `latest` (a link to the study's folder), or a study still running
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
        elapsed, by_start = {}, {}
        for row in csv.DictReader(open(os.path.join(folder, "runs.csv"))):
            rows += 1
            noisy += bool(row.get("noise"))
            restored += row.get("start") == "restore"
            if row["status"] == "ok":
                elapsed.setdefault(row["variant"], []).append(float(row["elapsed_s"]))
                by_start.setdefault(row.get("start") or "boot", []).append(float(row["elapsed_s"]))
        if by_start.get("restore") and by_start.get("boot"):
            restore_costs.append(100 * (statistics.median(by_start["restore"]) / statistics.median(by_start["boot"]) - 1))
        spreads += [100 * statistics.stdev(times) / statistics.mean(times) for times in elapsed.values() if len(times) > 1]
        budget = json.load(open(os.path.join(folder, "meta.json"))).get("time_budget") or {}
        if budget.get("wall_s"):
            walls.append(budget["wall_s"])
            budgets.append(100 * budget["timed_runs_s"] / budget["wall_s"])
            bench_cpu.append(100 * budget["bench_cpu_s"] / budget["wall_s"])
    if not studies:
        continue
    median = lambda values, unit: f"{statistics.median(values):.1f} {unit}" if values else "n/a"
    print(f"{way:<27} {f'{alarms}/{studies} ({100 * alarms / studies:.0f} %)':>22} {f'{any_alarms}/{studies}':>11} "
          f"{median(changes, '%'):>16} {median(spreads, '%'):>7} {f'{noisy}/{rows}':>11} {f'{restored}/{rows}':>9} "
          f"{f'{statistics.median(restore_costs):+.1f} %' if restore_costs else 'n/a':>16} {median(walls, 's'):>7} {median(budgets, '%'):>14} {median(bench_cpu, '%'):>10}")
EOF
