//! The recurrent state a caller carries from segment to segment: the last cell state `c` of
//! every layer and every layer's memory (its inputs of the previous segment). The model never
//! keeps it; detaching (cutting the gradient at the segment boundary) is explicit.

use burn::tensor::{Tensor, backend::Backend, s};

/// State of an SRU++ stack between segments.
#[derive(Debug, Clone)]
pub struct SruppState<B: Backend> {
    /// `(layers, B, D)`.
    pub c: Tensor<B, 3>,
    /// Per layer, `(M, B, in_i)`; empty before the first segment.
    pub memory: Vec<Tensor<B, 3>>,
}

impl<B: Backend> SruppState<B> {
    /// Cuts the gradient at the segment boundary (truncated back-propagation through time).
    pub fn detach(self) -> Self {
        Self {
            c: self.c.detach(),
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
