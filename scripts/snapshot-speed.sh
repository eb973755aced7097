#!/usr/bin/env bash
# What reuse = "snapshot" saves, measured (issue 21): the same interleaved study (two
# variants, baseline and slub_debug=P, RUNS rounds of one run each) run twice, with
# reuse = "boot" and with reuse = "snapshot". For each it prints the wall time, the share
# of it in timed runs, the time per boot + prepare + warm-up and per restore (and the
# saves), the state files' size, and the study's verdicts.
#
# Two guests (GUEST=...):
#   tiny (default)  the tiny guest, 512 MiB, a configure-like prepare of 400 short
#                   processes, one warm-up, a fork loop as the timed run
#   debian          the Debian image (scripts/build-debian-image.sh), 2 vCPUs, 2 GiB, with
#                   scenarios/quick.toml's workload: its prepare (allnoconfig + make
#                   prepare of linux-source-6.1, minutes under TCG), no warm-up, and
#                   lib/sort.o + lib/bsearch.o as the timed build, at one jobs level
#                   (JOBS, default "optimal") to keep the pair within about 45 minutes
#                   under TCG
# Usage: scripts/snapshot-speed.sh [RUNS]   (5 by default)
# Environment: GUEST (above); JOBS (debian: the jobs level); REUSES (the studies, in the
# order they run: "boot snapshot" by default); RESULTS (a folder to keep the results
# in; by default they go to a temporary folder removed at the end); BENCH=path/to/bench
# uses that binary instead of building the release one, KBENCH_AGENT=path/to/bench-agent
# that agent instead of building it (scripts/build-agent.sh); the tiny guest is built by
# scripts/build-tiny-guest.sh (run here, idempotent).
set -euo pipefail
CARGO_TARGET_DIR=$(realpath -m "${CARGO_TARGET_DIR:-$(dirname "$0")/../target}")
export CARGO_TARGET_DIR
cd "$(dirname "$0")/.."
runs=${1:-5}
guest=${GUEST:-tiny}
case $guest in
  tiny) ;;
  debian)
    for needed in vmlinuz initrd.img root.ext4; do
      [ -e "vm-images/debian/$needed" ] || { echo "snapshot-speed.sh: vm-images/debian/$needed is missing: run scripts/build-debian-image.sh" >&2; exit 2; }
    done ;;
  *) echo "snapshot-speed.sh: GUEST is tiny or debian, not '$guest'" >&2; exit 2 ;;
esac
if [ -z "${BENCH:-}" ]; then
  cargo build --release -q --bin bench
  BENCH=$CARGO_TARGET_DIR/release/bench
fi
if [ -z "${KBENCH_AGENT:-}" ]; then
  scripts/build-agent.sh > /dev/null
  export KBENCH_AGENT=$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/bench-agent
fi
if [ "$guest" = tiny ]; then scripts/build-tiny-guest.sh > /dev/null; fi

# scenario REUSE: the study's scenario on stdout.
scenario() {
  local warmup=1 jobs=half
  if [ "$guest" = debian ]; then warmup=0 jobs=${JOBS:-optimal}; fi
  cat << EOF
name = "speed-$guest-$1"
runs = $runs
rounds = $runs
warmup = $warmup
jobs = ["$jobs"]
reuse = "$1"
seed = 21
[[variant]]
name = "baseline"
[[variant]]
name = "slub-poison"
cmdline = "slub_debug=P"
EOF
  if [ "$guest" = tiny ]; then
    cat << EOF
[workload]
kind = "command"
# A configure-like prepare: 400 short processes.
prepare = "for i in \$(seq 400); do /bin/true; done"
command = "for w in \$(seq {jobs}); do (for i in \$(seq 200); do /bin/true; done) & done; wait"
[guest]
kernel = "$PWD/vm-images/tiny/vmlinuz"
initrd = "$PWD/vm-images/tiny/initramfs.cpio.gz"
cpus = 2
memory = "512M"
cmdline = "quiet"
boot_timeout = 300
EOF
  else
    # scenarios/quick.toml's guest and workload (its prepare: configure + make prepare).
    cat << EOF
[workload]
kind = "kernel-build"
source = "/usr/src/linux"
config = "allnoconfig"
target = "lib/sort.o lib/bsearch.o"
clean = "targets"
[guest]
kernel = "$PWD/vm-images/debian/vmlinuz"
initrd = "$PWD/vm-images/debian/initrd.img"
disk = "$PWD/vm-images/debian/root.ext4"
cpus = 2
memory = "2G"
cmdline = "quiet"
accel = "auto"
boot_timeout = 300
run_timeout = 1800
EOF
  fi
}

if [ -n "${RESULTS:-}" ]; then
  dir=$(realpath -m "$RESULTS")
  mkdir -p "$dir"
else
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
fi
for reuse in ${REUSES:-boot snapshot}; do
  scenario "$reuse" > "$dir/$reuse.toml"
  if ! "$BENCH" run "$dir/$reuse.toml" --results "$dir/results" > "$dir/$reuse.out" 2> "$dir/$reuse.err"; then
    echo "snapshot-speed.sh: the reuse = $reuse study failed:" >&2
    tail -20 "$dir/$reuse.err" >&2
    exit 1
  fi
  meta=$(find "$dir/results/speed-$guest-$reuse" -mindepth 2 -maxdepth 2 -name meta.json | sort | tail -1)
  echo "== $guest guest, reuse = \"$reuse\" ($runs rounds, 2 variants)"
  jq -r '
    .time_budget as $b
    | ([.boots[] | select(.restore_s == null)]) as $booted
    | ([.boots[] | select(.restore_s != null)]) as $restored
    | "wall: \($b.wall_s * 10 | round / 10) s, timed runs: \($b.timed_runs_s / $b.wall_s * 1000 | round / 10) % of it (\($b.timed_runs_s | round) s); before the first boot: \($b.before_first_boot_s * 10 | round / 10) s",
      "boots: \($booted | length), each boot + prepare + warm-up: \($booted | map(.boot_s + (.prepare_s // 0) + .warmup_s) | add / length * 100 | round / 100) s (the boot alone \($booted | map(.boot_s) | add / length * 100 | round / 100) s, the prepare \($booted | map(.prepare_s // 0) | add / length * 100 | round / 100) s)",
      (if ($restored | length) > 0 then "restores: \($restored | length), each \($restored | map(.restore_s) | add / length * 1000 | round) ms; saves: \($b.save_s * 1000 | round) ms in all; state files: \($b.state_bytes / 1e6 | round) MB" else "restores: none" end)
  ' "$meta"
  echo "verdicts:"
  grep -E '^slub-poison vs' "$dir/$reuse.out" | sed 's/^/  /' || echo "  (none printed)"
done
