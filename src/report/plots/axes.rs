//! What every figure shares: colours, fonts, a categorical x axis, y ranges and tick labels.

use super::FAMILY;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;

/// The fine grid between labelled ticks: barely there.
pub const LIGHT_GRID: RGBColor = RGBColor(242, 242, 242);

pub const TITLE_SIZE: u32 = 24;
pub const CAPTION_SIZE: u32 = 18;
pub const LABEL_SIZE: u32 = 14;

/// Colour of the variant at `index` (the baseline is 0): Okabe and Ito's palette, told
/// apart with any colour vision, distinct for the first seven. Black is not in it: it marks
/// what is not a variant (noisy-host rings, means, the zero line).
pub fn colour(index: usize) -> RGBColor {
    const COLOURS: [RGBColor; 7] = [
        RGBColor(0, 114, 178),   // blue
        RGBColor(230, 159, 0),   // orange
        RGBColor(0, 158, 115),   // bluish green
        RGBColor(204, 121, 167), // reddish purple
        RGBColor(86, 180, 233),  // sky blue
        RGBColor(213, 94, 0),    // vermilion
        RGBColor(170, 150, 0),   // yellow, darkened to show on white
    ];
    COLOURS[index % COLOURS.len()]
}

pub fn font(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK)
}

/// An x axis of `n` categories at 0, 1, … n − 1, ticked only there; values in between
/// place several markers side by side within one category.
#[derive(Debug, Clone, Copy)]
pub struct Categories {
    n: usize,
}

pub fn categories(n: usize) -> Categories {
    Categories { n: n.max(1) }
}

impl Ranged for Categories {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let range = self.range();
        let fraction = (value - range.start) / (range.end - range.start);
        limit.0 + (fraction * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            return Vec::new();
        }
        (0..self.n).map(|i| i as f64).collect()
    }

    fn range(&self) -> std::ops::Range<f64> {
        -0.5..(self.n as f64 - 0.5)
    }
}

/// The category name at a tick.
pub fn category_name(names: &[String], x: f64) -> String {
    let index = x.round();
    if index < 0.0 || (x - index).abs() > 1e-6 {
        return String::new();
    }
    names.get(index as usize).cloned().unwrap_or_default()
}

/// A y range from 0 covering `values`, with room above for the legend: for quantities that
/// cannot be negative (times, memory, counts, shares of CPU), so that a wide interval of a
/// few runs does not draw the axis below 0 and the heights compare as they are.
pub fn from_zero(values: impl IntoIterator<Item = f64>, legend_room: f64) -> std::ops::Range<f64> {
    let high = values.into_iter().filter(|v| v.is_finite()).fold(0.0_f64, f64::max);
    let high = if high > 0.0 { high } else { 1.0 };
    0.0..high * (1.1 + legend_room)
}

/// Tick labels of an axis in a unit that counts (KiB, events): "18400", not "18400.0";
/// a tick between two integers (a small range) keeps its decimals.
pub fn integer_tick(value: f64) -> String {
    if (value - value.round()).abs() < 1e-6 * value.abs().max(1.0) {
        let rounded = value.round();
        return format!("{}", if rounded == 0.0 { 0.0 } else { rounded });
    }
    crate::report::format::number(value).trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Whether `metric`'s values are whole numbers (KiB, counts): their ticks are integers.
pub fn counts(metric: crate::stats::Metric) -> bool {
    matches!(metric.unit(), "KiB" | "count")
}

/// One panel's chart of a metric over named categories (variants or measurements): its
/// caption, the category names on the x axis, the metric and its unit on the y axis
/// (whole numbers for counts), the mesh drawn. What every means, runs and trend panel shares.
pub fn metric_chart<'a, DB: DrawingBackend>(
    panel: &'a DrawingArea<DB, plotters::coord::Shift>,
    metric: crate::stats::Metric,
    names: &[String],
    y: std::ops::Range<f64>,
    y_label_area: u32,
    x_desc: &str,
) -> anyhow::Result<ChartContext<'a, DB, Cartesian2d<Categories, plotters::coord::types::RangedCoordf64>>>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(panel)
        .caption(metric.title(), font(CAPTION_SIZE))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(y_label_area)
        .build_cartesian_2d(categories(names.len()), y)?;
    let (x_label, count_tick) = (|x: &f64| category_name(names, *x), |y: &f64| integer_tick(*y));
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh()
        .light_line_style(LIGHT_GRID)
        .x_label_formatter(&x_label)
        .x_desc(x_desc)
        .y_desc(format!("{} ({})", metric.title(), metric.unit()))
        .label_style(font(LABEL_SIZE))
        .axis_desc_style(font(LABEL_SIZE));
    if counts(metric) {
        mesh.y_label_formatter(&count_tick);
    }
    mesh.draw()?;
    Ok(chart)
}

/// The legend every figure draws: upper left, on a nearly opaque white box.
pub fn draw_legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(font(LABEL_SIZE))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// A y range covering `values` with room above for the legend; never empty.
pub fn padded(values: impl IntoIterator<Item = f64>, legend_room: f64) -> std::ops::Range<f64> {
    let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.into_iter().filter(|v| v.is_finite()) {
        low = low.min(v);
        high = high.max(v);
    }
    if !low.is_finite() {
        return 0.0..1.0;
    }
    let span = if high > low { high - low } else { low.abs().max(1.0) * 0.1 };
    (low - 0.1 * span)..(high + (0.1 + legend_room) * span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_of_quantities_that_cannot_be_negative_start_at_zero() {
        // A mean of 2 runs with an interval reaching below 0 s.
        let range = from_zero([1.2, -3.5, 5.9], 0.35);
        assert_eq!(range.start, 0.0);
        assert!((range.end - 5.9 * 1.45).abs() < 1e-9, "{range:?}");
        assert_eq!(from_zero([f64::NAN], 0.0), 0.0..1.1, "never empty");
        assert!(padded([-3.5, 5.9], 0.0).start < 0.0, "the change plot's range may be negative");
    }

    #[test]
    fn counted_units_tick_as_integers() {
        assert_eq!(integer_tick(18400.0), "18400");
        assert_eq!(integer_tick(18400.000000001), "18400");
        assert_eq!(integer_tick(0.0), "0");
        assert_eq!(integer_tick(-0.0), "0");
        assert_eq!(integer_tick(2_000_000.0), "2000000");
        assert_eq!(integer_tick(0.5), "0.5");
        assert_eq!(integer_tick(2.25), "2.25");
        assert!(counts(crate::stats::Metric::SlabPeak) && counts(crate::stats::Metric::Pgalloc));
        assert!(!counts(crate::stats::Metric::Elapsed) && !counts(crate::stats::Metric::GuestSys));
    }
}
