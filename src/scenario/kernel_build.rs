//! The `kind = "kernel-build"` workload, validated: guest paths that are safe to put in
//! a shell command, the config resolved to a make target or a host file's contents.

use super::file::CleanMode;
use super::limits::{MAX_CONFIG_BYTES, MAX_WORKLOAD_FIELD_BYTES};
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct KernelBuild {
    pub source: String,
    pub config: KernelConfig,
    /// Make targets, separated by spaces.
    pub target: String,
    pub make_args: String,
    pub build_dir: String,
    pub clean: CleanMode,
}

#[derive(Debug, Clone)]
pub enum KernelConfig {
    /// `make <name>` in the build folder (defconfig, tinyconfig, allnoconfig, ...).
    MakeTarget(String),
    /// A .config from the host, shipped in the prepare command, then `make olddefconfig`.
    File { path: PathBuf, contents: String, sha256: String },
}

impl KernelConfig {
    /// How meta.json names it.
    pub fn describe(&self) -> String {
        match self {
            KernelConfig::MakeTarget(name) => name.clone(),
            KernelConfig::File { path, sha256, .. } => format!("{} (sha256 {sha256})", path.display()),
        }
    }
}

/// The line that ends the config file inside the prepare command's here-document.
pub const CONFIG_END_MARKER: &str = "KBENCH_CONFIG_END";

pub struct Fields<'a> {
    pub source: &'a str,
    pub config: &'a str,
    pub target: &'a str,
    pub make_args: &'a str,
    pub build_dir: &'a str,
    pub clean: CleanMode,
}

pub fn validate(fields: Fields, base: &Path) -> Result<KernelBuild> {
    for (key, value) in
        [("source", fields.source), ("build_dir", fields.build_dir), ("make_args", fields.make_args), ("target", fields.target)]
    {
        if value.len() > MAX_WORKLOAD_FIELD_BYTES {
            bail!(
                "key `workload.{key}`: {} bytes long, at most {MAX_WORKLOAD_FIELD_BYTES} (it is part of every command the guest runs)",
                value.len()
            );
        }
    }
    let source = guest_path(fields.source, "workload.source")?;
    let build_dir = guest_path(fields.build_dir, "workload.build_dir")?;
    if build_dir == "/" || Path::new(&build_dir).starts_with(&source) || Path::new(&source).starts_with(&build_dir) {
        bail!("key `workload.build_dir`: {build_dir:?} must be a folder of its own, outside the source {source:?} (prepare deletes it; the source stays read-only)");
    }
    let targets: Vec<&str> = fields.target.split_whitespace().collect();
    if targets.is_empty() {
        bail!("key `workload.target`: name what each run builds, for example \"vmlinux\" or \"kernel/fork.o mm/slub.o\"");
    }
    if let Some(bad) = targets.iter().find(|t| !is_shell_safe(t) || t.starts_with('-') || t.contains("..")) {
        bail!("key `workload.target`: {bad:?} is not a make target (letters, digits, '/', '.', '_', '-' only; options go in make_args)");
    }
    if fields.make_args.chars().any(char::is_control) {
        bail!("key `workload.make_args`: put the arguments on one line");
    }
    if fields.clean == CleanMode::Targets && targets.iter().any(|t| expected_file(t).is_none()) {
        bail!("key `workload.clean`: \"targets\" deletes the target files before each run, but {:?} names no file; use files (vmlinux, kernel/fork.o) or clean = \"make-clean\"", fields.target);
    }
    Ok(KernelBuild {
        source,
        config: config(fields.config, base)?,
        target: targets.join(" "),
        make_args: fields.make_args.trim().to_string(),
        build_dir,
        clean: fields.clean,
    })
}

/// The file a make target leaves in the build folder, relative to it, when it names one.
pub fn expected_file(target: &str) -> Option<String> {
    match target {
        "vmlinux" => Some("vmlinux".into()),
        "bzImage" => Some("arch/x86/boot/bzImage".into()),
        t if t.contains('/') && !t.ends_with('/') => Some(t.to_string()),
        t if t.ends_with(".o") || t.ends_with(".ko") || t.ends_with(".a") => Some(t.to_string()),
        _ => None,
    }
}

/// A file on the host (relative to the scenario) if there is one by that name; else a
/// name ending in "config" is a make target: make itself says whether it exists, and a
/// misspelt one fails the prepare step in the guest with make's own message.
fn config(value: &str, base: &Path) -> Result<KernelConfig> {
    let value = value.trim();
    if value.is_empty() {
        bail!("key `workload.config`: give a config target (defconfig, tinyconfig, allnoconfig) or a .config file");
    }
    let path = base.join(value);
    // A file that exists wins: "my.config" could also be read as a fragment target.
    let is_make_target = value.ends_with("config") && !value.contains('/') && is_shell_safe(value) && !value.starts_with('-');
    if is_make_target && !path.is_file() {
        return Ok(KernelConfig::MakeTarget(value.to_string()));
    }
    let contents = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "key `workload.config`: {value:?} is not a config target (a name ending in \"config\") and {} cannot be read as a .config file",
            path.display()
        )
    })?;
    if contents.len() > MAX_CONFIG_BYTES {
        bail!(
            "key `workload.config`: {} is {} bytes, at most {MAX_CONFIG_BYTES} (96 KiB) can be shipped in the guest's prepare command; give the minimal equivalent that `make savedefconfig` writes (make olddefconfig completes it in the guest)",
            path.display(),
            contents.len()
        );
    }
    if contents.lines().any(|line| line.trim() == CONFIG_END_MARKER) {
        bail!("key `workload.config`: {} contains the line {CONFIG_END_MARKER}, which kbench uses to ship it", path.display());
    }
    let sha256 = format!("{:x}", Sha256::digest(contents.as_bytes()));
    Ok(KernelConfig::File { path, contents, sha256 })
}

fn guest_path(value: &str, key: &str) -> Result<String> {
    let trimmed = value.trim().trim_end_matches('/');
    let path = if trimmed.is_empty() && value.trim().starts_with('/') { "/" } else { trimmed };
    if !path.starts_with('/') || !is_shell_safe(path) || path.contains("..") {
        bail!("key `{key}`: {value:?} must be an absolute path inside the guest made of letters, digits and / . _ - +");
    }
    Ok(path.to_string())
}

/// Characters that need no quoting in `sh -c`.
fn is_shell_safe(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(config: &'a str, target: &'a str, clean: CleanMode) -> Fields<'a> {
        Fields { source: "/usr/src/linux", config, target, make_args: "", build_dir: "/tmp/b", clean }
    }

    #[test]
    fn config_names_are_make_targets_and_anything_else_a_host_file() {
        let dir = tempfile::tempdir().unwrap();
        let kb = validate(fields("tinyconfig", "vmlinux", CleanMode::MakeClean), dir.path()).unwrap();
        assert!(matches!(kb.config, KernelConfig::MakeTarget(ref n) if n == "tinyconfig"));
        std::fs::write(dir.path().join("my.config"), "CONFIG_64BIT=y\n").unwrap();
        let kb = validate(fields("my.config", "vmlinux", CleanMode::MakeClean), dir.path()).unwrap();
        assert!(matches!(kb.config, KernelConfig::File { ref contents, .. } if contents == "CONFIG_64BIT=y\n"));
        let error = validate(fields("missing.cfg", "vmlinux", CleanMode::MakeClean), dir.path()).unwrap_err();
        assert!(format!("{error:#}").contains("workload.config"), "{error:#}");
    }

    #[test]
    fn unsafe_paths_and_targets_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for (source, build_dir, target) in [
            ("usr/src/linux", "/tmp/b", "vmlinux"),
            ("/usr/src/linux; rm -rf /", "/tmp/b", "vmlinux"),
            ("/usr/src/linux", "/usr/src/linux/out", "vmlinux"),
            ("/usr/src/linux", "/", "vmlinux"),
            ("/usr/src/linux", "/tmp/b", "vmlinux $(reboot)"),
            ("/usr/src/linux", "/tmp/b", "-j8"),
        ] {
            let f = Fields { source, config: "defconfig", target, make_args: "", build_dir, clean: CleanMode::MakeClean };
            assert!(validate(f, dir.path()).is_err(), "{source} {build_dir} {target}");
        }
    }

    #[test]
    fn a_config_too_big_for_one_shell_argument_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("big.config"), "# CONFIG_X is not set\n".repeat(MAX_CONFIG_BYTES / 22 + 1)).unwrap();
        let error = validate(fields("big.config", "vmlinux", CleanMode::MakeClean), dir.path()).unwrap_err();
        assert!(format!("{error:#}").contains("savedefconfig"), "{error:#}");
        let long = "A=1 ".repeat(MAX_WORKLOAD_FIELD_BYTES);
        let f = Fields { make_args: &long, ..fields("defconfig", "vmlinux", CleanMode::MakeClean) };
        assert!(format!("{:#}", validate(f, dir.path()).unwrap_err()).contains("workload.make_args"));
    }

    #[test]
    fn cleaning_targets_needs_targets_that_are_files() {
        let dir = tempfile::tempdir().unwrap();
        assert!(validate(fields("defconfig", "kernel/fork.o mm/slub.o", CleanMode::Targets), dir.path()).is_ok());
        assert!(validate(fields("defconfig", "modules", CleanMode::Targets), dir.path()).is_err());
        assert_eq!(expected_file("bzImage").as_deref(), Some("arch/x86/boot/bzImage"));
        assert_eq!(expected_file("modules"), None);
    }
}
