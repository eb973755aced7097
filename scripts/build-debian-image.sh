#!/usr/bin/env bash
# Builds the Debian guest for kernel-compile studies into vm-images/debian/:
#   root.ext4    a Debian bookworm root (debootstrap, minbase) with the kernel build
#                toolchain and the kernel tree from linux-source-6.1 unpacked once at
#                /usr/src/linux (the guest mounts this disk read-only; builds go to O=)
#   vmlinuz      Debian's own kernel, the default kernel under test
#   initrd.img   Debian's own initrd for it: it holds the modules (virtio_pci,
#                virtio_blk, ext4) the agent loads to mount root.ext4
# The agent is not put in the image: kbench appends it to the initrd at every boot
# (as /kbench/agent, started with rdinit=), so the image never goes stale when the
# agent changes. scripts/build-agent.sh builds it.
#
# Idempotent: does nothing when all three files exist and the stamp matches the inputs
# (this script, the package list, the Debian release the mirror serves).
# Needs: root, debootstrap, e2fsprogs (mkfs.ext4 -d: no loop mount), network to the mirror.
# Takes about 5 minutes (debootstrap 2-3, unpacking the kernel tree and mkfs 1-2).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/vm-images/debian"
suite=bookworm
mirror=${KBENCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# gcc..cpio: what a kernel build needs (as kcbench lists it); openssl for certs/;
# linux-image-amd64 + initramfs-tools: Debian's kernel and an initrd with its modules.
packages=gcc,make,bc,bison,flex,libelf-dev,libssl-dev,openssl,kmod,cpio,xz-utils,linux-source-6.1,linux-image-amd64,initramfs-tools

die() { echo "build-debian-image: $*" >&2; exit 1; }
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "must run as root (debootstrap and file ownership in the image)"
  exec sudo "$0" "$@"
fi
command -v debootstrap >/dev/null || die "debootstrap is missing: scripts/install-deps.sh installs it"
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 is missing: apt-get install e2fsprogs"

# The release the mirror serves now, so that a new Debian point release rebuilds the image.
release=$(debootstrap --version | tr -d '\n'; echo -n " ")
release+=$(wget -q -O - "$mirror/dists/$suite/Release" 2>/dev/null | sed -n 's/^Date: //p' || true)
[ -n "${release#* }" ] || die "cannot read $mirror/dists/$suite/Release: is the network up?"
stamp="$(sha256sum "$0" | cut -d' ' -f1) $suite $packages $release"
mkdir -p "$out"
if [ -f "$out/root.ext4" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.img" ] \
   && [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "debian image up to date: $out"
  exit 0
fi

started=$(date +%s)
# On the same filesystem as the image, not a small /tmp: the root is about 2.5 GB.
work=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
echo "build-debian-image: debootstrap $suite into $rootfs"
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" > "$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }

tarball=$(ls "$rootfs"/usr/src/linux-source-*.tar.xz 2>/dev/null | head -n 1)
[ -n "$tarball" ] || die "linux-source-6.1 did not leave /usr/src/linux-source-*.tar.xz"
echo "build-debian-image: unpacking $(basename "$tarball")"
tar -xf "$tarball" -C "$rootfs/usr/src"
rm -f "$tarball"
tree=$(basename "$tarball" .tar.xz)
[ -f "$rootfs/usr/src/$tree/Makefile" ] || die "the kernel tree $tree has no Makefile"
ln -sfn "$tree" "$rootfs/usr/src/linux"

kernel=$(ls "$rootfs"/boot/vmlinuz-* | head -n 1)
initrd=$(ls "$rootfs"/boot/initrd.img-* 2>/dev/null | head -n 1)
[ -n "$initrd" ] || die "initramfs-tools made no initrd in $rootfs/boot"
# The agent mounts the root itself from inside this initrd: it must hold the drivers.
lsinitramfs "$initrd" > "$work/initrd.list"
for module in virtio_pci virtio_blk ext4; do
  grep -q "/$module\.ko" "$work/initrd.list" || die "$(basename "$initrd") lacks $module.ko"
done

rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*_Packages
# Room to spare, so that a user may add a package in the image without resizing it.
size_mib=$(( $(du -sm "$rootfs" | cut -f1) * 5 / 4 + 512 ))
echo "build-debian-image: root.ext4 ($size_mib MiB, sparse)"
rm -f "$out/root.ext4.tmp"
mkfs.ext4 -q -F -L kbench-root -E root_owner=0:0 -d "$rootfs" "$out/root.ext4.tmp" "${size_mib}M"
install -m 0644 "$kernel" "$out/vmlinuz.tmp"
install -m 0644 "$initrd" "$out/initrd.img.tmp"
mv "$out/root.ext4.tmp" "$out/root.ext4"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
mv "$out/initrd.img.tmp" "$out/initrd.img"
echo "$stamp" > "$out/.stamp"
echo "debian image built in $(( $(date +%s) - started )) s: $out (kernel $(basename "$kernel"), tree $tree)"
