#!/usr/bin/env bash
# Does restoring a saved guest (reuse = "snapshot") make kbench's verdicts less
# trustworthy than booting every round (reuse = "boot")? Issue 21's A/A measurement:
# scripts/aa-false-alarms.sh's A/A study (two identical variants of the tiny guest, a busy
# loop of about a second, interleaved: rounds = runs), K times booted and K times
# restored, alternating which goes first, on a quiet host. Prints per way the false alarms
# (Elapsed Time verdict, and any of Elapsed, User, System Time), the median |change|, the
# median spread of a variant's runs (SD / mean), the runs that ran on a restored guest, the
# median wall time of a study and its share in timed runs.
# Usage: scripts/aa-reuse.sh [K] [RESULTS_DIR]        (K = 5, results/aa-reuse by default)
# Environment: as scripts/aa-false-alarms.sh (RUNS, LOOPS, THRESHOLD, BENCH, KBENCH_AGENT,
# SUMMARY_ONLY; PREPARE and WARMUP are set here). Takes about K × 2 minutes with RUNS = 5 under TCG.
set -euo pipefail
# A prepare of 3 s and one warm-up, in both ways, as a study with a prepare has them. (It
# was also a workaround: before protocol 6's Sync, a guest saved while the agent was still
# sending a kernel log, right after its boot or a step, failed its restores.)
export PREPARE=${PREPARE:-sleep 3}
export WARMUP=${WARMUP:-1}
export WAYS="interleaved-quiet-boot interleaved-quiet-snapshot"
exec "$(dirname "$0")/aa-false-alarms.sh" "${1:-5}" "${2:-results/aa-reuse}"
