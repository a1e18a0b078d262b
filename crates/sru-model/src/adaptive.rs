//! Adaptive input and projected adaptive softmax (Baevski & Auli 2019; Grave et al. 2017) as
//! the official word-level scripts use them (Transformer-XL's `embedding.py`; spec §3.1).
//!
//! The vocabulary is split by `cutoffs` into clusters [l_i, r_i); cluster i has embedding
//! width `n_e / div_val^i` and a projection P_i `(d, n_e / div_val^i)`:
//!
//! ```text
//! input:   e(w) = P_i · dropout(T_i[w - l_i])                       (d)
//! softmax: head = (P_0ᵀ h) T_0ᵀ + b_0        (r_0 + n_clusters)   shortlist, then clusters
//!          log p(w) = log_softmax(head)[w]                            w in cluster 0
//!          log p(w) = log_softmax(head)[-i] + log_softmax((P_iᵀ h) T_iᵀ + b_i)[w - l_i]
//! ```
//! As in every official checkpoint, the head table T_0 (`output_layer.out_layers.0`) holds the
//! shortlist's rows and then one row per tail cluster: cluster i (1-based) is head column -i.
//! Tables T_i are shared by input and softmax (one copy, owned by the softmax; the input reads
//! only the shortlist rows of T_0); projections are shared too (WikiText-103) or the input has
//! its own (`emb_projs`, Billion Word).

use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::tensor::IndexingUpdateOp;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData, backend::Backend, s};
use serde::{Deserialize, Serialize};
use sru_kernel::FusedKernels;

use crate::autocast::{Autocast, full};
use crate::error::ModelError;
use crate::linear::linear_2d;

/// Options of the adaptive input and softmax.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdaptiveConfig {
    /// Cluster boundaries, increasing, all below V (e.g. `[19997, 39997, 199997]`).
    pub cutoffs: Vec<usize>,
    /// Width divisor per cluster.
    pub div_val: usize,
    /// Embedding width of the first cluster (`n_e`).
    pub n_e: usize,
    /// Share the projections between input and softmax (WikiText-103) or not (Billion Word).
    pub tie_projections: bool,
}

impl AdaptiveConfig {
    /// Cluster ranges `[l_i, r_i)`.
    pub fn ranges(&self, vocab: usize) -> Vec<(usize, usize)> {
        let mut ends = vec![0];
        ends.extend(&self.cutoffs);
        ends.push(vocab);
        ends.windows(2).map(|w| (w[0], w[1])).collect()
    }

    /// Embedding width of cluster i.
    pub fn width(&self, i: usize) -> usize {
        self.n_e / self.div_val.pow(i as u32)
    }

    /// Checks the cutoffs and widths.
    ///
    /// # Errors
    /// [`ModelError::Config`] naming `cutoffs` or `div_val`.
    pub fn validate(&self, vocab: usize) -> Result<(), ModelError> {
        let mut prev = 0;
        for &c in &self.cutoffs {
            if c <= prev || c >= vocab {
                return Err(ModelError::config(
                    "cutoffs",
                    format!(
                        "cutoffs {:?} must increase strictly and stay below the vocabulary size {vocab}",
                        self.cutoffs
                    ),
                ));
            }
            prev = c;
        }
        if self.div_val == 0 || self.width(self.cutoffs.len()) == 0 {
            return Err(ModelError::config(
                "div_val",
                format!(
                    "n_e {} / div_val {}^{} leaves a cluster without width",
                    self.n_e,
                    self.div_val,
                    self.cutoffs.len()
                ),
            ));
        }
        Ok(())
    }

    /// Parameters of input + softmax, tied tensors counted once.
    pub fn num_params(&self, vocab: usize, d: usize) -> usize {
        let ranges = self.ranges(vocab);
        let n_clusters = self.cutoffs.len();
        let tables: usize = ranges
            .iter()
            .enumerate()
            .map(|(i, (l, r))| (r - l) * self.width(i))
            .sum();
        let projs: usize = (0..ranges.len()).map(|i| d * self.width(i)).sum();
        let cluster_rows = n_clusters * self.width(0) + n_clusters;
        let input_projs = if self.tie_projections { 0 } else { projs };
        tables + vocab + projs + cluster_rows + input_projs
    }

    /// Builds input and softmax as the official `init_weights`: tables (with the head's cluster
    /// rows) U(±sqrt(3/d)), biases 0, projections Xavier-uniform.
    pub fn init<B: Backend>(
        &self,
        vocab: usize,
        d: usize,
        emb_dropout: f64,
        device: &B::Device,
    ) -> (AdaptiveInput<B>, AdaptiveSoftmax<B>) {
        let bound = (3.0 / d as f64).sqrt();
        let uniform = Initializer::Uniform {
            min: -bound,
            max: bound,
        };
        let ranges = self.ranges(vocab);
        let proj = |i: usize| {
            Initializer::XavierUniform { gain: 1.0 }.init_with(
                [d, self.width(i)],
                Some(self.width(i)),
                Some(d),
                device,
            )
        };
        let n_clusters = self.cutoffs.len();
        let out_layers = ranges
            .iter()
            .enumerate()
            .map(|(i, (l, r))| {
                let rows = if i == 0 { r - l + n_clusters } else { r - l };
                let mut lin = LinearConfig::new(self.width(i), rows)
                    .with_initializer(uniform.clone())
                    .init::<B>(device);
                lin.bias = Some(Param::from_tensor(Tensor::zeros([rows], device)));
                lin
            })
            .collect();
        let n = ranges.len();
        let softmax = AdaptiveSoftmax {
            out_layers,
            out_projs: (0..n).map(proj).collect(),
            cutoffs: self.cutoffs.clone(),
            drop: DropoutConfig::new(emb_dropout).init(),
        };
        let input = AdaptiveInput {
            emb_projs: if self.tie_projections {
                Vec::new()
            } else {
                (0..n).map(proj).collect()
            },
            drop: DropoutConfig::new(emb_dropout).init(),
        };
        (input, softmax)
    }
}

/// Projected adaptive log-softmax; owns the tied tables.
#[derive(Module, Debug)]
pub struct AdaptiveSoftmax<B: Backend> {
    /// Per cluster: `Linear(width_i → size_i)` with bias; its weight is table T_i. The head
    /// (`i = 0`) has `cutoffs[0] + n_clusters` outputs: the shortlist, then the clusters.
    pub out_layers: Vec<Linear<B>>,
    /// Per cluster: projection `(d, width_i)`.
    pub out_projs: Vec<Param<Tensor<B, 2>>>,
    /// Cluster boundaries.
    pub cutoffs: Vec<usize>,
    /// Dropout of the projected hidden states.
    pub drop: Dropout,
}

/// Per cluster: the rows (into a flat token list) of its tokens, and their ids within it.
type Clusters = Vec<(Vec<i64>, Vec<i64>)>;

/// Row indices (into a flat token list) of each cluster, and the tokens' ids within it.
///
/// # Errors
/// [`ModelError::TokenOutOfRange`] for an id outside `[0, V)` (`role`: input or target).
fn clusters(ids: &[i64], ends: &[usize], role: &'static str) -> Result<Clusters, ModelError> {
    let vocab_size = ends[ends.len() - 1];
    let mut v = vec![(Vec::new(), Vec::new()); ends.len() - 1];
    for (row, &id) in ids.iter().enumerate() {
        let c = usize::try_from(id)
            .ok()
            .and_then(|w| ends.windows(2).position(|e| w >= e[0] && w < e[1]))
            .ok_or(ModelError::TokenOutOfRange {
                role,
                id,
                vocab_size,
            })?;
        v[c].0.push(row as i64);
        v[c].1.push(id - ends[c] as i64);
    }
    Ok(v)
}

fn int1<B: Backend>(v: Vec<i64>, device: &B::Device) -> Tensor<B, 1, Int> {
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

fn host_ids<B: Backend, const D: usize>(t: &Tensor<B, D, Int>) -> Vec<i64> {
    t.to_data()
        .convert::<i64>()
        .to_vec::<i64>()
        .unwrap_or_default()
}

impl<B: FusedKernels> AdaptiveSoftmax<B> {
    fn ends(&self) -> Vec<usize> {
        let v = self
            .out_layers
            .iter()
            .map(|l| l.weight.dims()[1])
            .sum::<usize>()
            - self.cutoffs.len();
        let mut e = vec![0];
        e.extend(&self.cutoffs);
        e.push(v);
        e
    }

    /// Cluster log-probabilities for hidden states `h (N, d)`; for the head
    /// `(N, shortlist + clusters)`. The products run in the dtype of `h`, the log-softmax in
    /// f32 (or f64).
    fn cluster_log_probs(&self, h: Tensor<B, 2>, i: usize) -> Tensor<B, 2> {
        let proj = self.out_projs[i].val().cast(h.dtype());
        let ph = self.drop.forward(h.matmul(proj)); // (N, width_i)
        log_softmax(full(linear_2d(&self.out_layers[i], ph)), 1)
    }

    /// Full log-probabilities `(L, B, V)`.
    pub fn log_probs(&self, h: Tensor<B, 3>) -> Tensor<B, 3> {
        let [l, b, d] = h.dims();
        let h = h.reshape([l * b, d]);
        let short = self.cutoffs[0];
        let n_clusters = self.cutoffs.len();
        let head = self.cluster_log_probs(h.clone(), 0);
        let mut parts = vec![head.clone().slice(s![.., 0..short])];
        for i in 1..=n_clusters {
            let col = short + n_clusters - i; // cluster i is column -i of the head
            let lp_cluster = head.clone().slice(s![.., col..col + 1]);
            parts.push(self.cluster_log_probs(h.clone(), i) + lp_cluster);
        }
        let v = self.ends()[n_clusters + 1];
        Tensor::cat(parts, 1).reshape([l, b, v])
    }

    /// Negative log-likelihood `(L, B)` of `targets`, computing each tail only for its tokens.
    ///
    /// # Errors
    /// [`ModelError::TokenOutOfRange`] naming the first target outside the vocabulary.
    pub fn nll(
        &self,
        h: Tensor<B, 3>,
        targets: Tensor<B, 2, Int>,
    ) -> Result<Tensor<B, 2>, ModelError> {
        let [l, b, d] = h.dims();
        let n = l * b;
        let device = h.device();
        let h = h.reshape([n, d]);
        let ids = host_ids(&targets);
        let groups = clusters(&ids, &self.ends(), "target")?;
        let short = self.cutoffs[0];
        let n_clusters = self.cutoffs.len();
        let head = self.cluster_log_probs(h.clone(), 0); // (N, short + clusters)
        let mut nll = Tensor::<B, 1>::zeros([n], (&device, head.dtype()));
        for (i, (rows, local)) in groups.into_iter().enumerate() {
            if rows.is_empty() {
                continue;
            }
            let k = rows.len();
            let rows_t = int1::<B>(rows, &device);
            let head_rows = head.clone().select(0, rows_t.clone()); // (k, short + clusters)
            let lp = if i == 0 {
                head_rows.gather(1, int1::<B>(local, &device).reshape([k, 1]))
            } else {
                let col = (short + n_clusters - i) as i64;
                let lp_cluster =
                    head_rows.gather(1, int1::<B>(vec![col; k], &device).reshape([k, 1]));
                // The rows are picked in f32 and cast back (exact either way): Burn 0.21's fused
                // WGPU backend picks wrong values from the f16 matrix here (measured: NLL off by
                // 0.4 nats; cf. tracel-ai/burn#2891, select under fusion).
                let rows_h = full(h.clone()).select(0, rows_t.clone()).cast(h.dtype());
                let tail = self.cluster_log_probs(rows_h, i);
                tail.gather(1, int1::<B>(local, &device).reshape([k, 1])) + lp_cluster
            };
            nll = nll.select_assign(0, rows_t, lp.reshape([k]).neg(), IndexingUpdateOp::Add);
        }
        Ok(nll.reshape([l, b]))
    }
}

/// Adaptive input; tables (and, when tied, projections) come from the softmax.
#[derive(Module, Debug)]
pub struct AdaptiveInput<B: Backend> {
    /// Own projections `(d, width_i)` when not tied (Billion Word); empty when tied.
    pub emb_projs: Vec<Param<Tensor<B, 2>>>,
    /// Dropout of the raw cluster embeddings.
    pub drop: Dropout,
}

impl<B: FusedKernels> AdaptiveInput<B> {
    /// Embeds tokens `(L, B)` into `(L, B, d)` with the softmax's tables; under `autocast`
    /// the projections run, and the embeddings come out, in its half dtype (as the official
    /// `AdaptiveEmbedding` under `torch.cuda.amp.autocast`).
    ///
    /// # Errors
    /// [`ModelError::TokenOutOfRange`] naming the first token outside the vocabulary.
    pub fn forward(
        &self,
        tokens: Tensor<B, 2, Int>,
        softmax: &AdaptiveSoftmax<B>,
        autocast: Autocast,
    ) -> Result<Tensor<B, 3>, ModelError> {
        let [l, b] = tokens.dims();
        let n = l * b;
        let device = tokens.device();
        let ids = host_ids(&tokens);
        let d = softmax.out_projs[0].dims()[0];
        // Rows are written once each (one cluster per token), into a buffer of the parameters'
        // dtype: an f16 scatter-add is not exact on every backend (no f16 atomics).
        let param_dtype = softmax.out_projs[0].val().dtype();
        let dtype = match autocast {
            Autocast::Off => param_dtype,
            Autocast::Half(half) => half,
        };
        let mut out = Tensor::<B, 2>::zeros([n, d], (&device, param_dtype));
        for (i, (rows, local)) in clusters(&ids, &softmax.ends(), "input")?
            .into_iter()
            .enumerate()
        {
            if rows.is_empty() {
                continue;
            }
            let table = softmax.out_layers[i].weight.val(); // (width_i, size_i)
            let emb = table.select(1, int1::<B>(local, &device)).transpose(); // (k, width_i)
            let proj = match self.emb_projs.get(i) {
                Some(p) => p.val(),
                None => softmax.out_projs[i].val(),
            }; // (d, width_i)
            let e = self
                .drop
                .forward(emb)
                .cast(dtype)
                .matmul(proj.cast(dtype).transpose())
                .cast(param_dtype); // (k, d)
            out = out.select_assign(0, int1::<B>(rows, &device), e, IndexingUpdateOp::Add);
        }
        Ok(out.cast(dtype).reshape([l, b, d]))
    }
}
