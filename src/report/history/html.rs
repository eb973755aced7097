//! `bench history --html FILE`: the history as one self-contained page, in the same style
//! as report.html: the headline, the measurements, the trend plot inline, and per variant,
//! level and metric the table of means with each step's verdicts, regressions marked.

use crate::history::History;
use crate::report::markup::to_html;

pub fn render(history: &History, trend_svg: &str) -> String {
    to_html(&super::document(history, Some(trend_svg), true))
}
