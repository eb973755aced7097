//! The reports of a study spread over several lab hosts (`[[host]]`): each host's usual
//! reports in `hosts/<host>/` (its runs only: seconds of two machines are never pooled),
//! and at the top of the results folder the reports that put the hosts side by side:
//! kernbench.txt with a part per host, summary.csv with a `host` column plus one row per
//! change pooled across hosts, report.json, report.md and report.html with an "Across
//! hosts" summary and a section per host (its facts from meta.json, its tables). A host
//! that was unreachable or failed is listed with its error.

use super::document::Plot;
use super::facts::Facts;
use super::kernbench::kernbench_text;
use super::summary_csv::{metric_cells, HEADER};
use crate::model::{LabHostFacts, LabHostStatus, Meta, RunRecord};
use crate::report::format::{p_value, percent, percent_interval};
use crate::report::model::{code, text, verdict_tone, verdict_words, Block, Cell, Document, Headline, Inline, Section, Table};
use crate::results::folder::write_json;
use crate::stats::{HostsAnalysis, PooledMetric, MIN_HOSTS, MIN_RUNS};
use anyhow::{Context, Result};
use serde::Serialize;
use std::fmt::Write;
use std::path::Path;

/// `hosts/<name>/`, the name reduced to characters safe in a path.
pub fn host_folder(host: &str) -> String {
    let safe: String = host.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    let safe = if safe.starts_with('.') || safe.is_empty() { format!("_{safe}") } else { safe };
    format!("hosts/{safe}/")
}

/// meta.json as one host's reports see it: the machine and the accelerator are that lab
/// host's (meta.json's own `host` is the machine bench ran on, its `hypervisor` every
/// host's at once). What meta.json does not know of the lab host is said to be unknown.
pub fn meta_for_host(meta: &Meta, host: &str) -> Meta {
    let mut own = meta.clone();
    let Some(lab) = lab_of(&meta.hosts, host).filter(|l| l.cpus > 0) else { return own };
    own.host.cpu_model = format!("lab host {} ({}), CPU model not recorded", lab.name, lab.uri);
    own.host.cpus = lab.cpus as usize;
    own.host.memory_mib = lab.memory_mib;
    own.host.kernel = "not recorded for a lab host".into();
    let prefix = format!("{}: ", lab.name);
    own.hypervisor.version = meta
        .hypervisor
        .version
        .split("; ")
        .find_map(|part| part.strip_prefix(&prefix))
        .map_or_else(|| format!("libvirt {}", lab.libvirt_version), str::to_string);
    if !lab.accel.is_empty() {
        own.hypervisor.accel = lab.accel.clone();
    }
    own
}

/// The plots one host's reports drew, relative to its folder.
pub struct HostPlots<'a> {
    pub host: &'a str,
    pub plots: &'a [String],
}

/// kernbench.txt: per host, a header line and kernbench's blocks of its runs.
pub fn kernbench_hosts(records: &[RunRecord], hosts: &HostsAnalysis, lab: &[LabHostFacts]) -> String {
    let mut out = String::new();
    for h in &hosts.hosts {
        let runs: Vec<RunRecord> = records.iter().filter(|r| r.host == h.host).cloned().collect();
        let _ = writeln!(out, "=== host {}{} ===", h.host, lab_of(lab, &h.host).map(|l| format!(" ({})", l.uri)).unwrap_or_default());
        if runs.is_empty() {
            let _ = writeln!(out, "no runs{}\n", status_note(lab_of(lab, &h.host)));
            continue;
        }
        out.push_str(&kernbench_text(&runs));
    }
    out
}

/// summary.csv: `host` and `pooled_hosts` before the one-host columns; each host's rows,
/// then one row per change pooled across hosts (empty host, `pooled_hosts` the number of
/// hosts it counts, the change columns filled, the per-run statistics empty).
pub fn write_summary_csv_hosts(path: &Path, hosts: &HostsAnalysis) -> Result<()> {
    let context = || format!("cannot write {}", path.display());
    let mut writer = csv::Writer::from_path(path).with_context(context)?;
    let header: Vec<&str> = ["host", "pooled_hosts"].into_iter().chain(HEADER).collect();
    writer.write_record(&header).with_context(context)?;
    for h in &hosts.hosts {
        let Some(analysis) = &h.analysis else { continue };
        for level in &analysis.levels {
            for variant in &level.variants {
                for metric in &variant.metrics {
                    let mut row = vec![h.host.clone(), String::new(), level.jobs_label.clone(), level.jobs.to_string()];
                    row.extend(metric_cells(analysis, variant, metric));
                    writer.write_record(&row).with_context(context)?;
                }
            }
        }
    }
    for level in &hosts.pooled {
        for variant in &level.variants {
            for m in &variant.metrics {
                let mut row = vec![String::new(); header.len()];
                let mut set = |column: &str, value: String| {
                    if let Some(i) = header.iter().position(|h| *h == column) {
                        row[i] = value;
                    }
                };
                let p = &m.pooled;
                set("pooled_hosts", p.hosts.len().to_string());
                set("jobs_label", level.jobs_label.clone());
                set("variant", variant.variant.clone());
                set("metric", m.metric.name().to_string());
                set("unit", m.metric.unit().to_string());
                set("baseline", hosts.baseline.clone());
                set("change_percent", number(p.change_percent));
                set("change_ci95_low", number(p.change_ci95.map(|i| i.low)));
                set("change_ci95_high", number(p.change_ci95.map(|i| i.high)));
                set("p_value", number(p.p_value));
                set("verdict", verdict_words(m.metric, p.verdict).to_string());
                set("alpha", hosts.thresholds.alpha.to_string());
                set("noise_percent", hosts.thresholds.noise_percent.to_string());
                writer.write_record(&row).with_context(context)?;
            }
        }
    }
    writer.flush().with_context(context)
}

fn number(value: Option<f64>) -> String {
    value.filter(|v| v.is_finite()).map(|v| v.to_string()).unwrap_or_default()
}

#[derive(Serialize)]
struct HostsReportJson<'a> {
    schema_version: u32,
    kbench_version: &'static str,
    generated_at: String,
    facts: &'a Facts,
    /// The answer, as report.md opens with it.
    headline: &'a Headline,
    /// meta.json's lab hosts: where each is, what it is and how it fared.
    lab_hosts: &'a [LabHostFacts],
    warnings: &'a [String],
    /// Each host's analysis (as report.json's `analysis` on one host) and the pooled changes.
    hosts_analysis: &'a HostsAnalysis,
}

/// report.json of a study over several hosts. It has `hosts_analysis` where a one-host
/// report.json has `analysis`; each host's own report.json (in its folder) has the latter.
pub fn write_report_json_hosts(
    path: &Path,
    facts: &Facts,
    headline: &Headline,
    lab: &[LabHostFacts],
    hosts: &HostsAnalysis,
    warnings: &[String],
) -> Result<()> {
    let report = HostsReportJson {
        schema_version: super::json::REPORT_SCHEMA_VERSION,
        kbench_version: env!("CARGO_PKG_VERSION"),
        generated_at: crate::model::now(),
        facts,
        headline,
        lab_hosts: lab,
        warnings,
        hosts_analysis: hosts,
    };
    write_json(path, &report)
}

fn lab_of<'a>(lab: &'a [LabHostFacts], host: &str) -> Option<&'a LabHostFacts> {
    lab.iter().find(|l| l.name == host)
}

fn status_word(status: LabHostStatus) -> &'static str {
    match status {
        LabHostStatus::Running => "running (unfinished)",
        LabHostStatus::Done => "done",
        LabHostStatus::Unreachable => "unreachable",
        LabHostStatus::Failed => "failed",
    }
}

fn status_note(lab: Option<&LabHostFacts>) -> String {
    match lab {
        Some(l) if !l.error.is_empty() => format!(": {}: {}", status_word(l.status), l.error),
        Some(l) => format!(": {}", status_word(l.status)),
        None => String::new(),
    }
}

/// "How the pooled change is made", for both documents.
fn pooled_rule(hosts: &HostsAnalysis) -> String {
    let t = &hosts.thresholds;
    format!(
        "Each host runs the whole study; its statistics and verdicts use its own runs only. Across hosts, \
each host's change is the ratio of its two means, and the pooled change is their geometric mean \
(the mean of the log ratios) with Student's t interval over the hosts (hosts − 1 degrees of freedom). \
Its verdict has the same rule as every other: p < {} and the whole 95 % interval beyond ± {} %. \
Fewer than {MIN_HOSTS} hosts with at least {MIN_RUNS} successful runs of both variants: *too few hosts*. \
With 2 hosts the interval rests on one degree of freedom (t = 12.7): wide unless they agree closely.",
        t.alpha, t.noise_percent
    )
}

/// report.md and report.html of several hosts, built once: the headline (the changes
/// pooled across hosts), how the pooling works, the warnings, the hosts, the changes
/// across hosts, then a section per host with its facts and tables (its full report, with
/// plots and every statistic, is in its folder).
pub fn document(hosts: &HostsAnalysis, facts: &Facts, lab: &[LabHostFacts], warnings: &[String], plots: &[HostPlots]) -> Document {
    let name = facts.scenario.as_deref().unwrap_or("results");
    let mut intro = Section::new("", "");
    intro.push(Block::Para(vec![text("Baseline: "), code(&hosts.baseline), text(format!(". {}", pooled_rule(hosts)))]));
    let mut sections = vec![intro, super::document::warnings_section(warnings), hosts_section(hosts, lab), across_hosts(hosts)];
    for h in &hosts.hosts {
        let mut section = Section::new("", format!("Host {}", h.host));
        if let Some(l) = lab_of(lab, &h.host) {
            let known = |value: String, shown: String| if value.is_empty() || value == "0" { None } else { Some(shown) };
            let parts: Vec<String> = [
                known(l.uri.clone(), l.uri.clone()),
                known(l.accel.clone(), format!("{} accel", l.accel)),
                known(l.cpus.to_string(), format!("{} CPUs", l.cpus)),
                known(l.memory_mib.to_string(), format!("{} MiB", l.memory_mib)),
                known(l.libvirt_version.clone(), format!("libvirt {}", l.libvirt_version)),
            ]
            .into_iter()
            .flatten()
            .collect();
            section.push(Block::Para(vec![text(format!("{}; {}.", parts.join(", "), status_note(Some(l)).trim_start_matches(": ")))]));
        }
        let Some(analysis) = &h.analysis else {
            section.push(Block::Para(vec![text(format!("No analysis: {}.", h.problem.as_deref().unwrap_or("no runs")))]));
            sections.push(section);
            continue;
        };
        let folder = host_folder(&h.host);
        section.push(Block::Para(vec![
            text("Its full report, with plots and every statistic: "),
            Inline::Link { text: format!("{folder}report.md"), href: format!("{folder}report.md") },
            text(" ("),
            Inline::Link { text: "page".into(), href: format!("{folder}report.html") },
            text(")."),
        ]));
        let host_plots: Vec<Plot> = plots
            .iter()
            .find(|p| p.host == h.host)
            .map_or(&[][..], |p| p.plots)
            .iter()
            .filter(|p| p.ends_with(".png"))
            .map(|p| Plot { path: p.clone(), svg: None })
            .collect();
        for level in &analysis.levels {
            section.push(Block::Section(super::document::level_section(analysis, level, &host_plots, &folder)));
        }
        sections.push(section);
    }
    if let Some(metrics) = hosts.hosts.iter().find_map(|h| h.analysis.as_ref()).map(|a| &a.metrics) {
        sections.push(super::document::metrics_section(metrics));
    }
    Document {
        title: format!("kbench report: {name} ({} hosts)", hosts.hosts.len()),
        headline: crate::report::headline::hosts(hosts),
        contents: false,
        sections,
    }
}

fn hosts_section(hosts: &HostsAnalysis, lab: &[LabHostFacts]) -> Section {
    let mut section = Section::new("hosts", "Hosts");
    let mut table = Table::new("", &["host", "URI", "status", "accel", "#CPUs", "#memory (MiB)", "libvirt", "#runs ok / failed", "report"]);
    for h in &hosts.hosts {
        let l = lab_of(lab, &h.host);
        let (ok, failed) = h.analysis.as_ref().map_or((0, 0), |a| {
            a.levels.iter().flat_map(|level| &level.variants).fold((0, 0), |(ok, failed), v| (ok + v.ok_runs, failed + v.failed_runs))
        });
        let status = match l {
            Some(l) if !l.error.is_empty() => format!("{}: {}", status_word(l.status), l.error),
            Some(l) => status_word(l.status).to_string(),
            None if lab.is_empty() => "unknown (no hosts in meta.json)".into(),
            None => "not in meta.json".into(),
        };
        let link = if h.analysis.is_some() {
            Cell::Link { text: "report".into(), href: format!("{}report.html", host_folder(&h.host)) }
        } else {
            Cell::text("none")
        };
        table.push(vec![
            Cell::text(&h.host),
            Cell::text(l.map_or("", |l| l.uri.as_str())),
            Cell::Text(status),
            Cell::text(l.map_or("", |l| l.accel.as_str())),
            Cell::Num(l.map_or(String::new(), |l| l.cpus.to_string())),
            Cell::Num(l.map_or(String::new(), |l| l.memory_mib.to_string())),
            Cell::text(l.map_or("", |l| l.libvirt_version.as_str())),
            Cell::Num(format!("{ok} / {failed}")),
            link,
        ]);
    }
    section.push(Block::Table(table));
    section
}

fn across_hosts(hosts: &HostsAnalysis) -> Section {
    let mut section = Section::new("across-hosts", "Across hosts");
    if hosts.pooled.iter().all(|l| l.variants.is_empty()) {
        section.push(Block::Para(vec![text("Only the baseline ran: nothing to compare.")]));
        return section;
    }
    for level in &hosts.pooled {
        let mut sub = Section::new("", level.jobs_label.clone());
        let mut table =
            Table::new("", &["variant", "metric", "#hosts", "#change", "#95 % interval", "#p", "verdict", "per host", "left out"]);
        for variant in &level.variants {
            for m in &variant.metrics {
                let (per_host, left_out) = host_cells(m);
                table.push(vec![
                    Cell::text(&variant.variant),
                    Cell::text(m.metric.title()),
                    Cell::Num(m.pooled.hosts.len().to_string()),
                    Cell::Num(m.pooled.change_percent.map(percent).unwrap_or_else(|| "n/a".into())),
                    Cell::Num(percent_interval(m.pooled.change_ci95)),
                    Cell::Num(p_value(m.pooled.p_value)),
                    Cell::Verdict {
                        words: verdict_words(m.metric, m.pooled.verdict).into(),
                        tone: verdict_tone(m.metric, m.pooled.verdict),
                        star: false,
                    },
                    Cell::Text(per_host),
                    Cell::Text(left_out),
                ]);
            }
        }
        sub.push(Block::Table(table));
        section.push(Block::Section(sub));
    }
    section
}

/// "a +10.0 %, b +11.2 %" and "c: 2 vs 2 successful runs; …".
fn host_cells(m: &PooledMetric) -> (String, String) {
    let per_host: Vec<String> = m.pooled.hosts.iter().map(|h| format!("{} {}", h.host, percent(100.0 * h.log_ratio.exp_m1()))).collect();
    let left_out: Vec<String> = m.pooled.left_out.iter().map(|l| format!("{}: {}", l.host, l.reason)).collect();
    (per_host.join(", "), if left_out.is_empty() { "none".into() } else { left_out.join("; ") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_record;
    use crate::report::markup::{to_html, to_markdown};
    use crate::stats::{analyze_hosts, Thresholds};

    fn records() -> Vec<RunRecord> {
        let mut rows = Vec::new();
        for (host, factor) in [("lab1", 1.0), ("lab2", 0.5)] {
            for (run, (off, poison)) in [(40.0, 44.0), (40.5, 44.5), (39.5, 43.5)].into_iter().enumerate() {
                let run = run as u32 + 1;
                rows.push(RunRecord { host: host.into(), variant: "off".into(), run, elapsed_s: off * factor, ..test_record() });
                rows.push(RunRecord { host: host.into(), variant: "poison".into(), run, elapsed_s: poison * factor, ..test_record() });
            }
        }
        rows
    }

    fn lab() -> Vec<LabHostFacts> {
        let host = |name: &str, status, error: &str| LabHostFacts {
            name: name.into(),
            uri: format!("qemu+ssh://root@{name}/system"),
            status,
            error: error.into(),
            libvirt_version: "9.0.0".into(),
            accel: "kvm".into(),
            cpus: 8,
            memory_mib: 16384,
        };
        vec![
            host("lab1", LabHostStatus::Done, ""),
            host("lab2", LabHostStatus::Done, ""),
            host("lab3", LabHostStatus::Unreachable, "Connection refused"),
        ]
    }

    #[test]
    fn a_hosts_reports_see_its_machine_and_accelerator() {
        let mut meta: Meta = serde_json::from_value(serde_json::json!({
            "schema_version": 1, "kbench_version": "0.1.0", "scenario": "lab", "started_at": "t", "finished_at": null,
            "host": { "cpu_model": "Controller", "cpus": 2, "memory_mib": 4096, "kernel": "6.1.0" },
            "hypervisor": { "backend": "libvirt", "version": "lab1: QEMU 7.2.0; lab2: QEMU 8.2.0", "accel": "kvm+tcg" },
            "guest": { "cpus": 2, "memory_mib": 1024, "disk": null },
            "workload": { "kind": "command", "command": "make", "prepare": null, "clean": null },
            "runs": 3, "warmup": 0, "levels": [], "baseline": "off", "variants": []
        }))
        .unwrap();
        meta.hosts = lab();
        meta.hosts[1].accel = "tcg".into();
        meta.hosts[2].cpus = 0; // unreachable: nothing measured of it, as the runner records it
        let own = meta_for_host(&meta, "lab2");
        assert_eq!((own.host.cpus, own.host.memory_mib), (8, 16384));
        assert!(own.host.cpu_model.starts_with("lab host lab2 (qemu+ssh://root@lab2/system)"), "{}", own.host.cpu_model);
        assert_eq!((own.hypervisor.version.as_str(), own.hypervisor.accel.as_str()), ("QEMU 8.2.0", "tcg"));
        let unreachable = meta_for_host(&meta, "lab3");
        assert_eq!(unreachable.host.cpu_model, "Controller", "nothing known of it: meta.json as it is");
    }

    #[test]
    fn host_folders_are_safe_paths() {
        assert_eq!(host_folder("lab1"), "hosts/lab1/");
        assert_eq!(host_folder("../etc"), "hosts/_.._etc/");
        assert_eq!(host_folder("a b/c"), "hosts/a_b_c/");
        assert_eq!(host_folder(""), "hosts/_/");
    }

    #[test]
    fn the_markdown_has_the_hosts_the_pooled_change_and_a_section_per_host() {
        let names: Vec<String> = lab().iter().map(|l| l.name.clone()).collect();
        let hosts = analyze_hosts(&records(), &names, None, &Thresholds::default()).unwrap();
        let md = to_markdown(&document(&hosts, &Facts::default(), &lab(), &[], &[]));
        assert!(md.starts_with("# kbench report: results (3 hosts)"), "{md}");
        assert!(md.contains("\n- poison vs off across hosts: **elapsed +10.0 % [+10.0, +10.0] slower at half (2 of 3 hosts)**\n- trust: **2 of 3 hosts have runs to report**\n"), "{md}");
        assert!(md.contains("| lab3 | qemu+ssh://root@lab3/system | unreachable: Connection refused |"), "{md}");
        // Both hosts see exactly +10 %: the pooled change is +10 % with no spread.
        assert!(md.contains("| poison | Elapsed Time | 2 | +10.0 % | [+10.0 %, +10.0 %] |"), "{md}");
        assert!(md.contains("lab1 +10.0 %, lab2 +10.0 % | lab3: no successful run on a side |"), "{md}");
        assert!(md.contains("## Host lab2\n") && md.contains("### Half load -j 1"), "{md}");
        assert!(md.contains("## Host lab3\n") && md.contains("No analysis: no runs on record."), "{md}");
        let html = to_html(&document(&hosts, &Facts::default(), &lab(), &["a <warning>".into()], &[]));
        assert!(html.contains("a &lt;warning&gt;") && html.contains("<a href=\"hosts/lab1/report.html\">"), "{html}");
        assert!(html.contains("<h2>Host lab2</h2>") && html.matches("<table class=\"comparison\">").count() == 2, "{html}");
        let text = kernbench_hosts(&records(), &hosts, &lab());
        assert!(text.starts_with("=== host lab1 (qemu+ssh://root@lab1/system) ===\noff ("), "{text}");
        assert!(text.contains("=== host lab3 (qemu+ssh://root@lab3/system) ===\nno runs: unreachable: Connection refused"), "{text}");
    }
}
