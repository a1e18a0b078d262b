//! Loading and saving weights under the official PyTorch parameter names and layouts
//! (`rnn.rnn_lst.{i}.transform_module.linear1.weight (out, in)`, …; spec §2.3, §3.1).
//!
//! Loading goes through Burn's store adapters (Linear weights transposed, LayerNorm
//! `weight/bias` ↔ `gamma/beta`, enum variants left out of the paths). Every parameter of the
//! model must be found, with its shape, and every key of the file must be used, except the
//! `scale_x` buffers (checked against the model's value) and the duplicates that tying leaves
//! in word-level checkpoints (an official WikiText-103 `state_dict` repeats each tied projection
//! `output_layer.out_projs.<i>` as `embedding_layer.emb_projs.<i>`): a duplicate must equal
//! the tensor it repeats. Anything else is a [`ModelError::Weights`] listing the offending keys.
//! [`state_dict`] writes the duplicates back, so an exported model has exactly the official
//! keys.

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{DType, Tensor, TensorData};
use burn_store::{BurnToPyTorchAdapter, ModuleSnapshot, PyTorchToBurnAdapter, TensorSnapshot};

use crate::error::ModelError;
use crate::model::LanguageModel;
use crate::srupp::Srupp;
use crate::srupp_lm::{InputLayer, OutputLayer, SruppLm};
use crate::txl::{self, TransformerXl};

/// Tensors by official name, in PyTorch layout.
pub type StateDict = BTreeMap<String, TensorData>;

/// A model whose weights can be exchanged with the official implementation.
pub trait OfficialWeights<B: Backend>: Module<B> + ModuleSnapshot<B> + Sized {
    /// The model's non-parameter tensors in the official state_dict (the `scale_x` buffers).
    fn buffers(&self) -> StateDict;

    /// Takes the buffer values of a checkpoint (already checked against the config).
    fn set_buffers(&mut self, buffers: &StateDict);

    /// Tensors an official checkpoint holds twice because they are tied, and this model
    /// once: `(duplicate key, key of the tensor it repeats)`.
    fn tied_duplicates(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Where this model's paths differ from the official names: `(fragment of the Burn path,
    /// the official fragment)`, e.g. a field for an `nn.Sequential` index.
    fn renames(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// `name` with every `from` fragment of `renames` replaced by its `to` (`forward`) or back.
fn rename(name: String, renames: &[(String, String)], forward: bool) -> String {
    renames.iter().fold(name, |n, (burn, official)| {
        let (from, to) = if forward {
            (burn, official)
        } else {
            (official, burn)
        };
        n.replace(from.as_str(), to)
    })
}

/// The model's parameters and buffers under the official names, in PyTorch layout.
pub fn state_dict<B: Backend, M: OfficialWeights<B>>(model: &M) -> Result<StateDict, ModelError> {
    let mut out = model.buffers();
    let renames = model.renames();
    for snap in model.collect(None, Some(Box::new(BurnToPyTorchAdapter)), true) {
        let data = snap.to_data().map_err(|e| {
            ModelError::weights("state_dict", format!("{}: {e:?}", snap.full_path()))
        })?;
        out.insert(rename(snap.full_path(), &renames, true), data);
    }
    for (duplicate, source) in model.tied_duplicates() {
        if let Some(data) = out.get(&source).cloned() {
            out.insert(duplicate, data);
        }
    }
    Ok(out)
}

/// Loads an official state_dict into `model`, converting every tensor to `dtype` when given.
///
/// # Errors
/// [`ModelError::Weights`] listing missing keys, unexpected keys, shape mismatches and buffers
/// that disagree with the model's configuration.
pub fn load_state_dict<B: Backend, M: OfficialWeights<B>>(
    mut model: M,
    tensors: StateDict,
    dtype: Option<DType>,
) -> Result<M, ModelError> {
    let buffers = model.buffers();
    let mut found_buffers = StateDict::new();
    let mut problems = Vec::new();
    let mut snapshots = Vec::new();
    let duplicates: BTreeMap<String, String> = model.tied_duplicates().into_iter().collect();
    let renames = model.renames();
    for (duplicate, source) in &duplicates {
        if let (Some(dup), Some(src)) = (tensors.get(duplicate), tensors.get(source))
            && (dup.shape != src.shape || to_f64(dup) != to_f64(src))
        {
            problems.push(format!(
                "`{duplicate}` is tied to `{source}` in this model but differs from it in the file"
            ));
        }
    }
    for (name, data) in tensors {
        if let Some(expected) = buffers.get(&name) {
            let (a, b) = (to_f64(&data), to_f64(expected));
            if a.len() != b.len()
                || a.iter()
                    .zip(&b)
                    .any(|(x, y)| (x - y).abs() > 1e-6 * y.abs().max(1.0))
            {
                problems.push(format!(
                    "buffer `{name}` is {a:?} but the config gives {b:?}"
                ));
            }
            found_buffers.insert(name, data);
            continue;
        }
        if duplicates.contains_key(&name) {
            continue;
        }
        let data = match dtype {
            Some(DType::F64) => data.convert::<f64>(),
            Some(DType::F32) => data.convert::<f32>(),
            Some(DType::F16) => data.convert::<half::f16>(),
            Some(DType::BF16) => data.convert::<half::bf16>(),
            _ => data,
        };
        // Burn's LayerNorm names its affine parameters gamma/beta.
        let burn_name = match name.strip_suffix("layer_norm.weight") {
            Some(p) => format!("{p}layer_norm.gamma"),
            None => match name.strip_suffix("layer_norm.bias") {
                Some(p) => format!("{p}layer_norm.beta"),
                None => name.clone(),
            },
        };
        let burn_name = rename(burn_name, &renames, false);
        let path = burn_name.split('.').map(str::to_owned).collect();
        snapshots.push(TensorSnapshot::from_data(
            data,
            path,
            Vec::new(),
            ParamId::new(),
        ));
    }
    let result = model.apply(snapshots, None, Some(Box::new(PyTorchToBurnAdapter)), true);
    for (path, why) in &result.missing {
        problems.push(format!("missing `{path}` ({why})"));
    }
    for path in &result.unused {
        problems.push(format!("unexpected `{path}`"));
    }
    for e in &result.errors {
        problems.push(format!("{e}"));
    }
    if problems.is_empty() {
        model.set_buffers(&found_buffers);
        Ok(model)
    } else {
        problems.sort();
        Err(ModelError::weights("state_dict", problems.join("; ")))
    }
}

fn to_f64(d: &TensorData) -> Vec<f64> {
    d.clone()
        .convert::<f64>()
        .to_vec::<f64>()
        .unwrap_or_default()
}

/// Reads a `.safetensors` file into a state_dict.
///
/// # Errors
/// Unreadable or invalid files, unsupported dtypes.
pub fn read_safetensors(path: &Path) -> Result<StateDict, ModelError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ModelError::weights(path.display(), format!("cannot read: {e}")))?;
    parse_safetensors(&bytes, &path.display().to_string())
}

/// Parses `.safetensors` bytes into a state_dict; `origin` names them in errors.
///
/// # Errors
/// Invalid bytes, unsupported dtypes.
pub fn parse_safetensors(bytes: &[u8], origin: &str) -> Result<StateDict, ModelError> {
    use safetensors::{Dtype, SafeTensors};
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| ModelError::weights(origin, format!("not a valid safetensors file: {e}")))?;
    let mut out = StateDict::new();
    for (name, view) in st.tensors() {
        let dtype = match view.dtype() {
            Dtype::F64 => DType::F64,
            Dtype::F32 => DType::F32,
            Dtype::F16 => DType::F16,
            Dtype::BF16 => DType::BF16,
            Dtype::I64 => DType::I64,
            other => {
                return Err(ModelError::weights(
                    origin,
                    format!("tensor `{name}` has unsupported dtype {other:?}"),
                ));
            }
        };
        let data = TensorData::from_bytes_vec(view.data().to_vec(), view.shape().to_vec(), dtype);
        out.insert(name, data);
    }
    Ok(out)
}

/// Reads a PyTorch `.pt` checkpoint (a state_dict, or a dict holding one under `top_level_key`).
///
/// # Errors
/// Unreadable or invalid files.
pub fn read_pytorch(path: &Path, top_level_key: Option<&str>) -> Result<StateDict, ModelError> {
    use burn_store::pytorch::PytorchReader;
    let reader = match top_level_key {
        Some(k) => PytorchReader::with_top_level_key(path, k),
        None => PytorchReader::new(path),
    }
    .map_err(|e| ModelError::weights(path.display(), format!("cannot read PyTorch file: {e}")))?;
    let mut out = StateDict::new();
    for (name, snap) in reader.into_tensors() {
        let data = snap
            .to_data()
            .map_err(|e| ModelError::weights(path.display(), format!("`{name}`: {e:?}")))?;
        out.insert(name, data);
    }
    Ok(out)
}

/// Strips a prefix such as `module.` (DataParallel) from every key that has it.
pub fn strip_prefix(dict: StateDict, prefix: &str) -> StateDict {
    dict.into_iter()
        .map(|(k, v)| (k.strip_prefix(prefix).map(str::to_owned).unwrap_or(k), v))
        .collect()
}

/// Writes a state_dict as `.safetensors` (float32/float64 as stored), atomically: a temporary
/// file in the same folder, synced, then renamed over the target.
///
/// # Errors
/// I/O failures.
pub fn write_safetensors(dict: &StateDict, path: &Path) -> Result<(), ModelError> {
    let io = |e: std::io::Error| ModelError::weights(path.display(), format!("cannot write: {e}"));
    let bytes = safetensors_bytes(dict)?;
    let tmp = path.with_extension("safetensors.tmp");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(&bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)
}

/// A state_dict as `.safetensors` bytes: float64 as stored, every other float as float32.
///
/// # Errors
/// Tensors whose bytes do not fit their shapes.
pub fn safetensors_bytes(dict: &StateDict) -> Result<Vec<u8>, ModelError> {
    use safetensors::tensor::TensorView;
    let mut buffers = Vec::new();
    for (name, data) in dict {
        let (dtype, bytes) = match data.dtype {
            DType::F64 => (safetensors::Dtype::F64, data.as_bytes().to_vec()),
            _ => (
                safetensors::Dtype::F32,
                data.clone().convert::<f32>().as_bytes().to_vec(),
            ),
        };
        buffers.push((name.clone(), dtype, data.shape.to_vec(), bytes));
    }
    let views = buffers
        .iter()
        .map(|(n, dt, shape, b)| TensorView::new(*dt, shape.clone(), b).map(|v| (n.clone(), v)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ModelError::weights("state_dict", e.to_string()))?;
    safetensors::serialize(views, None)
        .map_err(|e| ModelError::weights("state_dict", e.to_string()))
}

/// Replaces every parameter of `model` by its gradient in `grads` (zeros where it has none),
/// so that [`state_dict`] can name the gradients.
pub fn gradients_as_module<B: AutodiffBackend, M: Module<B>>(model: M, grads: &B::Gradients) -> M {
    struct G<'a, B: AutodiffBackend>(&'a B::Gradients);
    impl<B: AutodiffBackend> ModuleMapper<B> for G<'_, B> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
            let (id, tensor, mapper) = param.consume();
            let g = tensor
                .grad(self.0)
                .map(Tensor::from_inner)
                .unwrap_or_else(|| tensor.zeros_like());
            Param::from_mapped_value(id, g, mapper)
        }
    }
    model.map(&mut G::<B>(grads))
}

// The official names of each architecture's buffers, tied duplicates and renamed modules.

fn scale_buffers<B: Backend>(srupp: &Srupp<B>, prefix: &str) -> StateDict {
    srupp
        .rnn_lst
        .iter()
        .enumerate()
        .map(|(i, cell)| {
            (
                format!("{prefix}rnn_lst.{i}.scale_x"),
                TensorData::new(vec![cell.scale_x as f32], [1]),
            )
        })
        .collect()
}

fn set_scale_buffers<B: Backend>(srupp: &mut Srupp<B>, prefix: &str, buffers: &StateDict) {
    for (i, cell) in srupp.rnn_lst.iter_mut().enumerate() {
        if let Some(v) = buffers.get(&format!("{prefix}rnn_lst.{i}.scale_x"))
            && let Some(&x) = v
                .clone()
                .convert::<f64>()
                .to_vec::<f64>()
                .unwrap_or_default()
                .first()
        {
            cell.scale_x = x;
        }
    }
}

impl<B: Backend> OfficialWeights<B> for Srupp<B> {
    fn buffers(&self) -> StateDict {
        scale_buffers(self, "")
    }

    fn set_buffers(&mut self, buffers: &StateDict) {
        set_scale_buffers(self, "", buffers);
    }
}

impl<B: Backend> OfficialWeights<B> for SruppLm<B> {
    fn buffers(&self) -> StateDict {
        scale_buffers(&self.rnn, "rnn.")
    }

    fn set_buffers(&mut self, buffers: &StateDict) {
        set_scale_buffers(&mut self.rnn, "rnn.", buffers);
    }

    fn tied_duplicates(&self) -> Vec<(String, String)> {
        match (&self.embedding_layer, &self.output_layer) {
            (InputLayer::Adaptive(a), OutputLayer::Adaptive(s)) if a.emb_projs.is_empty() => {
                (0..s.out_projs.len())
                    .map(|i| {
                        (
                            format!("embedding_layer.emb_projs.{i}"),
                            format!("output_layer.out_projs.{i}"),
                        )
                    })
                    .collect()
            }
            _ => Vec::new(),
        }
    }
}

impl<B: Backend> OfficialWeights<B> for TransformerXl<B> {
    /// `pos_emb.inv_freq`, as the original's buffer.
    fn buffers(&self) -> StateDict {
        let f = txl::inv_freq(self.d_model);
        let n = f.len();
        StateDict::from([("pos_emb.inv_freq".to_string(), TensorData::new(f, [n]))])
    }

    fn set_buffers(&mut self, _buffers: &StateDict) {}

    /// The output weight `crit.out_layers.0.weight` is the embedding table.
    fn tied_duplicates(&self) -> Vec<(String, String)> {
        match self.crit {
            txl::TxlOutput::Dense(_) => vec![(
                "crit.out_layers.0.weight".to_string(),
                "word_emb.emb_layers.0.weight".to_string(),
            )],
            txl::TxlOutput::Adaptive(_) => Vec::new(),
        }
    }

    /// The feed-forward products are `CoreNet.0` and `CoreNet.3` of an `nn.Sequential`.
    fn renames(&self) -> Vec<(String, String)> {
        vec![
            ("pos_ff.core_net.inner.".into(), "pos_ff.CoreNet.0.".into()),
            ("pos_ff.core_net.outer.".into(), "pos_ff.CoreNet.3.".into()),
        ]
    }
}

impl<B: Backend> OfficialWeights<B> for LanguageModel<B> {
    fn buffers(&self) -> StateDict {
        match self {
            LanguageModel::Srupp(m) => m.buffers(),
            LanguageModel::TransformerXl(m) => m.buffers(),
        }
    }

    fn set_buffers(&mut self, buffers: &StateDict) {
        match self {
            LanguageModel::Srupp(m) => m.set_buffers(buffers),
            LanguageModel::TransformerXl(m) => m.set_buffers(buffers),
        }
    }

    fn tied_duplicates(&self) -> Vec<(String, String)> {
        match self {
            LanguageModel::Srupp(m) => m.tied_duplicates(),
            LanguageModel::TransformerXl(m) => m.tied_duplicates(),
        }
    }

    fn renames(&self) -> Vec<(String, String)> {
        match self {
            LanguageModel::Srupp(m) => m.renames(),
            LanguageModel::TransformerXl(m) => m.renames(),
        }
    }
}
