//! Numbers as people read them in report.md and on the terminal (summary.csv and
//! report.json keep full precision).

use crate::stats::{Comparison, Interval};

/// Four significant digits, never in exponent form: 44.59, 0.238, 13881.
pub fn number(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".into();
    }
    if value == 0.0 {
        return "0".into();
    }
    let exponent = value.abs().log10().floor() as i32;
    let decimals = (3 - exponent).clamp(0, 6) as usize;
    format!("{value:.decimals$}")
}

/// "+9.8 %", with more digits for small changes so that 0.04 % is not "+0.0 %".
pub fn percent(value: f64) -> String {
    let decimals = if value.abs() < 1.0 { 2 } else { 1 };
    format!("{value:+.decimals$} %")
}

/// "[+5.5 %, +14.0 %]".
pub fn percent_interval(interval: Option<Interval>) -> String {
    match interval {
        Some(i) => format!("[{}, {}]", percent(i.low), percent(i.high)),
        None => "n/a".into(),
    }
}

/// "[+5.5, +14.0]": the bounds of an interval of a change, after the change in percent.
pub fn percent_bounds(interval: Interval) -> String {
    let bound = |v: f64| percent(v).trim_end_matches(" %").to_string();
    format!("[{}, {}]", bound(interval.low), bound(interval.high))
}

/// The 95 % interval of a comparison's change, worded alike in every report, compare and
/// history: "[+5.5 %, +14.0 %]"; "[-100 % (clipped), +14.0 %]" where Fieller's low end
/// fell below −100 % (a positive quantity cannot shrink by more); "unbounded" where the
/// runs were enough for a test and yet no finite interval exists; "n/a" without a change.
pub fn change_interval(c: &Comparison) -> String {
    match (c.change_ci95, unbounded(c)) {
        (_, true) => "unbounded".into(),
        (Some(i), false) if c.change_ci95_clipped => format!("[-100 % (clipped), {}]", percent(i.high)),
        (i, false) => percent_interval(i),
    }
}

/// The same after a change, without the units: "[+5.5, +14.0]", "[-100 (clipped), +14.0]",
/// "[unbounded]"; `None` without an interval.
pub fn change_bounds(c: &Comparison) -> Option<String> {
    if unbounded(c) {
        return Some("[unbounded]".into());
    }
    let i = c.change_ci95?;
    let bound = |v: f64| percent(v).trim_end_matches(" %").to_string();
    let low = if c.change_ci95_clipped { "-100 (clipped)".to_string() } else { bound(i.low) };
    Some(format!("[{low}, {}]", bound(i.high)))
}

/// "+9.8 %", or "n/a" where there is no change.
pub fn change_percent(c: &Comparison) -> String {
    c.change_percent.map(percent).unwrap_or_else(|| "n/a".into())
}

fn unbounded(c: &Comparison) -> bool {
    c.p_value.is_some() && c.change_ci95.is_none() && c.change_percent.is_some()
}

/// "0.0028", "< 0.0001".
pub fn p_value(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 0.0001 => "< 0.0001".into(),
        Some(p) => format!("{p:.4}"),
        None => "n/a".into(),
    }
}

/// What marks a run measured on a noisy host, in every report that lists runs.
pub const NOISY_MARK: &str = "⚠";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_four_significant_digits_without_exponents() {
        assert_eq!(number(44.586), "44.59");
        assert_eq!(number(0.237970), "0.2380");
        assert_eq!(number(13880.8), "13881");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(f64::NAN), "n/a");
        assert_eq!(percent(9.7798), "+9.8 %");
        assert_eq!(percent(-0.041), "-0.04 %");
        assert_eq!(p_value(Some(0.0027618)), "0.0028");
        assert_eq!(p_value(Some(1e-9)), "< 0.0001");
    }
}
