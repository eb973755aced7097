#!/usr/bin/env bash
# How long `bench compare` and `bench report` take on a large study: writes two results
# folders of ROWS runs each (runs.csv only, 2 variants × 2 levels, normal noise) and times
# both commands. Usage: scripts/big-study.sh [ROWS] (default 1000000).
# BENCH=path/to/bench picks the binary (default: target/release/bench, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
bench=${BENCH:-target/release/bench}
[ -x "$bench" ] || cargo build --release --quiet --bin bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work" "$rows" <<'PY'
import os, random, sys
work, rows = sys.argv[1], int(sys.argv[2])
header = "schema_version,variant,jobs_label,jobs,run,status,elapsed_s,user_s,sys_s,percent_cpu,ctx_switches,sleeps,max_rss_kib,exit_code,failure,kernel_release,cmdline,started_at\n"
cells = [(v, l, j) for v in ("off", "poison") for (l, j) in (("half", 2), ("optimal", 4))]
for side, slower in (("base", 1.0), ("new", 1.02)):
    os.makedirs(f"{work}/{side}")
    rng = random.Random(side)
    with open(f"{work}/{side}/runs.csv", "w") as out:
        out.write(header)
        for i in range(rows):
            v, l, j = cells[i % 4]
            e = rng.gauss(40.0, 0.4) * (slower if v == "poison" else 1.0)
            out.write(f"1,{v},{l},{j},{i // 4 + 1},ok,{e:.3f},{e * 1.7:.3f},{e * 0.13:.3f},{184 + rng.random():.1f},13800,15740,120000,0,,6.1.0,console=ttyS0,2026-11-08T08:00:00Z\n")
PY
echo "runs.csv: $rows rows a side, $(du -h "$work/base/runs.csv" | cut -f1)"
for what in "compare" "report"; do
  start=$(date +%s.%N)
  if [ "$what" = compare ]; then
    "$bench" compare "$work/base" "$work/new" --format json >"$work/compare.json" || [ $? -eq 1 ]
  else
    "$bench" report "$work/base" >/dev/null
  fi
  printf 'bench %-8s %6.1f s\n' "$what" "$(echo "$(date +%s.%N) - $start" | bc)"
done
