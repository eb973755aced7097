#!/usr/bin/env bash
# Builds the tiny test guest into vm-images/tiny/: Debian's stock kernel (vmlinuz) and a
# busybox-static initramfs (initramfs.cpio.gz). kbench appends its agent as /init at run
# time, so this image never needs rebuilding when the agent changes.
# Idempotent: does nothing when both files exist and their inputs have not changed.
# Needs: apt-get (root, lists updated), busybox-static, cpio, gzip, dpkg-deb.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/vm-images/tiny"
mkdir -p "$out"

kernel_pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kernel_pkg" ] || { echo "build-tiny-guest: cannot resolve linux-image-amd64 (run apt-get update first)" >&2; exit 1; }
busybox=$(command -v busybox || true)
[ -n "$busybox" ] && file -L "$busybox" | grep -q 'statically linked' \
  || { echo "build-tiny-guest: need a static busybox: apt-get install busybox-static" >&2; exit 1; }

stamp="$kernel_pkg $(sha256sum "$busybox" | cut -d' ' -f1)"
if [ -f "$out/vmlinuz" ] && [ -f "$out/initramfs.cpio.gz" ] && [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "tiny guest up to date: $out ($kernel_pkg)"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -q "$kernel_pkg" >/dev/null)
dpkg-deb --fsys-tarfile "$work"/*.deb | tar -x -C "$work" --wildcards './boot/vmlinuz-*'
install -m 0644 "$work"/boot/vmlinuz-* "$out/vmlinuz"

rootfs="$work/rootfs"
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,etc}
cp "$busybox" "$rootfs/bin/busybox"
for applet in $("$busybox" --list-full); do
  [ -e "$rootfs/$applet" ] || ln -s /bin/busybox "$rootfs/$applet"
done
(cd "$rootfs" && find . | LC_ALL=C sort | cpio --quiet -o -H newc --owner 0:0 | gzip -9n) > "$out/initramfs.cpio.gz.tmp"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
echo "$stamp" > "$out/.stamp"
echo "tiny guest built: $out/vmlinuz ($kernel_pkg), $out/initramfs.cpio.gz"
