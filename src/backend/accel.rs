//! Which accelerator can really run a guest here. /dev/kvm alone proves nothing: on a PVM
//! host it exists, but a stock kernel boots through SeaBIOS and then hangs at full CPU.

use crate::scenario::file::AccelChoice;
use anyhow::{bail, Result};
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    Kvm,
    Tcg,
}

impl fmt::Display for Accel {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        })
    }
}

/// Why KVM cannot be used here, or `None` when it can.
pub fn kvm_unusable_reason() -> Option<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags: Vec<&str> = cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .flat_map(|l| l.split_whitespace())
        .collect();
    let (vendor_module, flag) = if flags.contains(&"vmx") {
        ("kvm_intel", "vmx")
    } else if flags.contains(&"svm") {
        ("kvm_amd", "svm")
    } else {
        return Some("the CPU shows no vmx or svm flag: no hardware virtualization is exposed to this host".into());
    };
    if !std::path::Path::new("/sys/module").join(vendor_module).exists() {
        return Some(format!("the CPU has {flag} but the {vendor_module} module is not loaded (modprobe {vendor_module})"));
    }
    if let Err(e) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm") {
        return Some(format!("/dev/kvm cannot be opened for reading and writing: {e}"));
    }
    None
}

/// Resolves the scenario's choice against what this host can do.
pub fn choose(choice: AccelChoice) -> Result<(Accel, Option<String>)> {
    let reason = kvm_unusable_reason();
    match (choice, reason) {
        (AccelChoice::Tcg, _) => Ok((Accel::Tcg, None)),
        (AccelChoice::Kvm, None) | (AccelChoice::Auto, None) => Ok((Accel::Kvm, None)),
        (AccelChoice::Kvm, Some(reason)) => {
            bail!("key `guest.accel`: \"kvm\" was asked for, but KVM does not work here: {reason}. Use accel = \"auto\" or \"tcg\" to emulate (times will be emulated, not native)")
        }
        (AccelChoice::Auto, Some(reason)) => Ok((
            Accel::Tcg,
            Some(format!(
                "KVM is not usable ({reason}); guests run under TCG emulation: times are emulated, 10-20x slower, and swamp small kernel costs"
            )),
        )),
    }
}
