//! Numbers as people read them in report.md and on the terminal (summary.csv and
//! report.json keep full precision).

use crate::stats::Interval;

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
