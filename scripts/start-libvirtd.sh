#!/usr/bin/env bash
# Starts libvirt's daemons for the libvirt backend and its tests, on a machine without
# systemd (a container, a CI runner); a no-op when they already run. Waits, at most
# 30 s, until `virsh -c qemu:///system version` answers.
set -euo pipefail
sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
if ! command -v libvirtd >/dev/null; then
  echo "libvirtd is not installed: run scripts/install-deps.sh (Debian: libvirt-daemon-system)" >&2
  exit 2
fi
if virsh -c qemu:///system version >/dev/null 2>&1; then
  exit 0
fi
# libvirtd logs each guest's QEMU output here, through virtlogd, and fails to start a
# guest when either is missing.
$sudo mkdir -p /var/log/libvirt/qemu
pgrep -x virtlogd >/dev/null || $sudo virtlogd -d
pgrep -x libvirtd >/dev/null || $sudo libvirtd -d
for _ in $(seq 60); do
  if virsh -c qemu:///system version >/dev/null 2>&1; then
    exit 0
  fi
  sleep 0.5
done
echo "libvirtd did not answer on qemu:///system within 30 s; see /var/log/libvirt/libvirtd.log or run libvirtd in the foreground (libvirtd -v)" >&2
exit 1
