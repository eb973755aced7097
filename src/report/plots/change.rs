//! The change of every metric's mean against the baseline, in percent, with its 95 %
//! interval, and the noise threshold: a verdict is "slower"/"faster" only when the dot is
//! filled (p < alpha) and its whole bar is outside the dashed band.
//!
//! One wild metric (a count that went from 1 to 35, +3400 %) must not flatten the other
//! nineteen onto the zero line: the axis ends where the ordinary values end, and a bar
//! beyond it stops at the edge with a triangle and its value written beside.

use super::axes::{categories, category_name, colour, draw_legend, font, padded, LABEL_SIZE, LIGHT_GRID, TITLE_SIZE};
use super::Figure;
use crate::report::study::kernbench::level_title;
use crate::stats::{Analysis, LevelAnalysis, Metric};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

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

/// Above this factor of the next-largest ordinary value, a value is an outlier of the
/// figure (Tukey's "far out" fence: third quartile + 3 × the interquartile range).
const FAR_OUT: f64 = 3.0;

/// The change axis: the values it shows, and where it cuts the others.
#[derive(Debug, Clone, PartialEq)]
struct ChangeAxis {
    /// From the lowest to the highest value shown (unpadded), 0 and ± 1.5 × the noise
    /// threshold included.
    low: f64,
    high: f64,
    /// Values beyond ± this are drawn at the edge and written out; infinite when the axis
    /// holds every value.
    limit: f64,
}

impl ChangeAxis {
    /// `values`: every change and interval end. The axis holds every value unless some lie
    /// far out of the others (beyond the fence of their magnitudes) and more than three
    /// times as far from 0 as the largest ordinary one: those are cut, and the axis goes
    /// to ± the largest ordinary value (at least 3 × the noise threshold).
    fn new(values: &[f64], noise: f64) -> ChangeAxis {
        let values: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let mut magnitudes: Vec<f64> = values.iter().map(|v| v.abs()).collect();
        magnitudes.sort_by(f64::total_cmp);
        let largest = magnitudes.last().copied().unwrap_or(0.0);
        let fence = quantile(&magnitudes, 0.75) + FAR_OUT * (quantile(&magnitudes, 0.75) - quantile(&magnitudes, 0.25));
        let ordinary = magnitudes.iter().copied().filter(|m| *m <= fence).fold(0.0_f64, f64::max).max(3.0 * noise);
        let limit = if largest > 3.0 * ordinary { ordinary } else { f64::INFINITY };
        let shown = values.iter().map(|v| v.clamp(-limit, limit));
        let (low, high) =
            shown.chain([-1.5 * noise, 1.5 * noise, 0.0]).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        ChangeAxis { low, high, limit }
    }

    fn cut(&self, value: f64) -> bool {
        value.abs() > self.limit
    }

    fn clamp(&self, value: f64) -> f64 {
        value.clamp(-self.limit, self.limit)
    }

    /// What to write at the lower and the upper edge for one marker: the change when it is
    /// cut, else the interval's end that is.
    fn beyond(&self, change: f64, interval: Option<(f64, f64)>) -> (Option<f64>, Option<f64>) {
        let (low, high) = interval.unwrap_or((change, change));
        let side = |end: f64, below: bool| {
            let on_side = |v: f64| self.cut(v) && (v < 0.0) == below;
            if on_side(change) {
                Some(change)
            } else {
                on_side(end).then_some(end)
            }
        };
        (side(low, true), side(high, false))
    }
}

/// "+3423 %": a value written beside the axis's edge; whole percent, as it is far out.
fn cut_label(value: f64) -> String {
    format!("{value:+.0} %")
}

/// The `q` quantile of `sorted` by linear interpolation; 0 when empty.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n => {
            let at = q * (n - 1) as f64;
            let (below, above) = (sorted[at.floor() as usize], sorted[at.ceil() as usize]);
            below + (above - below) * at.fract()
        }
    }
}

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

    fn axis(&self, markers: &[Marker]) -> ChangeAxis {
        let values: Vec<f64> = markers.iter().flat_map(|m| [Some(m.2), m.3.map(|i| i.0), m.3.map(|i| i.1)]).flatten().collect();
        ChangeAxis::new(&values, self.noise_percent)
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
        let axis = self.axis(&markers);
        let y = padded([axis.low, axis.high], 0.35);
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
        self.draw_markers(&mut chart, &markers, &axis)?;
        draw_legend(&mut chart)?;
        Ok(())
    }
}

type Chart<'c, DB> = ChartContext<'c, DB, Cartesian2d<super::axes::Categories, plotters::coord::types::RangedCoordf64>>;

impl ChangeFigure<'_> {
    fn draw_markers<DB: DrawingBackend>(&self, chart: &mut Chart<'_, DB>, markers: &[Marker], axis: &ChangeAxis) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        for i in 1..self.level.variants.len() {
            let mine: Vec<&Marker> = markers.iter().filter(|m| m.0 == i).collect();
            let style = colour(i).stroke_width(2);
            // A bar wholly beyond the axis is only its triangle and value.
            let shown = |&(low, high): &(f64, f64)| axis.clamp(low) != axis.clamp(high);
            chart.draw_series(mine.iter().filter_map(|m| {
                m.3.filter(shown).map(|(low, high)| {
                    ErrorBar::new_vertical(self.x(i, m.1), axis.clamp(low), axis.clamp(m.2), axis.clamp(high), style, 14)
                })
            }))?;
            let mine: Vec<&Marker> = mine.into_iter().filter(|m| !axis.cut(m.2)).collect();
            // Filled: p < alpha and the whole interval beyond the threshold (a verdict).
            let dots = chart.draw_series(mine.iter().map(|m| {
                let style = if m.4 { colour(i).filled() } else { WHITE.filled() };
                Circle::new((self.x(i, m.1), axis.clamp(m.2)), 6, style)
            }))?;
            dots.label(format!("{} (filled: significant change)", self.level.variants[i].variant))
                .legend(move |(x, y)| Circle::new((x + 8, y), 6, colour(i).filled()));
            chart.draw_series(mine.iter().map(|m| Circle::new((self.x(i, m.1), axis.clamp(m.2)), 6, style)))?;
            for m in markers.iter().filter(|m| m.0 == i) {
                let (below, above) = axis.beyond(m.2, m.3);
                for (value, edge, tip, anchor) in [(above, axis.limit, -10, VPos::Bottom), (below, -axis.limit, 10, VPos::Top)] {
                    let Some(value) = value else { continue };
                    let mark = EmptyElement::at((self.x(i, m.1), edge))
                        + Polygon::new(vec![(-7, 0), (7, 0), (0, tip)], colour(i).filled())
                        + Text::new(cut_label(value), (0, tip + tip.signum() * 2), font(LABEL_SIZE).pos(Pos::new(HPos::Center, anchor)));
                    chart.draw_series([mark])?;
                }
            }
        }
        if markers.iter().any(|m| [Some(m.2), m.3.map(|i| i.0), m.3.map(|i| i.1)].into_iter().flatten().any(|v| axis.cut(v))) {
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
                .label("beyond the axis: cut at its edge, the value written there")
                .legend(|(x, y)| Polygon::new(vec![(x + 2, y + 5), (x + 14, y + 5), (x + 8, y - 6)], BLACK.filled()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{test_record, RunRecord};
    use crate::stats::{analyze, Thresholds};

    /// Ends of 19 ordinary metrics within ± 12 % and of one at +1000 to +3423 %.
    fn ends_with_one_wild_metric() -> Vec<f64> {
        let mut values: Vec<f64> = (0..19)
            .flat_map(|k| {
                let c = (k as f64 - 9.0) * 0.9;
                [c - 1.5, c, c + 1.5]
            })
            .collect();
        values.extend([1000.0, 2200.0, 3423.0]);
        values
    }

    #[test]
    fn one_wild_metric_is_cut_at_the_edge_and_the_others_fill_the_axis() {
        let axis = ChangeAxis::new(&ends_with_one_wild_metric(), 1.0);
        assert!((axis.limit - 9.6).abs() < 1e-9, "the largest ordinary end: {axis:?}");
        assert_eq!((axis.low, axis.high), (-9.6, 9.6));
        assert!(axis.cut(3423.0) && axis.cut(1000.0) && !axis.cut(-9.6) && !axis.cut(5.0));
        assert_eq!(axis.clamp(3423.0), 9.6);
        assert_eq!(axis.beyond(2200.0, Some((1000.0, 3423.0))), (None, Some(2200.0)), "the change, when it is cut");
        assert_eq!(axis.beyond(5.0, Some((-3.0, 3423.0))), (None, Some(3423.0)), "else the end that is");
        assert_eq!(axis.beyond(-50.0, Some((-400.0, 3.0))), (Some(-50.0), None));
        assert_eq!(axis.beyond(5.0, None), (None, None));
        assert_eq!(cut_label(3423.4), "+3423 %");
    }

    #[test]
    fn without_a_wild_value_the_axis_holds_everything() {
        // A real +40 % among small changes stays on the axis: it is not 3 × beyond them.
        let axis = ChangeAxis::new(&[-2.0, 0.5, 3.0, 12.0, 25.0, 40.0], 1.0);
        assert_eq!(axis.limit, f64::INFINITY);
        assert_eq!((axis.low, axis.high), (-2.0, 40.0));
        // Changes all within the noise: the band ± 1.5 × the threshold shows, nothing is cut.
        let quiet = ChangeAxis::new(&[-0.2, 0.1, 0.3], 1.0);
        assert_eq!((quiet.low, quiet.high, quiet.limit), (-1.5, 1.5, f64::INFINITY));
        let empty = ChangeAxis::new(&[], 2.0);
        assert_eq!((empty.low, empty.high), (-3.0, 3.0));
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.75), 4.0);
        assert_eq!(quantile(&[1.0, 2.0], 0.25), 1.25);
    }

    /// Runs of a study where major faults went from about 1 to about 35 (+3400 %) and
    /// everything else moved a few percent.
    fn study_with_one_wild_metric() -> Vec<RunRecord> {
        let mut records = Vec::new();
        for (variant, factor, faults) in [("baseline", 1.0, [1, 1, 2, 1, 1]), ("poison", 1.04, [30, 38, 35, 33, 40])] {
            for run in 1..=5u32 {
                let wobble = 1.0 + 0.01 * (run as f64 - 3.0);
                records.push(RunRecord {
                    variant: variant.into(),
                    run,
                    elapsed_s: 100.0 * factor * wobble,
                    user_s: 150.0 * factor * wobble,
                    sys_s: 20.0 * factor * factor * wobble,
                    percent_cpu: 170.0 * wobble,
                    ctx_switches: (1000.0 * factor * wobble) as u64,
                    sleeps: (2000.0 * wobble) as u64,
                    max_rss_kib: (18400.0 * factor * wobble) as u64,
                    minor_faults: Some((500_000.0 * factor * wobble) as u64),
                    major_faults: Some(faults[run as usize - 1]),
                    ..test_record()
                });
            }
        }
        records
    }

    #[test]
    fn a_change_plot_with_one_wild_metric_keeps_the_others_readable() {
        let analysis = analyze(&study_with_one_wild_metric(), None, &Thresholds::default()).unwrap();
        let level = &analysis.levels[0];
        let figure = ChangeFigure::new(level, &analysis).expect("two variants to compare");
        let markers = figure.markers();
        let axis = figure.axis(&markers);
        let wild = markers.iter().find(|m| analysis.metrics[m.1] == Metric::MajorFaults).expect("major faults compared");
        assert!(wild.2 > 1000.0, "the wild change: {wild:?}");
        let ordinary: Vec<f64> = markers
            .iter()
            .filter(|m| analysis.metrics[m.1] != Metric::MajorFaults)
            .flat_map(|m| [Some(m.2), m.3.map(|i| i.0), m.3.map(|i| i.1)])
            .flatten()
            .collect();
        assert!(ordinary.iter().all(|v| !axis.cut(*v)), "no ordinary value is cut: {axis:?}");
        let largest = ordinary.iter().fold(0.0_f64, |a, v| a.max(v.abs()));
        assert!(largest > 3.0, "the ordinary changes are a few percent: {largest}");
        // The ordinary values span at least a third of the axis, not a pixel above zero.
        assert!(largest / (axis.high - axis.low) > 0.33, "{largest} on {axis:?}");

        let dir = tempfile::tempdir().unwrap();
        let written = super::super::write_plots(dir.path(), &analysis).unwrap();
        let svg_path = written.iter().find(|p| p.ends_with("-change.svg")).expect("a change plot");
        let svg = std::fs::read_to_string(dir.path().join(svg_path)).unwrap();
        let (_, above) = axis.beyond(wild.2, wild.3);
        let label = cut_label(above.expect("the wild metric is cut"));
        assert_eq!(above, Some(wild.2), "the change itself is written");
        assert!(svg.contains(&label), "the cut value {label} is written in the SVG");
        assert!(svg.contains("beyond the axis"), "the legend says what the triangles mean");
        assert!(svg.contains("viewBox=\"0 0 "), "the SVG scales with its page");
    }
}
