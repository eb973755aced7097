//! `bench history --plot`: per metric a panel, per variant and jobs level a line through
//! the means of the measurements (oldest left), with the 95 % interval of each mean.

use super::axes::{colour, draw_legend, font, from_zero, metric_chart, TITLE_SIZE};
use super::Figure;
use crate::history::{History, Series};
use crate::stats::Metric;
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

pub struct TrendFigure<'a> {
    history: &'a History,
}

impl<'a> TrendFigure<'a> {
    pub fn new(history: &'a History) -> TrendFigure<'a> {
        TrendFigure { history }
    }
}

/// (measurement index, mean, interval low, interval high) where the row has runs; the
/// interval cut at 0, below which no metric can be.
fn points(series: &Series) -> Vec<(usize, f64, f64, f64)> {
    series
        .points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let s = p.summary.as_ref()?;
            let ci = s.ci95.unwrap_or(crate::stats::Interval { low: s.mean, high: s.mean });
            Some((i, s.mean, ci.low.max(0.0), ci.high))
        })
        .collect()
}

/// The x labels: each measurement's kernel, with its number when two share a kernel.
fn labels(history: &History) -> Vec<String> {
    history
        .measurements
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let kernel = m.kernels.first().cloned().unwrap_or_default();
            format!("{} {kernel}", i + 1)
        })
        .collect()
}

impl Figure for TrendFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (1200, 120 + 380 * self.history.metrics.len() as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let body = root.titled("kbench history: mean with 95 % confidence interval per measurement", font(TITLE_SIZE))?;
        let names = labels(self.history);
        let metrics: &[Metric] = &self.history.metrics;
        for (panel, &metric) in body.split_evenly((metrics.len(), 1)).iter().zip(metrics) {
            let series: Vec<&Series> = self.history.series.iter().filter(|s| s.metric == metric).collect();
            let all: Vec<Vec<(usize, f64, f64, f64)>> = series.iter().map(|s| points(s)).collect();
            let y = from_zero(all.iter().flatten().flat_map(|p| [p.2, p.3]), 0.1 * series.len() as f64 + 0.2);
            let mut chart = metric_chart(panel, metric, &names, y, 80, "measurement and guest kernel, oldest first")?;
            for (index, (s, points)) in series.iter().zip(&all).enumerate() {
                let style = colour(index).stroke_width(2);
                let line = points.iter().map(|&(i, mean, _, _)| (i as f64, mean));
                chart
                    .draw_series(LineSeries::new(line, style))?
                    .label(format!("{}{} {} -j {}", crate::history::host_prefix(&s.host), s.variant, s.jobs_label, s.jobs))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour(index).stroke_width(2)));
                chart
                    .draw_series(points.iter().map(|&(i, mean, low, high)| ErrorBar::new_vertical(i as f64, low, mean, high, style, 12)))?;
                chart.draw_series(points.iter().map(|&(i, mean, _, _)| Circle::new((i as f64, mean), 4, colour(index).filled())))?;
            }
            draw_legend(&mut chart)?;
        }
        Ok(())
    }
}
