//! Progress reports of long preparations, for a caller (the CLI) to draw.

/// One progress report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// What is being done (`"counting"`, `"encoding train"`, …).
    pub stage: &'static str,
    /// Units done (bytes of input).
    pub done: u64,
    /// Units in all, when known.
    pub total: Option<u64>,
}

/// A progress callback; `&mut |_| {}` ignores reports.
pub type ProgressFn<'a> = &'a mut dyn FnMut(Progress);
