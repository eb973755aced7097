#!/usr/bin/env bash
# Does `guest.pin` change the run-to-run spread here? Runs the same tiny-guest study (one
# vCPU, a CPU-bound shell loop) unpinned and pinned, alternately, K times each, and prints
# each study's mean elapsed time, sample SD and coefficient of variation, from runs.csv.
# A figure for this host at this moment (other work on it counts): not a claim about
# pinning in general. Needs 2 host CPUs (one for the vCPU, one for the rest).
# Usage: scripts/pin-spread.sh [K] [RUNS] [LOOPS]   (2 studies each, 6 runs, 300000 loops)
# BENCH=path/to/bench uses that binary instead of building the release one.
set -euo pipefail
CARGO_TARGET_DIR=$(realpath -m "${CARGO_TARGET_DIR:-$(dirname "$0")/../target}")
export CARGO_TARGET_DIR
cd "$(dirname "$0")/.."
k=${1:-2}
runs=${2:-6}
loops=${3:-300000}
if [ -z "${BENCH:-}" ]; then
  cargo build --release -q --bin bench
  BENCH=$CARGO_TARGET_DIR/release/bench
fi
scripts/build-agent.sh > /dev/null
scripts/build-tiny-guest.sh > /dev/null
export KBENCH_AGENT=${KBENCH_AGENT:-$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/bench-agent}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

study() { # pin (true|false) → one line of figures
  local pin=$1 name="spread-$1"
  cat > "$dir/$name.toml" << EOF
name = "$name"
runs = $runs
warmup = 1
rounds = 1
jobs = ["half"]
[[variant]]
name = "loop"
[workload]
kind = "command"
command = "i=0; while [ \$i -lt $loops ]; do i=\$((i+1)); done"
[guest]
kernel = "$PWD/vm-images/tiny/vmlinuz"
initrd = "$PWD/vm-images/tiny/initramfs.cpio.gz"
cpus = 1
memory = "256M"
cmdline = "quiet"
boot_timeout = 300
pin = $pin
EOF
  rm -rf "$dir/results"
  "$BENCH" run "$dir/$name.toml" --results "$dir/results" > /dev/null 2> "$dir/stderr" || { cat "$dir/stderr" >&2; exit 1; }
  local csv
  csv=$(ls "$dir"/results/"$name"/*/runs.csv)
  awk -F, -v pin="$pin" -v load="$(cut -d' ' -f1 /proc/loadavg)" '
    NR == 1 { for (i = 1; i <= NF; i++) if ($i == "elapsed_s") c = i; next }
    $0 ~ /,ok,/ { n++; s += $c; q += $c * $c }
    END { m = s / n; sd = sqrt((q - n * m * m) / (n - 1));
          printf "pin = %-5s  n = %d  mean %.3f s  sd %.3f s  CoV %.2f %%  (load1 after: %s)\n", pin, n, m, sd, 100 * sd / m, load }' "$csv"
}

for i in $(seq "$k"); do
  study false
  study true
done
