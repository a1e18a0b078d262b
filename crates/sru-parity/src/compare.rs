//! Comparing a computed tensor with a stored reference: `max|out - ref| <= tol · max(1, max|ref|)`
//! (FIXTURES.md §5: tol 1e-9 for float64 runs, 1e-4 for float32).

/// The result of comparing one tensor.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Which tensor (`h`, `dU`, ...).
    pub tensor: String,
    /// `max |out - ref|` (infinite when a value is NaN or shapes differ).
    pub max_abs_err: f64,
    /// The allowed error, `tol · max(1, max|ref|)`.
    pub limit: f64,
}

impl Comparison {
    /// Compares `out` with `reference` under the relative tolerance `tol`.
    pub fn new(tensor: &str, out: &[f64], reference: &[f64], tol: f64) -> Self {
        let scale = reference.iter().fold(1.0_f64, |m, v| m.max(v.abs()));
        let max_abs_err = if out.len() != reference.len() {
            f64::INFINITY
        } else {
            out.iter().zip(reference).fold(0.0_f64, |m, (a, b)| {
                let e = (a - b).abs();
                if e.is_nan() { f64::INFINITY } else { m.max(e) }
            })
        };
        Self {
            tensor: tensor.to_owned(),
            max_abs_err,
            limit: tol * scale,
        }
    }

    /// Whether the error is within the limit.
    pub fn passed(&self) -> bool {
        self.max_abs_err <= self.limit
    }
}

/// The outcome of one case: every tensor compared.
#[derive(Debug, Clone)]
pub struct CaseReport {
    /// Case name.
    pub case: String,
    /// One entry per compared tensor.
    pub comparisons: Vec<Comparison>,
}

impl CaseReport {
    /// Whether every tensor passed.
    pub fn passed(&self) -> bool {
        !self.comparisons.is_empty() && self.comparisons.iter().all(Comparison::passed)
    }

    /// The largest error over all tensors.
    pub fn max_abs_err(&self) -> f64 {
        self.comparisons
            .iter()
            .fold(0.0, |m, c| m.max(c.max_abs_err))
    }

    /// The comparisons that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Comparison> {
        self.comparisons.iter().filter(|c| !c.passed())
    }
}

/// The tolerance of FIXTURES.md §5 for a run in float64 or not.
pub fn tolerance(f64_run: bool) -> f64 {
    if f64_run { 1e-9 } else { 1e-4 }
}
