//! Every successful run as a point, per variant, for elapsed, user and sys: what a
//! mean ± SD line hides (one slow run) is visible here. Outliers are red crosses; runs
//! measured on a noisy host are ringed in black, a colour no variant has.

use super::axes::{colour, draw_legend, font, from_zero, metric_chart, LABEL_SIZE, TITLE_SIZE};
use super::means::PANELS;
use super::Figure;
use crate::report::study::kernbench::level_title;
use crate::stats::{LevelAnalysis, Metric};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Runs of one variant spread over this much of the category's width, in run order.
const SPREAD: f64 = 0.5;
const OUTLIER: RGBColor = RGBColor(214, 39, 40);
const NOISY: RGBColor = BLACK;

pub struct RunsFigure<'a> {
    level: &'a LevelAnalysis,
}

impl<'a> RunsFigure<'a> {
    pub fn new(level: &'a LevelAnalysis) -> RunsFigure<'a> {
        RunsFigure { level }
    }
}

/// x of the `k`-th of `n` runs around category `i`: left to right in run order.
fn spread(i: usize, k: usize, n: usize) -> f64 {
    if n < 2 {
        return i as f64;
    }
    i as f64 - SPREAD / 2.0 + SPREAD * k as f64 / (n - 1) as f64
}

impl Figure for RunsFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (1200, 480)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let title = format!("{}: every run (left to right in run order)", level_title(&self.level.jobs_label, self.level.jobs));
        let body = root.titled(&title, font(TITLE_SIZE))?;
        for (panel, metric) in body.split_evenly((1, PANELS.len())).iter().zip(PANELS) {
            self.draw_panel(panel, metric)?;
        }
        Ok(())
    }
}

impl RunsFigure<'_> {
    fn draw_panel<DB: DrawingBackend>(&self, panel: &DrawingArea<DB, Shift>, metric: Metric) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let names: Vec<String> = self.level.variants.iter().map(|v| v.variant.clone()).collect();
        let all = self.level.variants.iter().flat_map(|v| v.metric(metric).runs.iter().map(|r| r.1));
        let mut chart = metric_chart(panel, metric, &names, from_zero(all, 0.35), 70, "variant")?;
        let (mut run_legend, mut outlier_legend, mut noisy_legend) = (false, false, false);
        for (i, variant) in self.level.variants.iter().enumerate() {
            let m = variant.metric(metric);
            let n = m.runs.len();
            let (outliers, ordinary): (Vec<_>, Vec<_>) = m
                .runs
                .iter()
                .enumerate()
                .map(|(k, &(run, value))| (run, spread(i, k, n), value))
                .partition(|(run, ..)| m.outlier_runs.contains(run));
            let dots = chart.draw_series(ordinary.iter().map(|&(_, x, y)| Circle::new((x, y), 4, colour(i).filled())))?;
            if !run_legend && !ordinary.is_empty() {
                run_legend = true;
                dots.label("one run").legend(|(x, y)| Circle::new((x + 8, y), 4, BLACK.filled()));
            }
            let crosses = chart.draw_series(outliers.iter().map(|&(_, x, y)| Cross::new((x, y), 7, OUTLIER.stroke_width(3))))?;
            if !outlier_legend && !outliers.is_empty() {
                outlier_legend = true;
                crosses.label("outlier (modified Z > 10)").legend(|(x, y)| Cross::new((x + 8, y), 6, OUTLIER.stroke_width(3)));
            }
            let noisy: Vec<(f64, f64)> = ordinary
                .iter()
                .chain(&outliers)
                .filter(|(run, ..)| variant.noisy_runs.iter().any(|n| n.run == *run))
                .map(|&(_, x, y)| (x, y))
                .collect();
            let rings = chart.draw_series(noisy.iter().map(|&(x, y)| Circle::new((x, y), 9, NOISY.stroke_width(2))))?;
            if !noisy_legend && !noisy.is_empty() {
                noisy_legend = true;
                rings.label("noisy host").legend(|(x, y)| Circle::new((x + 8, y), 7, NOISY.stroke_width(2)));
            }
            chart.draw_series(outliers.iter().map(|&(run, x, y)| {
                Text::new(format!("run {run}"), (x + 0.04, y), font(LABEL_SIZE).pos(Pos::new(HPos::Left, VPos::Center)))
            }))?;
            if let Some(s) = &m.summary {
                let mean = [(i as f64 - SPREAD / 2.0 - 0.08, s.mean), (i as f64 + SPREAD / 2.0 + 0.08, s.mean)];
                let line = chart.draw_series(LineSeries::new(mean, BLACK.stroke_width(2)))?;
                if i == 0 {
                    line.label("mean").legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.stroke_width(2)));
                }
            }
        }
        draw_legend(&mut chart)?;
        Ok(())
    }
}
