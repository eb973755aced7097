//! What every figure shares: colours, fonts, a categorical x axis, padded y ranges.

use super::FAMILY;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;

/// The fine grid between labelled ticks: barely there.
pub const LIGHT_GRID: RGBColor = RGBColor(242, 242, 242);

pub const TITLE_SIZE: u32 = 24;
pub const CAPTION_SIZE: u32 = 18;
pub const LABEL_SIZE: u32 = 14;

/// Colour of the variant at `index` (the baseline is 0); distinct for the first eight.
pub fn colour(index: usize) -> RGBColor {
    const COLOURS: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(23, 190, 207),
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
