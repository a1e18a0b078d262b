//! The unsafe plumbing of the CPU kernel, and nothing else: a raw pointer that the parallel
//! work items write through ([`Shared`]), and an output buffer that is allocated without
//! zeroing because the items fill every element ([`Unfilled`]).
//!
//! Why it is sound: every work item owns a disjoint set of indices (its batch row, direction
//! and units, at every time step; see `columns::Item`), so no two threads write the same
//! element, nobody reads an output while it is written, and the buffers outlive the rayon
//! scope that writes them. Callers state which indices they write in their own `SAFETY:`
//! comments.

/// A raw pointer shared by the work items; each item writes a disjoint set of indices.
#[derive(Clone, Copy)]
pub(crate) struct Shared<T>(*mut T);

// SAFETY: the pointer is only written through `write_slice`, whose callers guarantee
// that no two threads touch the same index; the pointee outlives every thread that holds it.
unsafe impl<T> Send for Shared<T> {}
// SAFETY: as for `Send`: shared access only ever writes disjoint indices.
unsafe impl<T> Sync for Shared<T> {}

impl<T> Shared<T> {
    /// A pointer to the start of `v`.
    pub(crate) fn new(v: &mut [T]) -> Self {
        Self(v.as_mut_ptr())
    }

    /// Writes `src` at indices `i .. i + src.len()`.
    ///
    /// # Safety
    /// Those indices are in bounds and no other thread writes them.
    #[inline(always)]
    pub(crate) unsafe fn write_slice(self, i: usize, src: &[T]) {
        // SAFETY: the caller guarantees the destination range is in bounds and owned by this
        // thread; `src` is a separate borrow, so the ranges cannot overlap.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.0.add(i), src.len()) }
    }

    /// The raw pointer, for a callee (the `gemm` crate) that writes through it; the caller
    /// states which indices that callee writes.
    pub(crate) fn ptr(self) -> *mut T {
        self.0
    }
}

/// An output buffer that the work items fill completely, so it is allocated without zeroing
/// (zeroing it took 10% of the bare forward).
pub(crate) struct Unfilled<T> {
    buf: Vec<T>,
    len: usize,
}

impl<T> Unfilled<T> {
    /// Room for `len` elements, none written yet.
    pub(crate) fn new(len: usize) -> Self {
        Self {
            buf: Vec::with_capacity(len),
            len,
        }
    }

    /// The pointer the items write through.
    pub(crate) fn shared(&mut self) -> Shared<T> {
        Shared(self.buf.as_mut_ptr())
    }

    /// Writes `row` `times` times from the start (the rows not yet written by anyone else).
    pub(crate) fn fill_rows(&mut self, row: &[T], times: usize)
    where
        T: Copy,
    {
        assert!(
            self.buf.is_empty() && row.len() * times <= self.len,
            "fill_rows writes a fresh buffer's first rows"
        );
        for _ in 0..times {
            self.buf.extend_from_slice(row);
        }
    }

    /// The buffer, once written.
    ///
    /// # Safety
    /// Every index below the length was written through [`Self::shared`].
    pub(crate) unsafe fn filled(mut self) -> Vec<T> {
        // SAFETY: the capacity is `self.len` (allocated in `new`), and the caller guarantees
        // that every element below it has been initialised.
        unsafe { self.buf.set_len(self.len) };
        self.buf
    }
}
