//! Perceptual hashes exactly as the Python `imagehash` package defines them (64 bits, row-major,
//! most significant bit first, 16 hex digits), so users can check any row against `imagehash`.

use crate::decode::Pixels;
use crate::resize::{box_reduce_gray, gray_view, pillow_lanczos_gray};
use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashes {
    pub phash: u64,
    pub dhash: u64,
    /// dHash bits whose two pixels differ by at most one grey level: a reduced-size decode may
    /// flip them, so many of them mean the hash should come from the full image.
    pub fragile_dhash_bits: u32,
    /// The 32×32 gray thumbnail pHash was computed from (near-duplicate confirmation).
    pub thumb: Vec<u8>,
}

/// Above this many fragile dHash bits, the fast path re-hashes from the full-size image.
/// 20: on the synth corpora (benches/bench_hashes.py) every reduced-decode dHash more than 4
/// bits from imagehash had 25 or more fragile bits (flat charts); 32 let 5 of 276 through.
pub const MAX_FRAGILE_BITS: u32 = 20;

/// Both hashes of an image. `reduce_to`: pre-shrink (box filter, integer factor) so both sides
/// stay ≥ that size before the exact Pillow Lanczos step; `None` hashes the pixels as given.
pub fn hashes(src: &Pixels, reduce_to: Option<u32>) -> Hashes {
    let gray = gray_view(src);
    let factor = reduce_to.map(|s| (src.width.min(src.height) / s.max(1)).max(1)).unwrap_or(1);
    let (gray, w, h) = if factor > 1 {
        let (reduced, w, h) = box_reduce_gray(&gray, src.width, src.height, factor);
        (Cow::Owned(reduced), w, h)
    } else {
        (gray, src.width, src.height)
    };
    let (dhash, fragile_dhash_bits) = dhash(&gray, w, h);
    let thumb = pillow_lanczos_gray(&gray, w, h, 32, 32);
    Hashes { phash: phash_of_thumb(&thumb), dhash, fragile_dhash_bits, thumb }
}

/// `imagehash.phash`: Lanczos to 32×32, 2-D DCT-II, top-left 8×8, bit = coefficient > median.
pub fn phash(gray: &[u8], width: u32, height: u32) -> u64 {
    phash_of_thumb(&pillow_lanczos_gray(gray, width, height, 32, 32))
}

/// pHash of an already resized 32×32 gray image.
pub fn phash_of_thumb(small: &[u8]) -> u64 {
    const N: usize = 32;
    const K: usize = 8;
    let cos = dct_table::<N, K>();
    // DCT along axis 0 (down the columns), only the K lowest frequencies.
    let mut cols = [[0f64; N]; K];
    for (k, row) in cols.iter_mut().enumerate() {
        for (j, out) in row.iter_mut().enumerate() {
            *out = (0..N).map(|n| small[n * N + j] as f64 * cos[k][n]).sum::<f64>() * 2.0;
        }
    }
    // Then along axis 1.
    let mut low = [0f64; K * K];
    for k in 0..K {
        for l in 0..K {
            low[k * K + l] = (0..N).map(|n| cols[k][n] * cos[l][n]).sum::<f64>() * 2.0;
        }
    }
    let mut sorted = low;
    sorted.sort_by(|a, b| a.total_cmp(b));
    let median = (sorted[K * K / 2 - 1] + sorted[K * K / 2]) / 2.0;
    bits_msb_first(low.iter().map(|&c| c > median))
}

fn dct_table<const N: usize, const K: usize>() -> [[f64; N]; K] {
    let mut table = [[0f64; N]; K];
    for (k, row) in table.iter_mut().enumerate() {
        for (n, v) in row.iter_mut().enumerate() {
            *v = (std::f64::consts::PI * k as f64 * (2 * n + 1) as f64 / (2 * N) as f64).cos();
        }
    }
    table
}

/// `imagehash.dhash`: Lanczos to 9×8, bit = right neighbour brighter than left. Also returns
/// the number of fragile bits (neighbours within one grey level).
pub fn dhash(gray: &[u8], width: u32, height: u32) -> (u64, u32) {
    let small = pillow_lanczos_gray(gray, width, height, 9, 8);
    let pairs: Vec<(u8, u8)> = (0..8).flat_map(|y| (0..8).map(move |x| (y * 9 + x, y * 9 + x + 1))).map(|(l, r)| (small[l], small[r])).collect();
    let fragile = pairs.iter().filter(|(l, r)| l.abs_diff(*r) <= 1).count() as u32;
    (bits_msb_first(pairs.iter().map(|(l, r)| r > l)), fragile)
}

fn bits_msb_first(bits: impl Iterator<Item = bool>) -> u64 {
    bits.fold(0u64, |acc, b| (acc << 1) | b as u64)
}

pub fn to_hex(hash: u64) -> String {
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn left_to_right_gradient_has_all_dhash_bits() {
        let gray: Vec<u8> = (0..64).flat_map(|_| (0..64u32).map(|x| (x * 4) as u8)).collect();
        assert_eq!(dhash(&gray, 64, 64), (u64::MAX, 0));
    }

    #[test]
    fn hex_is_sixteen_digits() {
        assert_eq!(to_hex(0xab), "00000000000000ab");
    }
}
