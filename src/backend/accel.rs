//! Which accelerator can really run a guest here. /dev/kvm alone proves nothing: on a PVM
//! host it exists, but a stock kernel boots through SeaBIOS and then hangs at full CPU.

use crate::scenario::file::AccelChoice;
use anyhow::{bail, Result};
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

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

/// Where the KVM device is looked for: /dev/kvm, or `KBENCH_KVM_DEVICE` (a test on a KVM
/// host points it at a missing file to see the refusal the check gives where KVM is absent).
const KVM_DEVICE_VARIABLE: &str = "KBENCH_KVM_DEVICE";

/// Why KVM cannot be used here, or `None` when it can.
pub fn kvm_unusable_reason() -> Option<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let device = std::env::var_os(KVM_DEVICE_VARIABLE).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/dev/kvm"));
    unusable_reason(&cpuinfo, Path::new("/sys/module"), &device)
}

fn unusable_reason(cpuinfo: &str, sys_module: &Path, device: &Path) -> Option<String> {
    let flags: Vec<&str> = cpuinfo.lines().filter(|l| l.starts_with("flags")).flat_map(|l| l.split_whitespace()).collect();
    let (vendor_module, flag) = if flags.contains(&"vmx") {
        ("kvm_intel", "vmx")
    } else if flags.contains(&"svm") {
        ("kvm_amd", "svm")
    } else {
        return Some("the CPU shows no vmx or svm flag: no hardware virtualization is exposed to this host".into());
    };
    if !sys_module.join(vendor_module).exists() {
        return Some(format!("the CPU has {flag} but the {vendor_module} module is not loaded (modprobe {vendor_module})"));
    }
    if let Err(e) = std::fs::OpenOptions::new().read(true).write(true).open(device) {
        return Some(format!("{} cannot be opened for reading and writing: {e}", device.display()));
    }
    None
}

/// Resolves the scenario's choice against what this host can do.
pub fn choose(choice: AccelChoice) -> Result<(Accel, Option<String>)> {
    resolve(choice, kvm_unusable_reason())
}

/// Resolves the scenario's choice given why KVM cannot be used on the host that runs the
/// guests (`None`: it can); a warning comes with TCG chosen for want of KVM.
pub fn resolve(choice: AccelChoice, reason: Option<String>) -> Result<(Accel, Option<String>)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    const NO_FLAG: &str = "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae mce hypervisor\n";
    const VMX: &str = "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae mce vmx hypervisor\n";
    const SVM: &str = "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae mce svm\n";

    #[test]
    fn every_reason_kvm_cannot_work_is_told_and_a_usable_device_passes() {
        let dir = tempfile::tempdir().unwrap();
        let modules = dir.path().join("module");
        let device = dir.path().join("kvm");
        std::fs::create_dir_all(&modules).unwrap();
        assert!(unusable_reason(NO_FLAG, &modules, &device).unwrap().contains("no vmx or svm flag"));
        assert!(unusable_reason(VMX, &modules, &device).unwrap().contains("the kvm_intel module is not loaded"));
        assert!(unusable_reason(SVM, &modules, &device).unwrap().contains("the kvm_amd module is not loaded"));
        std::fs::create_dir(modules.join("kvm_intel")).unwrap();
        let missing = unusable_reason(VMX, &modules, &device).unwrap();
        assert!(missing.starts_with(&format!("{} cannot be opened", device.display())), "{missing}");
        std::fs::write(&device, "").unwrap();
        assert_eq!(unusable_reason(VMX, &modules, &device), None);
    }
}
