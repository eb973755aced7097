//! Mean with its 95 % interval per variant, one panel per metric: elapsed, user and sys,
//! and in a second figure the memory metrics the monitors measured.

use super::axes::{colour, draw_legend, font, from_zero, metric_chart, TITLE_SIZE};
use super::Figure;
use crate::report::study::kernbench::level_title;
use crate::stats::{LevelAnalysis, Metric};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

pub const PANELS: [Metric; 3] = [Metric::Elapsed, Metric::User, Metric::Sys];

/// What a hardening option costs besides time: slab memory, page-allocator work, faults
/// and the guest's kernel share.
pub const MEMORY_PANELS: [Metric; 4] = [Metric::SlabPeak, Metric::Pgalloc, Metric::MinorFaults, Metric::GuestSys];

pub struct MeansFigure<'a> {
    level: &'a LevelAnalysis,
    panels: Vec<Metric>,
}

impl<'a> MeansFigure<'a> {
    pub fn new(level: &'a LevelAnalysis) -> MeansFigure<'a> {
        MeansFigure { level, panels: PANELS.to_vec() }
    }

    /// The memory panels the study measured; `None` when it measured none of them.
    pub fn memory(level: &'a LevelAnalysis, measured: &[Metric]) -> Option<MeansFigure<'a>> {
        let panels: Vec<Metric> = MEMORY_PANELS.into_iter().filter(|m| measured.contains(m)).collect();
        (!panels.is_empty()).then_some(MeansFigure { level, panels })
    }
}

/// (variant index, mean, interval low, interval high); a single run has no interval. The
/// interval of a few runs can reach below 0, which no time or size can: it is cut at 0.
fn points(level: &LevelAnalysis, metric: Metric) -> Vec<(usize, f64, f64, f64)> {
    level
        .variants
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let s = v.metric(metric).summary.as_ref()?;
            let ci = s.ci95.unwrap_or(crate::stats::Interval { low: s.mean, high: s.mean });
            Some((i, s.mean, ci.low.max(0.0), ci.high))
        })
        .collect()
}

impl Figure for MeansFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (400 * self.panels.len().max(3) as u32, 480)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let title = format!("{}: mean with 95 % confidence interval", level_title(&self.level.jobs_label, self.level.jobs));
        let body = root.titled(&title, font(TITLE_SIZE))?;
        let names: Vec<String> = self.level.variants.iter().map(|v| v.variant.clone()).collect();
        for (panel, &metric) in body.split_evenly((1, self.panels.len())).iter().zip(&self.panels) {
            let points = points(self.level, metric);
            let y = from_zero(points.iter().flat_map(|p| [p.2, p.3]), 0.35);
            let mut chart = metric_chart(panel, metric, &names, y, 70, "variant")?;
            for &(i, mean, low, high) in &points {
                let style = colour(i).stroke_width(2);
                let bar = ErrorBar::new_vertical(i as f64, low, mean, high, style, 16);
                let marker = Circle::new((i as f64, mean), 5, colour(i).filled());
                let n = self.level.variants[i].ok_runs;
                chart.draw_series([bar])?;
                chart
                    .draw_series([marker])?
                    .label(format!("{} (n = {n})", names[i]))
                    .legend(move |(x, y)| Circle::new((x + 8, y), 5, colour(i).filled()));
            }
            draw_legend(&mut chart)?;
        }
        Ok(())
    }
}
