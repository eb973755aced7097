#!/usr/bin/env bash
# How long putting a disk image into a libvirt host's `kbench` pool takes, three ways:
#  - plain:  every byte through a stream (virsh vol-upload; what bench did before sparse upload)
#  - sparse: holes sent as their length (virsh vol-upload --sparse)
#  - bench:  bench's own upload (sparse), from its "uploading" line to its sidecar volume
#            (the local sha256 before it is not counted; it is printed separately)
# and how much of the host's disk each volume takes. Every volume it makes is removed.
# Usage: scripts/upload-speed.sh [FILE] [URI]   (vm-images/debian/root.ext4, qemu:///system)
# BENCH=path/to/bench uses that binary (default: target/release/bench, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
file=$(realpath "${1:-vm-images/debian/root.ext4}")
uri=${2:-qemu:///system}
[ -f "$file" ] || { echo "upload-speed.sh: no file $file" >&2; exit 2; }
if [ -z "${BENCH:-}" ]; then
  cargo build --release -q --bin bench
  BENCH=target/release/bench
fi
scripts/build-agent.sh > /dev/null
export KBENCH_AGENT=${KBENCH_AGENT:-target/x86_64-unknown-linux-gnu/release/bench-agent}
v() { virsh -q -c "$uri" "$@"; }
size=$(stat -c %s "$file")
echo "file: $file: $((size >> 20)) MiB, $(( $(stat -c %b "$file") * 512 >> 20 )) MiB of it data"
now() { date +%s.%N; }
allocated() { v vol-info --bytes --pool kbench "$1" | awk '/Allocation/ {printf "%d MiB", $2 / 1048576}'; }

for how in plain sparse; do
  vol=upload-speed-$how-$$
  v vol-create-as kbench "$vol" "$size" --allocation 0 --format raw > /dev/null
  flag=(); [ $how = sparse ] && flag=(--sparse)
  start=$(now)
  v vol-upload "${flag[@]}" --pool kbench "$vol" "$file"
  end=$(now)
  echo "$how (virsh vol-upload ${flag[*]}): $(echo "$end - $start" | bc) s, volume takes $(allocated "$vol")"
  v vol-delete --pool kbench "$vol" > /dev/null
done

work=$(mktemp -d)
trap 'kill "$pid" 2> /dev/null || true; rm -rf "$work"' EXIT
start=$(now)
sha=$(sha256sum "$file" | cut -c1-16)
echo "local sha256 (sha256sum, what bench does first): $(echo "$(now) - $start" | bc) s"
name="$(basename "$file")-$sha"
if v vol-info --pool kbench "$name" > /dev/null 2>&1; then
  echo "the pool already holds $name: bench would not upload it (virsh vol-delete it and its .sha256 to measure)" >&2
  exit 2
fi
cat > "$work/s.toml" <<TOML
name = "upload-speed"
runs = 1
warmup = 0
jobs = [1]
[[variant]]
name = "only"
[workload]
kind = "command"
command = "true"
[guest]
kernel = "$(realpath vm-images/tiny/vmlinuz)"
initrd = "$(realpath vm-images/tiny/initramfs.cpio.gz)"
memory = "512M"
backend = "libvirt"
uri = "$uri"
retries = 0
disk = "$file"
TOML
"$BENCH" run "$work/s.toml" --results "$work/r" 2> "$work/err" > /dev/null &
pid=$!
until grep -q "uploading $file" "$work/err"; do
  kill -0 $pid 2> /dev/null || { cat "$work/err" >&2; exit 1; }
  sleep 0.1
done
start=$(now)
until v vol-info --pool kbench "$name.sha256" > /dev/null 2>&1; do sleep 0.1; done
end=$(now)
echo "bench (sparse stream): $(echo "$end - $start" | bc) s, volume takes $(allocated "$name")"
kill $pid; wait $pid 2> /dev/null || true
v vol-delete --pool kbench "$name.sha256" > /dev/null
v vol-delete --pool kbench "$name" > /dev/null
