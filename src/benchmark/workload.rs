//! A workload as the shell commands the agent runs: prepare once, clean before each
//! build, the measured command with `{jobs}` still in it, and what proves it worked.

use crate::scenario::file::CleanMode;
use crate::scenario::kernel_build::{expected_file, KernelBuild, KernelConfig, CONFIG_END_MARKER};
use crate::scenario::Workload;
use kbench_protocol::Probe;

#[derive(Debug, Clone, Default)]
pub struct Commands {
    pub prepare: Option<String>,
    pub clean: Option<String>,
    /// With `{jobs}` for the level's -j value.
    pub command: String,
    /// Files that must exist in the guest after each build.
    pub expect_files: Vec<String>,
    pub env: Vec<(String, String)>,
    pub probes: Vec<Probe>,
}

/// The commands as the guest runs them. `for_record` leaves a shipped .config out of the
/// prepare command (meta.json names its path and checksum instead).
pub fn commands(workload: &Workload, for_record: bool) -> Commands {
    match workload {
        Workload::Command { command, prepare, clean } => {
            Commands { prepare: prepare.clone(), clean: clean.clone(), command: command.clone(), ..Commands::default() }
        }
        Workload::KernelBuild(build) => kernel_build(build, for_record),
    }
}

fn kernel_build(kb: &KernelBuild, for_record: bool) -> Commands {
    let out = &kb.build_dir;
    let make = if kb.make_args.is_empty() {
        format!("make -C {} O={out}", kb.source)
    } else {
        format!("make -C {} O={out} {}", kb.source, kb.make_args)
    };
    // A fresh O= folder every boot, as kcbench: nothing of an earlier build is reused.
    let configure = match &kb.config {
        KernelConfig::MakeTarget(name) => format!("{make} {name}"),
        KernelConfig::File { path, sha256, .. } if for_record => {
            format!("cp <{} sha256 {sha256}> {out}/.config && {make} olddefconfig", path.display())
        }
        KernelConfig::File { contents, .. } => {
            let newline = if contents.ends_with('\n') { "" } else { "\n" };
            format!("cat > {out}/.config <<'{CONFIG_END_MARKER}'\n{contents}{newline}{CONFIG_END_MARKER}\n{make} olddefconfig")
        }
    };
    let mut prepare = format!("set -e\nrm -rf {out}\nmkdir -p {out}\n{configure}");
    if kb.clean == CleanMode::Targets {
        // Runs recompile only the targets; kbuild's one-time work (generated headers,
        // fixdep, modpost, relocs) must not land in the first of them.
        prepare.push_str(&format!("\n{make} prepare"));
    }
    let targets: Vec<&str> = kb.target.split_whitespace().collect();
    let expect_files: Vec<String> = targets.iter().filter_map(|t| expected_file(t)).map(|file| format!("{out}/{file}")).collect();
    let clean = match kb.clean {
        CleanMode::MakeClean => format!("{make} clean"),
        CleanMode::Targets => format!("rm -f {}", expect_files.join(" ")),
    };
    Commands {
        prepare: Some(prepare),
        clean: Some(clean),
        command: format!("{make} -j{{jobs}} {}", kb.target),
        expect_files,
        env: vec![("CCACHE_DISABLE".into(), "1".into())],
        probes: vec![
            Probe { name: "compiler".into(), command: format!("{} --version", compiler(&kb.make_args)) },
            Probe {
                name: "linux_version".into(),
                // The tree's own version, read without running make in the read-only tree.
                command: format!(
                    "awk '/^VERSION =/{{v=$3}} /^PATCHLEVEL =/{{p=$3}} /^SUBLEVEL =/{{s=$3}} /^EXTRAVERSION =/{{e=$3}} END{{print v\".\"p\".\"s e}}' {}/Makefile",
                    kb.source
                ),
            },
        ],
    }
}

/// The compiler make will call: `CC=` from make_args, else gcc (as kcbench reports it).
fn compiler(make_args: &str) -> String {
    make_args.split_whitespace().find_map(|arg| arg.strip_prefix("CC=")).filter(|cc| !cc.is_empty()).unwrap_or("gcc").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::kernel_build::KernelBuild;

    fn build(clean: CleanMode, config: KernelConfig) -> Workload {
        Workload::KernelBuild(KernelBuild {
            source: "/usr/src/linux".into(),
            config,
            target: "kernel/fork.o mm/slub.o".into(),
            make_args: "CC=gcc-12".into(),
            build_dir: "/tmp/b".into(),
            clean,
        })
    }

    #[test]
    fn a_kernel_build_configures_cleans_and_builds_out_of_tree() {
        let c = commands(&build(CleanMode::MakeClean, KernelConfig::MakeTarget("tinyconfig".into())), false);
        assert_eq!(c.prepare.unwrap(), "set -e\nrm -rf /tmp/b\nmkdir -p /tmp/b\nmake -C /usr/src/linux O=/tmp/b CC=gcc-12 tinyconfig");
        assert_eq!(c.clean.unwrap(), "make -C /usr/src/linux O=/tmp/b CC=gcc-12 clean");
        assert_eq!(c.command, "make -C /usr/src/linux O=/tmp/b CC=gcc-12 -j{jobs} kernel/fork.o mm/slub.o");
        assert_eq!(c.expect_files, ["/tmp/b/kernel/fork.o", "/tmp/b/mm/slub.o"]);
        assert_eq!(c.probes[0].command, "gcc-12 --version");
        let c = commands(&build(CleanMode::Targets, KernelConfig::MakeTarget("tinyconfig".into())), false);
        assert_eq!(c.clean.unwrap(), "rm -f /tmp/b/kernel/fork.o /tmp/b/mm/slub.o");
        assert!(c.prepare.unwrap().ends_with("tinyconfig\nmake -C /usr/src/linux O=/tmp/b CC=gcc-12 prepare"));
    }

    #[test]
    fn a_config_file_is_shipped_in_a_here_document_and_only_named_in_the_record() {
        let config = KernelConfig::File { path: "my.config".into(), contents: "CONFIG_X=y".into(), sha256: "ab".into() };
        let shipped = commands(&build(CleanMode::MakeClean, config.clone()), false).prepare.unwrap();
        assert!(shipped.contains("cat > /tmp/b/.config <<'KBENCH_CONFIG_END'\nCONFIG_X=y\nKBENCH_CONFIG_END\nmake -C"), "{shipped}");
        assert!(shipped.ends_with("olddefconfig"));
        let recorded = commands(&build(CleanMode::MakeClean, config), true).prepare.unwrap();
        assert!(!recorded.contains("CONFIG_X") && recorded.contains("sha256 ab"), "{recorded}");
    }
}
