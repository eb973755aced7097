//! The results folder of one study: `<root>/<scenario>/<timestamp>/` with a copy of the
//! scenario, meta.json, runs.csv, the consoles and kernel logs of every boot and each
//! step's output.

use super::meta::Meta;
use super::runs_csv::{RunRecord, RunsWriter};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

pub struct ResultsDir {
    pub path: PathBuf,
    runs: RunsWriter,
}

impl ResultsDir {
    pub fn create(root: &Path, scenario_name: &str, scenario_file: &Path) -> Result<ResultsDir> {
        let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string();
        let parent = root.join(scenario_name);
        let mut path = parent.join(&stamp);
        let mut n = 2;
        while path.exists() {
            path = parent.join(format!("{stamp}-{n}"));
            n += 1;
        }
        for dir in [path.clone(), path.join("console"), path.join("logs")] {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create the results folder {} (use --results DIR to put it elsewhere)", dir.display()))?;
        }
        std::fs::copy(scenario_file, path.join("scenario.toml"))
            .with_context(|| format!("cannot copy {} into {}", scenario_file.display(), path.display()))?;
        let runs = RunsWriter::open(&path.join("runs.csv"))?;
        Ok(ResultsDir { path, runs })
    }

    /// Reopens the folder of an interrupted study; new rows are appended to its runs.csv.
    pub fn reopen(path: &Path) -> Result<ResultsDir> {
        for needed in ["runs.csv", "meta.json", "scenario.toml"] {
            if !path.join(needed).is_file() {
                anyhow::bail!("{} has no {needed}: it is not a kbench results folder", path.display());
            }
        }
        std::fs::create_dir_all(path.join("console")).with_context(|| format!("cannot write into {}", path.display()))?;
        std::fs::create_dir_all(path.join("logs")).with_context(|| format!("cannot write into {}", path.display()))?;
        let runs = RunsWriter::open(&path.join("runs.csv"))?;
        Ok(ResultsDir { path: path.to_path_buf(), runs })
    }

    /// The console log of the variant's next boot, numbered after those already saved
    /// (a resumed study keeps the consoles of the first attempt).
    pub fn next_console_log(&self, variant: &str) -> (u32, PathBuf) {
        (1..)
            .map(|boot| (boot, self.path.join("console").join(format!("{variant}-boot{boot}.log"))))
            .find(|(_, path)| !path.exists())
            .expect("some boot number is free")
    }

    /// Appends to the kernel log of one boot, `kmsg/<console log's name>`: what the guest's
    /// kernel logged at every level, as the agent read it from /dev/kmsg.
    pub fn append_kernel_log(&self, console_log: &Path, text: &str) -> Result<()> {
        let dir = self.path.join("kmsg");
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(console_log.file_name().unwrap_or_default());
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        std::io::Write::write_all(&mut file, text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
    }

    /// Saves a step's output tail; returns the path relative to the results folder.
    pub fn save_output(&self, name: &str, output: &str) -> Result<String> {
        let relative = format!("logs/{name}.log");
        let path = self.path.join(&relative);
        std::fs::write(&path, output).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(relative)
    }

    pub fn append_run(&mut self, record: &RunRecord) -> Result<()> {
        self.runs.append(record)
    }

    pub fn write_meta(&self, meta: &Meta) -> Result<()> {
        write_json(&self.path.join("meta.json"), meta)
    }
}

pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("cannot encode JSON")?;
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, text + "\n").with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_boots_kernel_log_is_appended_next_to_its_console_log() {
        let dir = tempfile::tempdir().unwrap();
        let scenario = dir.path().join("s.toml");
        std::fs::write(&scenario, "name = \"s\"\n").unwrap();
        let results = ResultsDir::create(dir.path(), "s", &scenario).unwrap();
        let (_, console) = results.next_console_log("poison");
        results.append_kernel_log(&console, "<5>[    0.000000] Linux version\n").unwrap();
        results.append_kernel_log(&console, "<3>[   12.345678] BUG kmalloc-64 (Not tainted): Poison overwritten\n").unwrap();
        let text = std::fs::read_to_string(results.path.join("kmsg/poison-boot1.log")).unwrap();
        assert_eq!(text, "<5>[    0.000000] Linux version\n<3>[   12.345678] BUG kmalloc-64 (Not tainted): Poison overwritten\n");
    }
}
