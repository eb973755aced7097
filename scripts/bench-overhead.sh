#!/usr/bin/env bash
# bench's own CPU cost, measured: a tiny-guest study whose timed runs sleep in the guest.
# Prints
#  - while the guest works: bench's user+system CPU over a window inside the first timed
#    run (from /proc/PID/stat), as a share of one core: the "bench sleeps" claim;
#  - the study's time budget from meta.json: the share of the wall time in timed runs,
#    and bench_cpu_s as a share of one core over the whole study (boots, checksums and
#    report writing's predecessors included).
# Usage: scripts/bench-overhead.sh [SLEEP_S] [RUNS]   (30 s, 2 runs by default)
# BACKEND=libvirt measures the libvirt backend (default: qemu).
# BENCH=path/to/bench uses that binary instead of building the release one; the guest
# needs scripts/build-tiny-guest.sh and scripts/build-agent.sh (run here, idempotent).
set -euo pipefail
CARGO_TARGET_DIR=$(realpath -m "${CARGO_TARGET_DIR:-$(dirname "$0")/../target}")
export CARGO_TARGET_DIR
cd "$(dirname "$0")/.."
sleep_s=${1:-30}
runs=${2:-2}
if [ "$sleep_s" -lt 15 ]; then
  echo "bench-overhead.sh: SLEEP_S must be at least 15 (the window is SLEEP_S - 8 s inside a run)" >&2
  exit 2
fi
if [ -z "${BENCH:-}" ]; then
  cargo build --release -q --bin bench
  BENCH=$CARGO_TARGET_DIR/release/bench
fi
scripts/build-agent.sh > /dev/null
scripts/build-tiny-guest.sh > /dev/null
export KBENCH_AGENT=${KBENCH_AGENT:-$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/bench-agent}

dir=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2> /dev/null && wait "$pid" 2> /dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
cat > "$dir/overhead.toml" << EOF
name = "overhead"
runs = $runs
warmup = 0
rounds = 1
jobs = ["half"]
[[variant]]
name = "sleeper"
[workload]
kind = "command"
command = "sleep $sleep_s"
[guest]
kernel = "$PWD/vm-images/tiny/vmlinuz"
initrd = "$PWD/vm-images/tiny/initramfs.cpio.gz"
cpus = 1
memory = "256M"
cmdline = "quiet"
boot_timeout = 300
backend = "${BACKEND:-qemu}"
EOF

"$BENCH" run "$dir/overhead.toml" --results "$dir/results" > "$dir/stdout" 2> "$dir/stderr" &
pid=$!

# CPU ticks (user + system) of bench's own threads, not its waited-for children.
ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
now() { date +%s.%N; }
# meta.json gains the boot's entry once the guest booted; with no prepare and no warm-up
# the first timed run starts at once.
for _ in $(seq 600); do
  meta=$(ls "$dir"/results/overhead/*/meta.json 2> /dev/null | head -n1 || true)
  if [ -n "$meta" ] && jq -e '(.boots // []) | length > 0' "$meta" > /dev/null 2>&1; then break; fi
  kill -0 "$pid" 2> /dev/null || { cat "$dir/stderr" >&2; echo "bench ended before the guest booted" >&2; exit 1; }
  sleep 0.5
done
sleep 4
t0=$(now); c0=$(ticks)
sleep $((sleep_s - 8))
t1=$(now); c1=$(ticks)
hz=$(getconf CLK_TCK)
status=0
wait "$pid" || status=$?
pid=
if [ "$status" -ne 0 ]; then
  cat "$dir/stderr" >&2
  echo "bench run ended with $status" >&2
  exit 1
fi
awk -v c="$((c1 - c0))" -v hz="$hz" -v a="$t0" -v b="$t1" 'BEGIN {
  w = b - a; printf "while the guest slept: bench used %.3f s of CPU over %.1f s = %.3f %% of one core\n", c / hz, w, 100 * c / hz / w }'
jq -r '.time_budget | "study: wall \(.wall_s * 10 | round / 10) s, timed runs \(.timed_runs_s * 10 | round / 10) s (\(100 * .timed_runs_s / .wall_s * 10 | round / 10) %), boot \(.boot_s * 10 | round / 10) s, shut-down \(.shutdown_s * 10 | round / 10) s, other \(.other_s * 10 | round / 10) s",
  "study: bench_cpu_s \(.bench_cpu_s * 1000 | round / 1000) s = \(100 * .bench_cpu_s / .wall_s * 1000 | round / 1000) % of one core over the study"' "$meta"
