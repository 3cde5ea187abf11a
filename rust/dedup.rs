//! Near-duplicate search over 64-bit perceptual hashes, and AntiDupl's confirmation rule.
//!
//! Exact, and linear in N for a fixed radius `r` (up to the output's own size):
//! 1. Equal hashes are grouped first (one radix sort), so a hash shared by thousands of blank
//!    images is one value, and its pairs at distance 0 are listed without any search.
//! 2. The distinct values are cut into `b` blocks of bits. Two values within distance `r` differ
//!    in at most `r` blocks, so they are equal on at least `b - r` blocks (pigeonhole): for every
//!    choice of `b - r` blocks ("a table", C(b, r) of them) the values are radix-sorted on those
//!    blocks and only values in the same run are compared (XOR + popcount). `b` is chosen so the
//!    key has about log2(N) bits (b = 9 at r = 6 for millions: 84 tables, runs of a few values).
//! 3. A pair equal on more than `b - r` blocks turns up in several tables; it is kept only in the
//!    one whose blocks are the first `b - r` blocks it is equal on, so it is listed once.
//!
//! Tables are independent and run in parallel (std threads, one pair of buffers each). Sorted
//! arrays only: no hash maps, no pointer chasing, each pass reads memory in order.

use crate::resize::cpu_has;
use std::thread;

/// Radix-sorts `data` (using `scratch` as the second buffer) by the bits of `key` named by
/// `digits` (shift, width ≤ 16), least significant digit first; passes where every item falls in
/// one bucket are skipped.
fn radix_sort<T: Copy + Default + Send>(data: &mut Vec<T>, scratch: &mut Vec<T>, digits: &[(u32, u32)], key: impl Fn(&T) -> u64) {
    let n = data.len();
    let mut hist: Vec<Vec<usize>> = digits.iter().map(|&(_, w)| vec![0usize; 1 << w]).collect();
    for item in data.iter() {
        let k = key(item);
        for (h, &(shift, w)) in hist.iter_mut().zip(digits) {
            h[((k >> shift) & ((1 << w) - 1)) as usize] += 1;
        }
    }
    scratch.clear();
    scratch.resize(n, T::default());
    for (h, &(shift, w)) in hist.iter_mut().zip(digits) {
        if h.contains(&n) {
            continue;
        }
        let mut sum = 0;
        for c in h.iter_mut() {
            let count = *c;
            *c = sum;
            sum += count;
        }
        for item in data.iter() {
            let slot = &mut h[((key(item) >> shift) & ((1 << w) - 1)) as usize];
            scratch[*slot] = *item;
            *slot += 1;
        }
        std::mem::swap(data, scratch);
    }
}

/// Distinct values (ascending) and, per value, the indices holding it (ascending), CSR layout.
struct Groups {
    values: Vec<u64>,
    offsets: Vec<usize>,
    members: Vec<u32>,
}

impl Groups {
    fn build(hashes: &[u64]) -> Groups {
        let mut items: Vec<(u64, u32)> = hashes.iter().enumerate().map(|(i, &h)| (h, i as u32)).collect();
        let digits: Vec<(u32, u32)> = (0..6).map(|d| (d * 11, if d == 5 { 9 } else { 11 })).collect();
        radix_sort(&mut items, &mut Vec::new(), &digits, |&(h, _)| h);
        let mut values = Vec::new();
        let mut offsets = Vec::new();
        for (k, &(h, _)) in items.iter().enumerate() {
            if k == 0 || h != items[k - 1].0 {
                values.push(h);
                offsets.push(k);
            }
        }
        offsets.push(items.len());
        Groups { values, offsets, members: items.into_iter().map(|(_, i)| i).collect() }
    }

    fn members(&self, g: usize) -> &[u32] {
        &self.members[self.offsets[g]..self.offsets[g + 1]]
    }
}

/// How the distinct values are searched: all pairs, or `blocks` blocks with C(blocks, r) tables.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Plan {
    AllPairs,
    Blocks(u32),
}

fn binomial(n: u32, k: u32) -> f64 {
    (0..k).map(|i| (n - i) as f64 / (i + 1) as f64).product()
}

/// Picks the cheaper of all pairs and each block count, by a cost model in "item touches": a
/// table costs a copy, a histogram pass and one pass per ≤ 8-bit digit per value, plus the
/// comparisons inside runs (a pair compare counted as half a touch).
fn plan(n: usize, radius: u32) -> Plan {
    let n = n as f64;
    let compare = 0.5;
    let mut best = (n * n / 2.0 * compare, Plan::AllPairs);
    for blocks in radius + 1..=63.min(radius + 16) {
        let keep = blocks - radius;
        let key_bits = (64 * keep / blocks) as f64;
        let tables = binomial(blocks, radius);
        let passes = (key_bits / 8.0).ceil();
        let per_table = n * (2.0 + passes) + n * (n / key_bits.exp2()).max(0.0) / 2.0 * compare;
        let cost = tables * per_table;
        if cost < best.0 {
            best = (cost, Plan::Blocks(blocks));
        }
    }
    best.1
}

/// Bit masks of `blocks` nearly equal blocks covering the 64 bits.
fn block_masks(blocks: u32) -> Vec<u64> {
    (0..blocks)
        .map(|i| {
            let (lo, hi) = (64 * i / blocks, 64 * (i + 1) / blocks);
            (if hi == 64 { u64::MAX } else { (1u64 << hi) - 1 }) & !((1u64 << lo) - 1)
        })
        .collect()
}

/// Every `blocks`-bit mask with `keep` bits set (Gosper's hack), ascending.
fn combinations(blocks: u32, keep: u32) -> Vec<u64> {
    let mut out = Vec::new();
    if keep == 0 || keep > blocks {
        return out;
    }
    let mut c: u64 = (1u64 << keep) - 1;
    while c < (1u64 << blocks) {
        out.push(c);
        let u = c & c.wrapping_neg();
        let v = c + u;
        c = v + (((v ^ c) / u) >> 2);
    }
    out
}

/// The radix digits (shift, width ≤ 8) covering the bits of `key_mask`, contiguous runs split.
fn digits_of(key_mask: u64) -> Vec<(u32, u32)> {
    let mut digits = Vec::new();
    let mut bit = 0;
    while bit < 64 {
        if key_mask >> bit & 1 == 0 {
            bit += 1;
            continue;
        }
        let start = bit;
        while bit < 64 && key_mask >> bit & 1 == 1 && bit - start < 8 {
            bit += 1;
        }
        digits.push((start, bit - start));
    }
    digits
}

/// Pairs of distinct values (a < b as values) with 1 ≤ distance ≤ `radius`, as (a, b, distance).
type ValuePairs = Vec<(u64, u64, u32)>;

/// All pairs among `values[i]` for `i ≡ part (mod parts)` and every later value.
#[inline(always)]
fn all_pairs_part(values: &[u64], radius: u32, part: usize, parts: usize, found: &mut ValuePairs) {
    for i in (part..values.len()).step_by(parts) {
        let a = values[i];
        for &b in &values[i + 1..] {
            let d = (a ^ b).count_ones();
            if d <= radius {
                found.push((a, b, d));
            }
        }
    }
}

/// One table: the values sorted on the table's blocks, then every pair inside each run of equal
/// key bits compared; kept when this table is the pair's canonical one (see the module docs).
#[inline(always)]
fn scan_runs(sorted: &[u64], key_mask: u64, table: u64, blocks: &[u64], keep: u32, radius: u32, found: &mut ValuePairs) {
    let mut start = 0;
    while start < sorted.len() {
        let key = sorted[start] & key_mask;
        let mut end = start + 1;
        while end < sorted.len() && sorted[end] & key_mask == key {
            end += 1;
        }
        let run = &sorted[start..end];
        for (k, &a) in run.iter().enumerate() {
            for &b in &run[k + 1..] {
                let x = a ^ b;
                let d = x.count_ones();
                if d > radius {
                    continue; // the common case: one popcount per pair
                }
                let mut equal = 0u64;
                for (i, &m) in blocks.iter().enumerate() {
                    equal |= ((x & m == 0) as u64) << i;
                }
                let mut canonical = 0u64;
                for _ in 0..keep {
                    let low = equal & equal.wrapping_neg();
                    canonical |= low;
                    equal ^= low;
                }
                if canonical == table {
                    found.push((a.min(b), a.max(b), d));
                }
            }
        }
        start = end;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn scan_runs_popcnt(sorted: &[u64], key_mask: u64, table: u64, blocks: &[u64], keep: u32, radius: u32, found: &mut ValuePairs) {
    scan_runs(sorted, key_mask, table, blocks, keep, radius, found)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn all_pairs_part_popcnt(values: &[u64], radius: u32, part: usize, parts: usize, found: &mut ValuePairs) {
    all_pairs_part(values, radius, part, parts, found)
}

/// The search of step 2 over distinct values, on `threads` threads.
fn value_pairs(values: &[u64], radius: u32, threads: usize, plan: Plan) -> ValuePairs {
    let popcnt = cpu_has!("popcnt");
    let (tables, blocks, keep) = match plan {
        Plan::AllPairs => (Vec::new(), Vec::new(), 0),
        Plan::Blocks(b) => (combinations(b, b - radius), block_masks(b), b - radius),
    };
    let parts = match plan {
        Plan::AllPairs => threads.min(values.len().max(1)),
        Plan::Blocks(_) => threads.min(tables.len()),
    };
    thread::scope(|scope| {
        let workers: Vec<_> = (0..parts)
            .map(|part| {
                let (tables, blocks) = (&tables, &blocks);
                scope.spawn(move || {
                    let mut found = Vec::new();
                    if plan == Plan::AllPairs {
                        #[cfg(target_arch = "x86_64")]
                        if popcnt {
                            // SAFETY: the CPU has POPCNT (checked at run time).
                            unsafe { all_pairs_part_popcnt(values, radius, part, parts, &mut found) };
                            return found;
                        }
                        all_pairs_part(values, radius, part, parts, &mut found);
                        return found;
                    }
                    let (mut sorted, mut scratch) = (Vec::with_capacity(values.len()), Vec::new());
                    for &table in tables.iter().skip(part).step_by(parts) {
                        let key_mask = blocks.iter().enumerate().filter(|(i, _)| table >> i & 1 == 1).fold(0, |m, (_, &b)| m | b);
                        sorted.clear();
                        sorted.extend_from_slice(values);
                        radix_sort(&mut sorted, &mut scratch, &digits_of(key_mask), |&v| v);
                        #[cfg(target_arch = "x86_64")]
                        if popcnt {
                            // SAFETY: the CPU has POPCNT (checked at run time).
                            unsafe { scan_runs_popcnt(&sorted, key_mask, table, blocks, keep, radius, &mut found) };
                            continue;
                        }
                        scan_runs(&sorted, key_mask, table, blocks, keep, radius, &mut found);
                    }
                    found
                })
            })
            .collect();
        workers.into_iter().flat_map(|h| h.join().expect("dedup worker")).collect()
    })
}

/// Every pair (i < j) with Hamming distance ≤ `max_distance`, as (i, j, distance), sorted.
pub fn candidate_pairs(hashes: &[u64], max_distance: u32, threads: usize) -> Vec<(u32, u32, u32)> {
    pairs_with_plan(hashes, max_distance, threads, None)
}

fn pairs_with_plan(hashes: &[u64], max_distance: u32, threads: usize, forced: Option<Plan>) -> Vec<(u32, u32, u32)> {
    let threads = threads.max(1);
    let groups = Groups::build(hashes);
    let mut pairs = Vec::new();
    for g in 0..groups.values.len() {
        let m = groups.members(g);
        for (k, &i) in m.iter().enumerate() {
            pairs.extend(m[k + 1..].iter().map(|&j| (i, j, 0)));
        }
    }
    if max_distance > 0 && groups.values.len() > 1 {
        let radius = max_distance.min(64);
        let plan = forced.unwrap_or_else(|| plan(groups.values.len(), radius));
        let found = value_pairs(&groups.values, radius, threads, plan);
        let id = |v: u64| groups.values.binary_search(&v).expect("a value of the input");
        for (a, b, d) in found {
            for &i in groups.members(id(a)) {
                pairs.extend(groups.members(id(b)).iter().map(|&j| (i.min(j), i.max(j), d)));
            }
        }
    }
    pairs.sort_unstable();
    pairs
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

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn flip(&mut self, h: u64, bits: u64) -> u64 {
            (0..bits).fold(h, |h, _| h ^ 1 << (self.next() % 64))
        }
    }

    /// Random bases with clusters of near copies (1-3 bits flipped).
    fn clustered(n: usize, seed: u64) -> Vec<u64> {
        let mut rng = XorShift(seed);
        let mut hashes = Vec::new();
        while hashes.len() < n {
            let base = rng.next();
            hashes.push(base);
            for _ in 0..rng.next() % 4 {
                let bits = 1 + rng.next() % 3;
                hashes.push(rng.flip(base, bits));
            }
        }
        hashes
    }

    /// Skewed like real figure hashes: a fifth are one blank image's hash, a fifth are a few bits
    /// from it, a few other values repeat many times, the rest random.
    fn skewed(n: usize, seed: u64) -> Vec<u64> {
        let mut rng = XorShift(seed);
        let blank = 0x8000_0000_0000_0000u64;
        let common: Vec<u64> = (0..5).map(|_| rng.next()).collect();
        (0..n)
            .map(|i| match i % 10 {
                0 | 1 => blank,
                2 | 3 => {
                    let bits = rng.next() % 9;
                    rng.flip(blank, bits)
                }
                4 => common[(rng.next() % 5) as usize],
                5 => {
                    let c = common[(rng.next() % 5) as usize];
                    let bits = 1 + rng.next() % 6;
                    rng.flip(c, bits)
                }
                _ => rng.next(),
            })
            .collect()
    }

    #[test]
    fn equals_brute_force_on_random_and_skewed_hashes_for_every_plan() {
        for (name, hashes) in [("clustered", clustered(1500, 0x9E3779B97F4A7C15)), ("skewed", skewed(1200, 7)), ("random", (0..800).map(|i| XorShift(i + 1).next().wrapping_mul(0x2545F4914F6CDD1D)).collect())] {
            for r in [0, 1, 2, 3, 4, 6, 7, 10, 12] {
                let expected = brute(&hashes, r);
                assert_eq!(candidate_pairs(&hashes, r, 3), expected, "{name}, radius {r}, chosen plan");
                assert_eq!(pairs_with_plan(&hashes, r, 2, Some(Plan::AllPairs)), expected, "{name}, radius {r}, all pairs");
                for blocks in [r + 1, r + 2, r + 3, r + 6].into_iter().filter(|&b| (1..=63).contains(&b)) {
                    assert_eq!(pairs_with_plan(&hashes, r, 2, Some(Plan::Blocks(blocks))), expected, "{name}, radius {r}, {blocks} blocks");
                }
            }
        }
    }

    #[test]
    fn plan_is_linear_size_tables_at_radius_6() {
        assert_eq!(plan(100, 6), Plan::AllPairs);
        assert_eq!(plan(16_000_000, 6), Plan::Blocks(9));
        assert_eq!(combinations(9, 3).len(), 84);
        assert_eq!(block_masks(9).iter().fold(0, |a, m| a | m), u64::MAX);
        assert_eq!(block_masks(9).iter().map(|m| m.count_ones()).sum::<u32>(), 64);
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
