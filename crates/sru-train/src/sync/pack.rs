//! Bytes carried by an all-reduce: packed three to an f32, as integers below 2²⁴, which any
//! sum with zeros keeps exact ([`super::Peer::gather`], [`super::Peer::broadcast`]).

/// Bytes packed into one f32 (an integer below 2²⁴, exact in f32).
pub(super) const BYTES_PER_VALUE: usize = 3;

/// `bytes` three to a value (little-endian, the last value zero-padded).
pub(super) fn pack(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks(BYTES_PER_VALUE)
        .map(|c| {
            let v = c
                .iter()
                .enumerate()
                .fold(0u32, |v, (i, &b)| v | u32::from(b) << (8 * i));
            v as f32
        })
        .collect()
}

/// The first `len` bytes packed in `values`.
pub(super) fn unpack(values: &[f32], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * BYTES_PER_VALUE);
    for &v in values {
        let v = v as u32;
        out.extend_from_slice(&v.to_le_bytes()[..BYTES_PER_VALUE]);
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::{pack, unpack};

    #[test]
    fn bytes_survive_packing_and_sums_with_zeros() {
        let bytes: Vec<u8> = (0..=255u8).chain([0, 255, 255, 7]).collect();
        let packed = pack(&bytes);
        assert_eq!(packed.len(), bytes.len().div_ceil(3));
        let summed: Vec<f32> = packed.iter().map(|v| 0.0 + v + 0.0).collect();
        assert_eq!(unpack(&summed, bytes.len()), bytes);
        assert!(packed.iter().all(|&v| v < (1 << 24) as f32));
    }
}
