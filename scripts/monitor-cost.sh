#!/bin/sh
# The cost of one in-guest monitor sample (read and parse /proc/meminfo, /proc/vmstat and
# /proc/stat), measured on this machine's kernel with the agent's own code, optimised
# as the agent is built. docs/monitors.md quotes it.
set -eu
cd "$(dirname "$0")/.."
cargo test -q -p bench-agent --release -- --ignored per_sample_cost --nocapture 2>&1 | grep "one monitor sample"
