//! The state a caller carries from segment to segment. SRU++: the last cell state `c` of
//! every layer and every layer's memory (its inputs of the previous segment). Transformer-XL:
//! no `c`, and `n_layer + 1` memories (the last `mem_len` steps of every layer's input and of
//! the last output). The model never keeps it; detaching (cutting the gradient at the segment
//! boundary) is explicit.

use burn::tensor::{Tensor, backend::Backend, s};

/// State of a language model between segments.
#[derive(Debug, Clone)]
pub struct LmState<B: Backend> {
    /// SRU++: the cell state `(layers, B, D)`; `None` for a Transformer-XL.
    pub c: Option<Tensor<B, 3>>,
    /// Per layer, `(M, B, in_i)`; empty before the first segment.
    pub memory: Vec<Tensor<B, 3>>,
}

impl<B: Backend> LmState<B> {
    /// Cuts the gradient at the segment boundary (truncated back-propagation through time).
    pub fn detach(self) -> Self {
        Self {
            c: self.c.map(Tensor::detach),
            memory: self.memory.into_iter().map(Tensor::detach).collect(),
        }
    }

    /// Keeps only the last `window` positions of every memory (bounded attention context).
    pub fn truncate_memory(self, window: usize) -> Self {
        let memory = self
            .memory
            .into_iter()
            .map(|m| {
                let len = m.dims()[0];
                if len > window {
                    m.slice(s![len - window..len, .., ..])
                } else {
                    m
                }
            })
            .collect();
        Self { c: self.c, memory }
    }

    /// Memory length M (0 before the first segment).
    pub fn memory_len(&self) -> usize {
        self.memory.first().map_or(0, |m| m.dims()[0])
    }
}
