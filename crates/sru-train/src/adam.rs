//! The Adam family of the recipe (spec §3.3) as one Burn [`SimpleOptimizer`]: RAdam (Liu et
//! al., the `LiyuanLucasLiu/RAdam` code the official scripts import) and AdamW, both with
//! decoupled weight decay.
//!
//! ```text
//! m_t = β1 m + (1 − β1) g          v_t = β2 v + (1 − β2) g²
//! RAdam:  ρ∞ = 2/(1 − β2) − 1      ρ_t = ρ∞ − 2 t β2^t / (1 − β2^t)
//!         ρ_t ≥ 5: r = √((1 − β2^t)(ρ_t − 4)(ρ_t − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρ_t)) / (1 − β1^t)
//!                  p ← p − wd·lr·p;  p ← p − r·lr·m_t / (√v_t + ε)
//!         ρ_t < 5: no update at all (the moments still advance)
//! AdamW:  p ← p − wd·lr·p;  p ← p − lr · (m_t / (1 − β1^t)) / (√(v_t / (1 − β2^t)) + ε)
//! ```
//!
//! Moments are f32 whatever the parameter's dtype. Training keeps its parameters in f32 (see
//! [`crate::precision`]); for a half-precision parameter (a library user's choice, or the
//! optimizer state of a checkpoint from before mixed precision kept parameters in f32) the
//! state also keeps an f32 master copy, updated here and cast back, so small updates are not
//! lost.

use burn::optim::SimpleOptimizer;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::record::Record;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{DType, Tensor};

use burn::module::AutodiffModule;

/// Settings of the Adam family.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// β1.
    pub beta1: f64,
    /// β2.
    pub beta2: f64,
    /// ε.
    pub eps: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// Rectified (RAdam) or plain (AdamW).
    pub rectified: bool,
}

impl AdamConfig {
    /// The optimizer, wrapped for a Burn module.
    pub fn init<B: AutodiffBackend, M: AutodiffModule<B>>(self) -> OptimizerAdaptor<Adam, M, B> {
        OptimizerAdaptor::from(Adam { config: self })
    }

    /// RAdam's step size factor r at update t (1-based), `None` while ρ_t < 5.
    pub fn radam_step_size(&self, t: u64) -> Option<f64> {
        let (b1, b2) = (self.beta1, self.beta2);
        let b2t = b2.powf(t as f64);
        let rho_inf = 2.0 / (1.0 - b2) - 1.0;
        let rho = rho_inf - 2.0 * t as f64 * b2t / (1.0 - b2t);
        (rho >= 5.0).then(|| {
            ((1.0 - b2t) * (rho - 4.0) / (rho_inf - 4.0) * (rho - 2.0) / rho * rho_inf
                / (rho_inf - 2.0))
                .sqrt()
                / (1.0 - b1.powf(t as f64))
        })
    }
}

/// RAdam or AdamW (see the module docs).
#[derive(Debug, Clone)]
pub struct Adam {
    config: AdamConfig,
}

/// Per-parameter state: the moments, the update count and the f32 master copy of a
/// half-precision parameter.
#[derive(Record, Clone)]
pub struct AdamState<B: Backend, const D: usize> {
    /// First moment (f32).
    pub moment_1: Tensor<B, D>,
    /// Second moment (f32).
    pub moment_2: Tensor<B, D>,
    /// The f32 parameter when the model computes in f16/bf16.
    pub master: Option<Tensor<B, D>>,
    /// Updates seen, t.
    pub time: usize,
}

impl<B: Backend> SimpleOptimizer<B> for Adam {
    type State<const D: usize> = AdamState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let c = &self.config;
        let dtype = tensor.dtype();
        let half = dtype != DType::F32 && dtype != DType::F64;
        let grad = if half { grad.cast(DType::F32) } else { grad };
        let (moment_1, moment_2, master, time) = match state {
            Some(s) => (
                s.moment_1.mul_scalar(c.beta1) + grad.clone().mul_scalar(1.0 - c.beta1),
                s.moment_2.mul_scalar(c.beta2) + grad.square().mul_scalar(1.0 - c.beta2),
                s.master,
                s.time + 1,
            ),
            None => (
                grad.clone().mul_scalar(1.0 - c.beta1),
                grad.square().mul_scalar(1.0 - c.beta2),
                None,
                1,
            ),
        };
        let param = match master {
            Some(m) => m,
            None if half => tensor.clone().cast(DType::F32),
            None => tensor.clone(),
        };
        let t = time as u64;
        let updated = if c.rectified {
            c.radam_step_size(t).map(|r| {
                let decayed = decay(param.clone(), c.weight_decay * lr);
                let denom = moment_2.clone().sqrt().add_scalar(c.eps);
                decayed - (moment_1.clone() / denom).mul_scalar(r * lr)
            })
        } else {
            let bc1 = 1.0 - c.beta1.powf(t as f64);
            let bc2 = 1.0 - c.beta2.powf(t as f64);
            let decayed = decay(param.clone(), c.weight_decay * lr);
            let denom = moment_2.clone().div_scalar(bc2).sqrt().add_scalar(c.eps);
            Some(decayed - (moment_1.clone().div_scalar(bc1) / denom).mul_scalar(lr))
        };
        let param = updated.unwrap_or(param);
        let (out, master) = if half {
            (param.clone().cast(dtype), Some(param))
        } else {
            (param, None)
        };
        let state = AdamState {
            moment_1,
            moment_2,
            master,
            time,
        };
        (out, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        AdamState {
            moment_1: state.moment_1.to_device(device),
            moment_2: state.moment_2.to_device(device),
            master: state.master.map(|m| m.to_device(device)),
            time: state.time,
        }
    }
}

fn decay<B: Backend, const D: usize>(p: Tensor<B, D>, rate: f64) -> Tensor<B, D> {
    if rate == 0.0 {
        p
    } else {
        p.mul_scalar(1.0 - rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::TensorData;

    type B = Flex;

    fn radam() -> AdamConfig {
        AdamConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.1,
            rectified: true,
        }
    }

    /// With β2 = 0.999 the variance term is intractable for the first 5 updates (ρ_5 ≈ 4.99,
    /// ρ_6 ≈ 5.99), exactly as in the reference RAdam.
    #[test]
    fn radam_waits_until_the_variance_is_tractable() {
        let c = radam();
        for t in 1..=5 {
            assert_eq!(c.radam_step_size(t), None, "t={t}");
        }
        let r6 = c.radam_step_size(6).expect("update at t=6");
        assert!(r6 > 0.0 && r6.is_finite());
    }

    /// One scalar parameter, stepped by hand in f64 with the reference algorithm.
    #[test]
    fn matches_the_reference_algorithm_on_a_scalar() {
        let dev = Default::default();
        let opt = Adam { config: radam() };
        let mut p = Tensor::<B, 1>::from_data(TensorData::from([0.5f32]), &dev);
        let mut state = None;
        let (mut rp, mut m, mut v) = (0.5f64, 0.0f64, 0.0f64);
        let lr = 1e-2;
        for t in 1..=10u64 {
            let g = 0.1 * t as f64 - 0.3;
            let grad = Tensor::<B, 1>::from_data(TensorData::from([g as f32]), &dev);
            let (np, ns) = opt.step(lr, p, grad, state);
            p = np;
            state = ns;
            m = 0.9 * m + 0.1 * g;
            v = 0.999 * v + 0.001 * g * g;
            if let Some(r) = radam().radam_step_size(t) {
                rp -= 0.1 * lr * rp;
                rp -= r * lr * m / (v.sqrt() + 1e-8);
            }
            let got: f32 = p.clone().into_data().to_vec::<f32>().expect("f32")[0];
            assert!((f64::from(got) - rp).abs() < 1e-6, "t={t}: {got} vs {rp}");
        }
        assert!((rp - 0.5).abs() > 1e-3, "the parameter moved after warm-up");
    }

    #[test]
    fn adamw_first_step_moves_by_lr() {
        let dev = Default::default();
        let opt = Adam {
            config: AdamConfig {
                rectified: false,
                weight_decay: 0.0,
                ..radam()
            },
        };
        let p = Tensor::<B, 1>::from_data(TensorData::from([1.0f32, -1.0]), &dev);
        let g = Tensor::<B, 1>::from_data(TensorData::from([0.3f32, -2.0]), &dev);
        let (p, _) = opt.step(0.01, p, g, None);
        let v = p.into_data().to_vec::<f32>().expect("f32");
        assert!(
            (v[0] - 0.99).abs() < 1e-6 && (v[1] + 0.99).abs() < 1e-6,
            "{v:?}"
        );
    }
}
