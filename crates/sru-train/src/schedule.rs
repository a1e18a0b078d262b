//! The learning rate of update n (spec §3.3): linear warmup over W updates, then PyTorch's
//! chainable `CosineAnnealingLR(T_max = T)` continued from the last warmup value,
//!
//! ```text
//! n < W:   lr_n = lr · (n + 1) / W        (enwik8, Billion Word)   or  lr · n / W  (WT103)
//! n ≥ W:   lr_n = lr_w · (1 + cos(π n / T)) / (1 + cos(π (W − 1) / T))
//! ```
//!
//! with lr_w the warmup value of update W − 1: a cosine that reaches 0 at T.

use serde::{Deserialize, Serialize};

use crate::config::{TrainConfig, WarmupStyle};

/// Warmup then cosine, as the official scripts step it (once per update).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    /// Peak learning rate.
    pub lr: f64,
    /// Warmup updates W.
    pub warmup: u64,
    /// Total updates T.
    pub total: u64,
    /// How warmup counts.
    pub style: WarmupStyle,
}

impl LrSchedule {
    /// The schedule of a run.
    pub fn of(config: &TrainConfig) -> LrSchedule {
        LrSchedule {
            lr: config.lr,
            warmup: config.warmup_steps,
            total: config.steps,
            style: config.warmup_style,
        }
    }

    fn warmup_value(&self, n: u64) -> f64 {
        let w = self.warmup as f64;
        match self.style {
            WarmupStyle::Enwik8 => self.lr * (n as f64 + 1.0) / w,
            WarmupStyle::Wt103 => self.lr * n as f64 / w,
        }
    }

    /// The learning rate of update `n` (0-based).
    pub fn lr_at(&self, n: u64) -> f64 {
        if n < self.warmup {
            return self.warmup_value(n);
        }
        let t = self.total.max(1) as f64;
        let cos = |k: f64| 1.0 + (std::f64::consts::PI * k / t).cos();
        if self.warmup == 0 {
            return self.lr * cos(n as f64) / 2.0;
        }
        let lr_w = self.warmup_value(self.warmup - 1);
        let denom = cos(self.warmup as f64 - 1.0);
        if denom <= 0.0 {
            return 0.0;
        }
        (lr_w * cos(n as f64) / denom).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(style: WarmupStyle) -> LrSchedule {
        LrSchedule {
            lr: 3e-4,
            warmup: 4,
            total: 20,
            style,
        }
    }

    #[test]
    fn warmup_is_linear_and_cosine_reaches_zero() {
        let s = sched(WarmupStyle::Enwik8);
        assert!((s.lr_at(0) - 0.75e-4).abs() < 1e-18);
        assert!((s.lr_at(3) - 3e-4).abs() < 1e-18);
        // Continuity: the first cosine update continues from the last warmup value.
        assert!(s.lr_at(4) < 3e-4 && s.lr_at(4) > 2.8e-4);
        assert!(s.lr_at(20).abs() < 1e-18);
        let w = sched(WarmupStyle::Wt103);
        assert_eq!(w.lr_at(0), 0.0);
    }

    /// PyTorch's chainable `CosineAnnealingLR` with the scripts' warmup override, replayed
    /// step by step, gives the closed form above.
    #[test]
    fn closed_form_matches_the_recursive_pytorch_update() {
        for style in [WarmupStyle::Enwik8, WarmupStyle::Wt103] {
            let s = sched(style);
            let t = s.total as f64;
            let pi = std::f64::consts::PI;
            // The scheduler's recursion on the optimizer's lr, starting from base lr.
            let mut group_lr = s.lr;
            for n in 0..s.total {
                if n < s.warmup {
                    group_lr = s.warmup_value(n);
                }
                assert!(
                    (group_lr - s.lr_at(n)).abs() < 1e-15,
                    "{style:?} n={n}: {group_lr} vs {}",
                    s.lr_at(n)
                );
                // scheduler.step(): epoch e = n + 1.
                let e = (n + 1) as f64;
                group_lr *= (1.0 + (pi * e / t).cos()) / (1.0 + (pi * (e - 1.0) / t).cos());
            }
        }
    }
}
