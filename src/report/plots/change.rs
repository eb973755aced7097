//! The change of every metric's mean against the baseline, in percent, with its 95 %
//! interval, and the noise threshold: a verdict is "slower"/"faster" only when the dot is
//! filled (p < alpha) and its whole bar is outside the dashed band.

use super::axes::{LIGHT_GRID, categories, category_name, colour, font, padded, LABEL_SIZE, TITLE_SIZE};
use super::Figure;
use crate::report::study::kernbench::level_title;
use crate::stats::{Analysis, LevelAnalysis, Metric};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

const THRESHOLD: RGBColor = RGBColor(120, 120, 120);

pub struct ChangeFigure<'a> {
    level: &'a LevelAnalysis,
    baseline: &'a str,
    noise_percent: f64,
    /// The metrics measured, one category each.
    metrics: &'a [Metric],
}

/// One marker: variant index, metric index, change, interval (if any), significant.
type Marker = (usize, usize, f64, Option<(f64, f64)>, bool);

impl<'a> ChangeFigure<'a> {
    /// `None` when nothing at this level can be compared (one variant only).
    pub fn new(level: &'a LevelAnalysis, analysis: &'a Analysis) -> Option<ChangeFigure<'a>> {
        let figure = ChangeFigure {
            level,
            baseline: &analysis.baseline,
            noise_percent: analysis.thresholds.noise_percent,
            metrics: &analysis.metrics,
        };
        (!figure.markers().is_empty()).then_some(figure)
    }

    fn markers(&self) -> Vec<Marker> {
        let mut markers = Vec::new();
        for (i, variant) in self.level.variants.iter().enumerate().skip(1) {
            for (j, metric) in self.metrics.iter().enumerate() {
                let Some(c) = &variant.metric(*metric).comparison else { continue };
                let Some(change) = c.change_percent else { continue };
                let interval = c.change_ci95.map(|ci| (ci.low, ci.high));
                markers.push((i, j, change, interval, c.verdict.is_change()));
            }
        }
        markers
    }

    /// x of variant `i`'s marker around metric `j`, so several variants sit side by side.
    fn x(&self, i: usize, j: usize) -> f64 {
        let others = (self.level.variants.len() - 1).max(1) as f64;
        j as f64 + 0.2 * ((i - 1) as f64 - (others - 1.0) / 2.0)
    }
}

fn short_name(metric: Metric) -> String {
    match metric {
        Metric::Elapsed => "elapsed",
        Metric::User => "user",
        Metric::Sys => "sys",
        Metric::PercentCpu => "% CPU",
        Metric::CtxSwitches => "ctx switches",
        Metric::Sleeps => "sleeps",
        Metric::MaxRss => "max RSS",
        Metric::MinorFaults => "minflt",
        Metric::MajorFaults => "majflt",
        Metric::SlabPeak => "slab peak",
        Metric::SlabEnd => "slab end",
        Metric::SUnreclaimPeak => "SUnrecl.",
        Metric::SReclaimablePeak => "SRecl.",
        Metric::Pgalloc => "pgalloc",
        Metric::Pgfree => "pgfree",
        Metric::Pgfault => "pgfault",
        Metric::GuestUser => "g. user",
        Metric::GuestSys => "g. sys",
        Metric::GuestSoftirq => "g. softirq",
        Metric::GuestSteal => "g. steal",
    }
    .to_string()
}

impl Figure for ChangeFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (1100.max(80 * self.metrics.len() as u32), 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let title = format!(
            "{}: change of the mean against {} (95 % interval)",
            level_title(&self.level.jobs_label, self.level.jobs),
            self.baseline
        );
        let markers = self.markers();
        let noise = self.noise_percent;
        let values = markers.iter().flat_map(|m| [Some(m.2), m.3.map(|i| i.0), m.3.map(|i| i.1)]).flatten();
        let y = padded(values.chain([-1.5 * noise, 1.5 * noise, 0.0]), 0.35);
        let names: Vec<String> = self.metrics.iter().copied().map(short_name).collect();
        let mut chart = ChartBuilder::on(root)
            .caption(title, font(TITLE_SIZE))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d(categories(names.len()), y)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(LIGHT_GRID)
            .x_label_formatter(&|x| category_name(&names, *x))
            .x_desc("metric")
            .y_desc("change of the mean (%)")
            .label_style(font(LABEL_SIZE))
            .axis_desc_style(font(LABEL_SIZE))
            .draw()?;
        let ends = [-0.5, self.metrics.len() as f64 - 0.5];
        chart.draw_series(LineSeries::new(ends.map(|x| (x, 0.0)), BLACK))?;
        for level in [noise, -noise] {
            let band = chart.draw_series(DashedLineSeries::new(ends.map(|x| (x, level)), 8, 6, THRESHOLD.stroke_width(2)))?;
            if level > 0.0 {
                band.label(format!("noise threshold ± {noise} %"))
                    .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], THRESHOLD.stroke_width(2)));
            }
        }
        self.draw_markers(&mut chart, &markers)?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(font(LABEL_SIZE))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    }
}

type Chart<'c, DB> = ChartContext<
    'c,
    DB,
    Cartesian2d<super::axes::Categories, plotters::coord::types::RangedCoordf64>,
>;

impl ChangeFigure<'_> {
    fn draw_markers<DB: DrawingBackend>(&self, chart: &mut Chart<'_, DB>, markers: &[Marker]) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        for i in 1..self.level.variants.len() {
            let mine: Vec<&Marker> = markers.iter().filter(|m| m.0 == i).collect();
            let style = colour(i).stroke_width(2);
            chart.draw_series(mine.iter().filter_map(|m| {
                m.3.map(|(low, high)| ErrorBar::new_vertical(self.x(i, m.1), low, m.2, high, style, 14))
            }))?;
            // Filled: p < alpha and the whole interval beyond the threshold (a verdict).
            let dots = chart.draw_series(mine.iter().map(|m| {
                let style = if m.4 { colour(i).filled() } else { WHITE.filled() };
                Circle::new((self.x(i, m.1), m.2), 6, style)
            }))?;
            dots.label(format!("{} (filled: significant change)", self.level.variants[i].variant))
                .legend(move |(x, y)| Circle::new((x + 8, y), 6, colour(i).filled()));
            chart.draw_series(mine.iter().map(|m| Circle::new((self.x(i, m.1), m.2), 6, style)))?;
        }
        Ok(())
    }
}
