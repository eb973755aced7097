#!/usr/bin/env bash
# Installs the Debian packages kbench and its tests need; a no-op when all are present.
#   qemu-system-x86  the hypervisor          busybox-static  the tiny guest's userland
#   cpio             initramfs archives      file            static-binary checks
#   debootstrap, e2fsprogs, wget, initramfs-tools-core (lsinitramfs)   the Debian image
#   chromium         tests/report_html.rs loads report.html in a real (headless) browser
#   libvirt-dev, pkg-config                 build the libvirt backend (the `virt` crate)
#   libvirt-daemon-system, libvirt-clients  the daemon and virsh it drives (tests/libvirt.rs;
#                                           scripts/start-libvirtd.sh starts it without systemd)
#   openssh-server   tests/libvirt.rs reaches the daemon through qemu+ssh on loopback
#   qemu-utils       qemu-img: reuse = "snapshot" keeps a disk guest's writes in an overlay
set -euo pipefail
packages=(qemu-system-x86 qemu-utils busybox-static cpio file debootstrap e2fsprogs wget initramfs-tools-core chromium
  libvirt-dev pkg-config libvirt-daemon-system libvirt-clients openssh-server)
install_missing() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}
install_missing
# Twice: installing bookworm's qemu-system-x86 removes a newer qemu-utils from backports
# (seen on a fresh machine), which the second pass puts back at bookworm's version.
install_missing
# apt-get download (used by the guest builders) needs current package lists.
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -q
fi
