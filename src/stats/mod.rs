//! Statistics over runs. No I/O here: numbers in, numbers out.

/// Arithmetic mean; NaN for no values.
pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Sample standard deviation (divides by n − 1, as kernbench); 0 for fewer than two values.
pub fn sample_sd(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let m = mean(values);
    let squares: f64 = values.iter().map(|v| (v - m).powi(2)).sum();
    (squares / (values.len() - 1) as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_sd_matches_kernbench_reference() {
        // ../shared/REFERENCE.md: Percent CPU {182,182,182,183,183} prints (0.547723).
        let sd = sample_sd(&[182.0, 182.0, 182.0, 183.0, 183.0]);
        assert!((sd - 0.547723).abs() < 1e-6, "{sd}");
        assert_eq!(mean(&[182.0, 182.0, 182.0, 183.0, 183.0]), 182.4);
    }

    #[test]
    fn sample_sd_of_one_value_is_zero() {
        assert_eq!(sample_sd(&[3.0]), 0.0);
        assert!(mean(&[]).is_nan());
    }
}
