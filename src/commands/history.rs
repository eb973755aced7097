//! `bench history RESULTS...`: read the results folders → order them → the history →
//! render, plot → exit code for CI (0 the last step is the same or better, 1 it regressed,
//! 3 a gated metric of it cannot tell, 2 unusable input via `main`; [`super::gate_exit`]).

use super::compare::metrics;
use super::gate_exit;
use crate::commands::cli::{HistoryArgs, HistoryFormat};
use crate::history::{self, History};
use crate::report::history::html as history_html;
use crate::report::history::{outcome_line, to_csv, to_json, to_markdown, to_text};
use crate::report::plots::{trend_svg, write_trend_plot};
use crate::results::history::{find_results_folders, read_measurements};
use anyhow::{bail, Context, Result};

pub fn history(args: &HistoryArgs) -> Result<u8> {
    let thresholds = args.judge.thresholds();
    let measurements = match args.results.as_slice() {
        [root] if root.is_dir() && !root.join("runs.csv").is_file() => {
            let found = find_results_folders(root)?;
            if found.len() < 2 {
                bail!("{} holds {} results folder(s) (folders with a runs.csv): a history needs at least two", root.display(), found.len());
            }
            let mut measurements = read_measurements(&found)?;
            history::sort_by_start(&mut measurements);
            measurements
        }
        paths => read_measurements(paths)?,
    };
    let history = history::build(&measurements, &metrics(&args.judge.metric), &thresholds)?;
    for warning in &history.warnings {
        eprintln!("warning: {warning}");
    }
    if let Some(plot) = &args.plot {
        write_trend_plot(plot, &history)?;
    }
    if let Some(page) = &args.html {
        let html = history_html::render(&history, &trend_svg(&history)?);
        std::fs::write(page, html).with_context(|| format!("cannot write {}", page.display()))?;
    }
    let rendered = render(&history, args.format)?;
    match &args.output {
        None => print!("{rendered}"),
        Some(path) => {
            std::fs::write(path, rendered).with_context(|| format!("cannot write {}", path.display()))?;
            println!("{}", outcome_line(&history));
        }
    }
    Ok(gate_exit(history.last_step_regressions.len(), history.last_step_inconclusive.len(), args.judge.inconclusive))
}

fn render(history: &History, format: HistoryFormat) -> Result<String> {
    Ok(match format {
        HistoryFormat::Text => to_text(history),
        HistoryFormat::Markdown => to_markdown(history),
        HistoryFormat::Json => to_json(history)?,
        HistoryFormat::Csv => to_csv(history)?,
    })
}
