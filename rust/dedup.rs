//! Near-duplicate search over 64-bit perceptual hashes, and AntiDupl's confirmation rule.
//!
//! Candidates: multi-index hashing. The hash is cut into four 16-bit chunks with one table each;
//! if two hashes differ in at most `r` bits, some chunk differs in at most ⌊r/4⌋ bits
//! (pigeonhole), so probing every table with the keys within ⌊r/4⌋ bits of the chunk finds every
//! pair. A pair is reported only by the first table that can find it, so never twice.

use std::thread;

const CHUNKS: usize = 4;

fn chunk(hash: u64, t: usize) -> u16 {
    (hash >> (16 * t)) as u16
}

/// One table: items grouped by the value of one 16-bit chunk (CSR layout), each item's hash
/// stored beside its index so a bucket scan reads memory sequentially.
struct Table {
    offsets: Vec<u32>,
    items: Vec<u32>,
    values: Vec<u64>,
}

impl Table {
    fn build(hashes: &[u64], t: usize) -> Table {
        let mut offsets = vec![0u32; (1 << 16) + 1];
        for &h in hashes {
            offsets[chunk(h, t) as usize + 1] += 1;
        }
        for k in 0..1 << 16 {
            offsets[k + 1] += offsets[k];
        }
        let mut fill = offsets.clone();
        let mut items = vec![0u32; hashes.len()];
        let mut values = vec![0u64; hashes.len()];
        for (i, &h) in hashes.iter().enumerate() {
            let slot = &mut fill[chunk(h, t) as usize];
            items[*slot as usize] = i as u32;
            values[*slot as usize] = h;
            *slot += 1;
        }
        Table { offsets, items, values }
    }

    fn bucket(&self, key: u16) -> (&[u32], &[u64]) {
        let range = self.offsets[key as usize] as usize..self.offsets[key as usize + 1] as usize;
        (&self.items[range.clone()], &self.values[range])
    }
}

/// Every 16-bit XOR mask of at most `radius` set bits: key ^ mask enumerates the neighbours.
fn masks(radius: u32) -> Vec<u16> {
    (0..=u16::MAX).filter(|m| m.count_ones() <= radius).collect()
}

/// Every pair (i < j) with Hamming distance ≤ `max_distance`, as (i, j, distance), sorted.
pub fn candidate_pairs(hashes: &[u64], max_distance: u32, threads: usize) -> Vec<(u32, u32, u32)> {
    let radius = max_distance / CHUNKS as u32;
    let tables: Vec<Table> = (0..CHUNKS).map(|t| Table::build(hashes, t)).collect();
    let masks = masks(radius);
    let threads = threads.max(1).min(hashes.len().max(1));
    let per_thread = hashes.len().div_ceil(threads);
    let mut pairs: Vec<(u32, u32, u32)> = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|w| {
                let (tables, masks) = (&tables, &masks);
                scope.spawn(move || {
                    let mut found = Vec::new();
                    let end = ((w + 1) * per_thread).min(hashes.len());
                    for i in w * per_thread..end {
                        probe(hashes, tables, masks, i, radius, max_distance, &mut found);
                    }
                    found
                })
            })
            .collect();
        workers.into_iter().flat_map(|h| h.join().expect("dedup worker")).collect()
    });
    pairs.sort_unstable();
    pairs
}

fn probe(hashes: &[u64], tables: &[Table], masks: &[u16], i: usize, radius: u32, max_distance: u32, found: &mut Vec<(u32, u32, u32)>) {
    let h = hashes[i];
    for (t, table) in tables.iter().enumerate() {
        let key = chunk(h, t);
        for &mask in masks {
            let (items, values) = table.bucket(key ^ mask);
            for (k, &other) in values.iter().enumerate() {
                let distance = (h ^ other).count_ones();
                if distance > max_distance {
                    continue; // the common case: one popcount per bucket entry
                }
                let j = items[k] as usize;
                // Report each pair once: from its lower index, in the first table that finds it.
                if j > i && !(0..t).any(|s| (chunk(h, s) ^ chunk(other, s)).count_ones() <= radius) {
                    found.push((i as u32, j as u32, distance));
                }
            }
        }
    }
}

/// AntiDupl 2.3.10's rule as ROCOv2 used it: the RMS difference of the gray 32×32 thumbnails is
/// at most `max_rms_fraction` of full scale, and the aspect ratios differ by at most
/// `max_aspect_difference` (relative).
pub fn antidupl_confirms(
    thumb_a: &[u8],
    thumb_b: &[u8],
    aspect_a: f64,
    aspect_b: f64,
    max_rms_fraction: f64,
    max_aspect_difference: f64,
) -> bool {
    if thumb_a.len() != thumb_b.len() || thumb_a.is_empty() {
        return false;
    }
    let aspect_gap = (aspect_a - aspect_b).abs() / aspect_a.max(aspect_b);
    if aspect_gap > max_aspect_difference {
        return false;
    }
    let mse = thumb_a.iter().zip(thumb_b).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum::<f64>() / thumb_a.len() as f64;
    mse.sqrt() <= max_rms_fraction * 255.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(hashes: &[u64], r: u32) -> Vec<(u32, u32, u32)> {
        let mut out = Vec::new();
        for i in 0..hashes.len() {
            for j in i + 1..hashes.len() {
                let d = (hashes[i] ^ hashes[j]).count_ones();
                if d <= r {
                    out.push((i as u32, j as u32, d));
                }
            }
        }
        out
    }

    #[test]
    fn multi_index_equals_brute_force() {
        // Clustered pseudo-random hashes: bases plus a few flipped bits.
        let mut state = 0x9E3779B97F4A7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut hashes = Vec::new();
        for _ in 0..300 {
            let base = next();
            hashes.push(base);
            for _ in 0..(next() % 4) {
                hashes.push(base ^ (1 << (next() % 64)) ^ (1 << (next() % 64)) ^ (1 << (next() % 64)));
            }
        }
        for r in [0, 3, 4, 7, 10, 12] {
            assert_eq!(candidate_pairs(&hashes, r, 3), brute(&hashes, r), "radius {r}");
        }
    }

    #[test]
    fn antidupl_rule() {
        let a = vec![100u8; 1024];
        let mut b = a.clone();
        b[0] = 255; // one pixel far off: RMS 155/32 ≈ 4.8 < 12.75
        assert!(antidupl_confirms(&a, &b, 1.0, 1.02, 0.05, 0.03));
        assert!(!antidupl_confirms(&a, &b, 1.0, 1.2, 0.05, 0.03), "aspect ratios too far apart");
        let c = vec![120u8; 1024];
        assert!(!antidupl_confirms(&a, &c, 1.0, 1.0, 0.05, 0.03), "RMS 20 > 12.75");
    }
}
