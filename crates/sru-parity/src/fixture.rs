//! Reading one fixture file: a safetensors file whose metadata holds the case's `config` and
//! `checks` as JSON strings (format: `shared/reference/FIXTURES.md`, format_version 1).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors};
use serde_json::Value;

use crate::error::ParityError;

/// A stored tensor, widened to f64 (float fixtures are F64 or F32; masks U8; ids I64).
#[derive(Debug, Clone)]
pub struct StoredTensor {
    /// The dtype as written in the file.
    pub dtype: Dtype,
    /// Shape.
    pub shape: Vec<usize>,
    /// Values in row-major order.
    pub values: Vec<f64>,
}

/// One parity case.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Where it was read from.
    pub path: PathBuf,
    /// Case name (`config.name`).
    pub name: String,
    /// Case kind: `recurrence`, `srupp`, `lm` or `lm_adaptive`.
    pub kind: String,
    /// The whole `config` object.
    pub config: Value,
    /// Every tensor by name.
    pub tensors: BTreeMap<String, StoredTensor>,
}

impl Fixture {
    /// Reads and decodes a fixture file.
    ///
    /// # Errors
    /// Unreadable file, invalid safetensors, missing or malformed metadata, unknown dtypes.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ParityError> {
        let path = path.as_ref().to_path_buf();
        let bytes = std::fs::read(&path).map_err(|source| ParityError::Io {
            path: path.clone(),
            source,
        })?;
        let bad = |why: String| ParityError::Format {
            path: path.clone(),
            why,
        };
        let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
        let config_text = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get("config"))
            .ok_or_else(|| bad("no `config` entry in the safetensors metadata".into()))?;
        let config: Value = serde_json::from_str(config_text)
            .map_err(|e| bad(format!("config is not JSON: {e}")))?;
        let version = config.get("format_version").and_then(Value::as_u64);
        if version != Some(1) {
            return Err(bad(format!(
                "unsupported format_version {version:?} (expected 1)"
            )));
        }
        let text = |key: &str| {
            config
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| bad(format!("config has no string `{key}`")))
        };
        let (name, kind) = (text("name")?, text("kind")?);
        let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
        let mut tensors = BTreeMap::new();
        for (tname, view) in st.tensors() {
            let data = view.data();
            let values: Vec<f64> = match view.dtype() {
                Dtype::F64 => data
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                    .collect(),
                Dtype::F32 => data
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64)
                    .collect(),
                Dtype::I64 => data
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as f64)
                    .collect(),
                Dtype::U8 | Dtype::BOOL => data.iter().map(|&b| b as f64).collect(),
                other => {
                    return Err(bad(format!(
                        "tensor `{tname}` has unsupported dtype {other:?}"
                    )));
                }
            };
            tensors.insert(
                tname,
                StoredTensor {
                    dtype: view.dtype(),
                    shape: view.shape().to_vec(),
                    values,
                },
            );
        }
        Ok(Self {
            path,
            name,
            kind,
            config,
            tensors,
        })
    }

    /// A tensor that must be present.
    ///
    /// # Errors
    /// [`ParityError::MissingTensor`] naming the case and tensor.
    pub fn tensor(&self, name: &str) -> Result<&StoredTensor, ParityError> {
        self.tensors
            .get(name)
            .ok_or_else(|| ParityError::MissingTensor {
                case: self.name.clone(),
                tensor: name.to_owned(),
            })
    }

    /// A tensor that may be absent.
    pub fn optional(&self, name: &str) -> Option<&StoredTensor> {
        self.tensors.get(name)
    }

    /// Whether the case's reference values are float64 (else float32).
    pub fn is_f64(&self) -> bool {
        self.config.get("dtype").and_then(Value::as_str) != Some("float32")
    }

    /// A config entry that must be present.
    ///
    /// # Errors
    /// [`ParityError::Config`] naming the key.
    pub fn cfg(&self, key: &str) -> Result<&Value, ParityError> {
        self.config.get(key).ok_or_else(|| ParityError::Config {
            case: self.name.clone(),
            why: format!("missing key `{key}`"),
        })
    }

    /// A config entry as an unsigned integer.
    ///
    /// # Errors
    /// [`ParityError::Config`] if missing or not an integer.
    pub fn cfg_usize(&self, key: &str) -> Result<usize, ParityError> {
        self.cfg(key)?
            .as_u64()
            .map(|v| v as usize)
            .ok_or_else(|| ParityError::Config {
                case: self.name.clone(),
                why: format!("`{key}` is not an unsigned integer"),
            })
    }

    /// A config entry as a boolean.
    ///
    /// # Errors
    /// [`ParityError::Config`] if missing or not a boolean.
    pub fn cfg_bool(&self, key: &str) -> Result<bool, ParityError> {
        self.cfg(key)?.as_bool().ok_or_else(|| ParityError::Config {
            case: self.name.clone(),
            why: format!("`{key}` is not a boolean"),
        })
    }
}
