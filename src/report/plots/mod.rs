//! plots/: per jobs level, the same figures as PNG (to look at) and SVG (to zoom and
//! search). Text is drawn with an embedded font, so a bare CI machine renders it too.

mod axes;
mod change;
mod means;
mod runs;
mod trend;

use crate::history::History;
use crate::stats::{Analysis, LevelAnalysis};
use anyhow::{anyhow, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

/// DejaVu Sans 2.37 from Debian's fonts-dejavu-core; licence in assets/fonts/LICENSE.
const FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
/// The only family the figures use; plotters' default family has this name too.
const FAMILY: &str = "sans-serif";

/// A figure that can be drawn on any plotters backend (bitmap and SVG).
trait Figure {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static;
}

/// Writes every figure of every level; returns their paths relative to `results`.
pub fn write_plots(results: &Path, analysis: &Analysis) -> Result<Vec<String>> {
    register_font()?;
    let dir = results.join("plots");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    for level in &analysis.levels {
        let stem = level_stem(level);
        written.extend(render(results, &format!("{stem}-means"), &means::MeansFigure::new(level))?);
        written.extend(render(results, &format!("{stem}-runs"), &runs::RunsFigure::new(level))?);
        if let Some(figure) = means::MeansFigure::memory(level, &analysis.metrics) {
            written.extend(render(results, &format!("{stem}-memory"), &figure)?);
        }
        if let Some(figure) = change::ChangeFigure::new(level, analysis) {
            written.extend(render(results, &format!("{stem}-change"), &figure)?);
        }
    }
    Ok(written)
}

/// `bench history --plot FILE`: the trend figure, as PNG or SVG by FILE's extension.
pub fn write_trend_plot(path: &Path, history: &History) -> Result<()> {
    register_font()?;
    let figure = trend::TrendFigure::new(history);
    let size = figure.size();
    let failed = || format!("cannot draw {}", path.display());
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("svg") => {
            let root = SVGBackend::new(path, size).into_drawing_area();
            figure.draw(&root).with_context(failed)?;
            root.present().with_context(failed)?;
        }
        Some("png") => {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            figure.draw(&root).with_context(failed)?;
            root.present().with_context(failed)?;
        }
        _ => anyhow::bail!("--plot {}: name the file .svg or .png, the format follows the extension", path.display()),
    }
    Ok(())
}

/// The trend figure as SVG text, for a page to carry inline.
pub fn trend_svg(history: &History) -> Result<String> {
    register_font()?;
    let figure = trend::TrendFigure::new(history);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, figure.size()).into_drawing_area();
        figure.draw(&root).context("cannot draw the trend")?;
        root.present().context("cannot draw the trend")?;
    }
    Ok(svg)
}

/// "half-j2": file names from the level, safe whatever a scenario called it.
pub fn level_stem(level: &LevelAnalysis) -> String {
    let label: String = level.jobs_label.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    format!("{label}-j{}", level.jobs)
}

fn render(results: &Path, stem: &str, figure: &impl Figure) -> Result<[String; 2]> {
    let (png, svg) = (format!("plots/{stem}.png"), format!("plots/{stem}.svg"));
    let size = figure.size();
    let failed = |file: &str| format!("cannot draw {}", results.join(file).display());
    let (png_path, svg_path) = (results.join(&png), results.join(&svg));
    {
        let root = BitMapBackend::new(&png_path, size).into_drawing_area();
        figure.draw(&root).with_context(|| failed(&png))?;
        root.present().with_context(|| failed(&png))?;
    }
    {
        let root = SVGBackend::new(&svg_path, size).into_drawing_area();
        figure.draw(&root).with_context(|| failed(&svg))?;
        root.present().with_context(|| failed(&svg))?;
    }
    Ok([png, svg])
}

fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    if *REGISTERED.get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok()) {
        Ok(())
    } else {
        Err(anyhow!("the embedded plot font could not be loaded (this is a kbench bug)"))
    }
}
