#!/usr/bin/env bash
# What reuse = "snapshot" saves, measured (issue 21): the same interleaved tiny-guest study
# (two variants, RUNS rounds of one run each, a prepare and a warm-up) run twice, with
# reuse = "boot" and with reuse = "snapshot". For each it prints the wall time, the share
# of it in timed runs, the time per boot + prepare + warm-up and per restore (and the
# saves), the state files' size, and the study's verdicts.
# Usage: scripts/snapshot-speed.sh [RUNS]   (5 by default)
# BENCH=path/to/bench uses that binary instead of building the release one; the guest
# needs scripts/build-tiny-guest.sh and scripts/build-agent.sh (run here, idempotent).
set -euo pipefail
CARGO_TARGET_DIR=$(realpath -m "${CARGO_TARGET_DIR:-$(dirname "$0")/../target}")
export CARGO_TARGET_DIR
cd "$(dirname "$0")/.."
runs=${1:-5}
if [ -z "${BENCH:-}" ]; then
  cargo build --release -q --bin bench
  BENCH=$CARGO_TARGET_DIR/release/bench
fi
scripts/build-agent.sh > /dev/null
scripts/build-tiny-guest.sh > /dev/null
export KBENCH_AGENT=${KBENCH_AGENT:-$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/bench-agent}

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for reuse in boot snapshot; do
  cat > "$dir/$reuse.toml" << EOF
name = "speed-$reuse"
runs = $runs
rounds = $runs
warmup = 1
jobs = ["half"]
reuse = "$reuse"
seed = 21
[[variant]]
name = "baseline"
[[variant]]
name = "slub-poison"
cmdline = "slub_debug=P"
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
  if ! "$BENCH" run "$dir/$reuse.toml" --results "$dir/results" > "$dir/$reuse.out" 2> "$dir/$reuse.err"; then
    echo "snapshot-speed.sh: the reuse = $reuse study failed:" >&2
    tail -20 "$dir/$reuse.err" >&2
    exit 1
  fi
  meta=$(find "$dir/results/speed-$reuse" -mindepth 2 -maxdepth 2 -name meta.json | head -1)
  echo "== reuse = \"$reuse\" ($runs rounds, 2 variants)"
  jq -r '
    .time_budget as $b
    | ([.boots[] | select(.restore_s == null)]) as $booted
    | ([.boots[] | select(.restore_s != null)]) as $restored
    | "wall: \($b.wall_s * 10 | round / 10) s, timed runs: \($b.timed_runs_s / $b.wall_s * 1000 | round / 10) % of it",
      "boots: \($booted | length), each boot + prepare + warm-up: \($booted | map(.boot_s + (.prepare_s // 0) + .warmup_s) | add / length * 100 | round / 100) s (the boot alone \($booted | map(.boot_s) | add / length * 100 | round / 100) s)",
      (if ($restored | length) > 0 then "restores: \($restored | length), each \($restored | map(.restore_s) | add / length * 1000 | round) ms; saves: \($b.save_s * 1000 | round) ms in all; state files: \($b.state_bytes / 1e6 | round) MB" else "restores: none" end)
  ' "$meta"
  echo "verdicts:"
  grep -E '^slub-poison vs' "$dir/$reuse.out" | sed 's/^/  /' || echo "  (none printed)"
done
