//! Resizing: SIMD resize to the model's input size, and a bit-exact port of Pillow's
//! Lanczos resampler for the tiny grayscale images the perceptual hashes are computed from.

use crate::decode::Pixels;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

/// How a non-square image is fitted into the square model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Keep the aspect ratio, scale the longer side to the target, centre on black.
    Pad,
    /// Scale each side to the target independently (distorts the aspect ratio).
    Stretch,
}

impl Fit {
    pub fn parse(s: &str) -> Option<Fit> {
        match s {
            "pad" => Some(Fit::Pad),
            "stretch" => Some(Fit::Stretch),
            _ => None,
        }
    }
}

/// Any 8-bit gray or RGB image → `size`×`size`×3 RGB, antialiased bilinear. Gray images are
/// resized as gray and expanded afterwards: the same values (channels resize independently)
/// for a ninth of the work.
pub fn to_model_input(src: &Pixels, size: u32, fit: Fit) -> Vec<u8> {
    let (w, h) = match fit {
        Fit::Stretch => (size, size),
        Fit::Pad => {
            let scale = size as f64 / src.width.max(src.height) as f64;
            let w = ((src.width as f64 * scale).round() as u32).clamp(1, size);
            let h = ((src.height as f64 * scale).round() as u32).clamp(1, size);
            (w, h)
        }
    };
    let resized = gray_to_rgb(resize(src, w, h), src.channels);
    if (w, h) == (size, size) {
        return resized;
    }
    let mut canvas = vec![0u8; (size * size * 3) as usize];
    let (x0, y0) = ((size - w) / 2, (size - h) / 2);
    for row in 0..h {
        let dst = (((y0 + row) * size + x0) * 3) as usize;
        let src_row = (row * w * 3) as usize;
        canvas[dst..dst + (w * 3) as usize].copy_from_slice(&resized[src_row..src_row + (w * 3) as usize]);
    }
    canvas
}

fn gray_to_rgb(pixels: Vec<u8>, channels: u8) -> Vec<u8> {
    if channels == 3 {
        return pixels;
    }
    let mut rgb = vec![0u8; pixels.len() * 3];
    for (out, &v) in rgb.chunks_exact_mut(3).zip(&pixels) {
        out.fill(v);
    }
    rgb
}

/// Bilinear (antialiased) resize of a gray or RGB image, keeping its channels.
fn resize(src: &Pixels, out_w: u32, out_h: u32) -> Vec<u8> {
    if (src.width, src.height) == (out_w, out_h) {
        return src.data.clone();
    }
    let pixel_type = if src.channels == 3 { PixelType::U8x3 } else { PixelType::U8 };
    let src = ImageRef::new(src.width, src.height, &src.data, pixel_type).expect("buffer matches its dimensions");
    let mut dst = Image::new(out_w, out_h, pixel_type);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    Resizer::new().resize(&src, &mut dst, &options).expect("same pixel type on both sides");
    dst.into_vec()
}

/// Whether the running x86-64 CPU has `feature` ("avx2", "popcnt", ...); false elsewhere.
macro_rules! cpu_has {
    ($feature:tt) => {{
        #[cfg(target_arch = "x86_64")]
        let has = std::arch::is_x86_feature_detected!($feature);
        #[cfg(not(target_arch = "x86_64"))]
        let has = false;
        has
    }};
}
pub(crate) use cpu_has;

/// Rec. 601 luma exactly as Pillow's `convert("L")`.
pub fn to_gray(src: &Pixels) -> Vec<u8> {
    gray_view(src).into_owned()
}

/// [`to_gray`] without copying images that are gray already.
pub fn gray_view(src: &Pixels) -> Cow<'_, [u8]> {
    if src.channels == 1 {
        return Cow::Borrowed(&src.data);
    }
    #[cfg(target_arch = "x86_64")]
    if cpu_has!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { rgb_to_gray_avx2(&src.data) }.into();
    }
    rgb_to_gray(&src.data).into()
}

/// Pillow's `L = (19595 R + 38470 G + 7471 B + 2^15) >> 16`, written as a zip over a
/// preallocated buffer: with AVX2 the compiler vectorises the stride-3 loads (5× the speed of
/// a collected iterator on a 2000×1500 image), which matters for full-size re-hashes.
#[inline(always)]
fn rgb_to_gray(rgb: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; rgb.len() / 3];
    for (o, p) in out.iter_mut().zip(rgb.chunks_exact(3)) {
        *o = ((p[0] as u32 * 19595 + p[1] as u32 * 38470 + p[2] as u32 * 7471 + 0x8000) >> 16) as u8;
    }
    out
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn rgb_to_gray_avx2(rgb: &[u8]) -> Vec<u8> {
    rgb_to_gray(rgb)
}

/// Averages `factor`×`factor` blocks (like Pillow's `reduce`): a cheap pre-shrink for the fast
/// hash path of formats that cannot be decoded at reduced size. Each band of `factor` rows is
/// summed column by column first (a loop the compiler vectorises), then in groups of `factor`.
pub fn box_reduce_gray(gray: &[u8], width: u32, height: u32, factor: u32) -> (Vec<u8>, u32, u32) {
    let (ow, oh) = (width.div_ceil(factor), height.div_ceil(factor));
    let (w, f) = (width as usize, factor as usize);
    let mut out = Vec::with_capacity((ow * oh) as usize);
    let mut sums = vec![0u32; w];
    for band in gray[..w * height as usize].chunks(w * f) {
        sums.fill(0);
        for row in band.chunks_exact(w) {
            for (s, &v) in sums.iter_mut().zip(row) {
                *s += v as u32;
            }
        }
        let rows = (band.len() / w) as u32;
        for block in sums.chunks(f) {
            let n = block.len() as u32 * rows;
            out.push(((block.iter().sum::<u32>() + n / 2) / n) as u8);
        }
    }
    (out, ow, oh)
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    let x = x * std::f64::consts::PI;
    x.sin() / x
}

fn lanczos(x: f64) -> f64 {
    if (-3.0..3.0).contains(&x) {
        sinc(x) * sinc(x / 3.0)
    } else {
        0.0
    }
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for one (input size, output size)
/// pair: per output pixel the first input index and the tap count, and `ksize` fixed-point
/// weights per output pixel (zero past the tap count).
struct Coefficients {
    ksize: usize,
    bounds: Vec<(usize, usize)>,
    weights: Vec<i32>,
}

impl Coefficients {
    fn compute(in_size: u32, out_size: u32) -> Coefficients {
        let scale = in_size as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = 3.0 * filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        let mut bounds = Vec::with_capacity(out_size as usize);
        let mut weights = vec![0i32; ksize * out_size as usize];
        let mut k = vec![0f64; ksize];
        for xx in 0..out_size as usize {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filterscale;
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize - xmin;
            let mut ww = 0.0;
            for (x, kx) in k[..xmax].iter_mut().enumerate() {
                *kx = lanczos((x as f64 + xmin as f64 - center + 0.5) * ss);
                ww += *kx;
            }
            for (fixed_w, &kx) in weights[xx * ksize..xx * ksize + xmax].iter_mut().zip(&k[..xmax]) {
                let w = if ww != 0.0 { kx / ww } else { kx };
                let fixed = w * (1u32 << PRECISION_BITS) as f64;
                *fixed_w = if w < 0.0 { (-0.5 + fixed) as i32 } else { (0.5 + fixed) as i32 };
            }
            bounds.push((xmin, xmax));
        }
        Coefficients { ksize, bounds, weights }
    }

    fn taps(&self, out: usize) -> (usize, &[i32]) {
        let (first, n) = self.bounds[out];
        (first, &self.weights[out * self.ksize..out * self.ksize + n])
    }
}

thread_local! {
    /// Coefficients per (input size, output size): figures come in a few hundred sizes and each
    /// set costs thousands of `sin` calls, so each thread computes a pair once.
    static COEFFICIENTS: RefCell<HashMap<(u32, u32), Rc<Coefficients>>> = RefCell::new(HashMap::new());
}

/// Bounds the cache (each entry is a few kB to a few hundred kB for very large inputs).
const MAX_CACHED_PAIRS: usize = 512;

fn coefficients(in_size: u32, out_size: u32) -> Rc<Coefficients> {
    COEFFICIENTS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(c) = cache.get(&(in_size, out_size)) {
            return c.clone();
        }
        if cache.len() >= MAX_CACHED_PAIRS {
            cache.clear();
        }
        let c = Rc::new(Coefficients::compute(in_size, out_size));
        cache.insert((in_size, out_size), c.clone());
        c
    })
}

fn clip8(v: i32) -> u8 {
    if v >= (1i32 << PRECISION_BITS << 8) {
        255
    } else if v <= 0 {
        0
    } else {
        (v >> PRECISION_BITS) as u8
    }
}

const HALF: i32 = 1 << (PRECISION_BITS - 1);

/// Horizontal pass over `rows` (each `width` long) into `out` (`out_w` per row). i32 as in
/// Pillow: the weights sum to 2^22, so 255 × 2^22 plus rounding fits. Written as plain
/// dot products so the compiler vectorises them.
#[inline(always)]
fn horizontal(rows: &[u8], width: usize, c: &Coefficients, out: &mut Vec<u8>) {
    for row in rows.chunks_exact(width) {
        for xx in 0..c.bounds.len() {
            let (first, w) = c.taps(xx);
            let acc: i32 = row[first..first + w.len()].iter().zip(w).map(|(&p, &k)| p as i32 * k).sum();
            out.push(clip8(acc + HALF));
        }
    }
}

/// Vertical pass: each output row is a weighted sum of whole input rows (vectorised across x).
#[inline(always)]
fn vertical(tmp: &[u8], width: usize, row_offset: usize, c: &Coefficients, out: &mut Vec<u8>) {
    let mut acc = vec![0i32; width];
    for yy in 0..c.bounds.len() {
        let (first, w) = c.taps(yy);
        acc.fill(HALF);
        for (i, &k) in w.iter().enumerate() {
            let row = &tmp[(first - row_offset + i) * width..][..width];
            for (a, &p) in acc.iter_mut().zip(row) {
                *a += p as i32 * k;
            }
        }
        out.extend(acc.iter().map(|&a| clip8(a)));
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn horizontal_avx2(rows: &[u8], width: usize, c: &Coefficients, out: &mut Vec<u8>) {
    horizontal(rows, width, c, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn vertical_avx2(tmp: &[u8], width: usize, row_offset: usize, c: &Coefficients, out: &mut Vec<u8>) {
    vertical(tmp, width, row_offset, c, out)
}


fn horizontal_pass(rows: &[u8], width: usize, c: &Coefficients, out: &mut Vec<u8>) {
    #[cfg(target_arch = "x86_64")]
    if cpu_has!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { horizontal_avx2(rows, width, c, out) };
    }
    horizontal(rows, width, c, out)
}

fn vertical_pass(tmp: &[u8], width: usize, row_offset: usize, c: &Coefficients, out: &mut Vec<u8>) {
    #[cfg(target_arch = "x86_64")]
    if cpu_has!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { vertical_avx2(tmp, width, row_offset, c, out) };
    }
    vertical(tmp, width, row_offset, c, out)
}

/// Bit-exact `Image.resize((out_w, out_h), Image.LANCZOS)` of a mode "L" image (Pillow's
/// `ImagingResampleInner`: horizontal pass first, over only the rows the vertical pass reads).
pub fn pillow_lanczos_gray(gray: &[u8], width: u32, height: u32, out_w: u32, out_h: u32) -> Vec<u8> {
    let (width, height) = (width as usize, height as usize);
    let need_h = out_w as usize != width;
    let need_v = out_h as usize != height;
    let vert = need_v.then(|| coefficients(height as u32, out_h));
    let rows = match &vert {
        Some(v) => {
            let (first, _) = v.bounds[0];
            let (last, n) = v.bounds[out_h as usize - 1];
            first..last + n
        }
        None => 0..height,
    };
    let mut tmp;
    let (tmp_ref, tmp_w, row_offset): (&[u8], usize, usize) = if need_h {
        let horiz = coefficients(width as u32, out_w);
        tmp = Vec::with_capacity(rows.len() * out_w as usize);
        horizontal_pass(&gray[rows.start * width..rows.end * width], width, &horiz, &mut tmp);
        (&tmp, out_w as usize, rows.start)
    } else {
        (gray, width, 0)
    };
    let Some(vert) = vert else {
        return tmp_ref.to_vec();
    };
    let mut out = Vec::with_capacity(tmp_w * out_h as usize);
    vertical_pass(tmp_ref, tmp_w, row_offset, &vert, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_image_stays_constant() {
        let gray = vec![77u8; 50 * 40];
        assert!(pillow_lanczos_gray(&gray, 50, 40, 32, 32).iter().all(|&v| v == 77));
    }

    #[test]
    fn pad_centres_the_image() {
        let src = Pixels { width: 400, height: 100, channels: 1, data: vec![200; 40_000] };
        let out = to_model_input(&src, 224, Fit::Pad);
        assert_eq!(out.len(), 224 * 224 * 3);
        assert_eq!(out[0], 0, "top-left corner is padding");
        let centre = ((112 * 224 + 112) * 3) as usize;
        assert_eq!(out[centre], 200);
    }

    #[test]
    fn gray_matches_pillow_formula() {
        let src = Pixels { width: 1, height: 1, channels: 3, data: vec![255, 0, 0] };
        assert_eq!(to_gray(&src), vec![76]);
        // every path (AVX2 or not, any length) is the formula, pixel by pixel
        let data: Vec<u8> = (0..3 * 1001u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let src = Pixels { width: 1001, height: 1, channels: 3, data };
        let formula: Vec<u8> = src.data.chunks_exact(3).map(|p| ((p[0] as u32 * 19595 + p[1] as u32 * 38470 + p[2] as u32 * 7471 + 0x8000) >> 16) as u8).collect();
        assert_eq!(to_gray(&src), formula);
        assert_eq!(rgb_to_gray(&src.data), formula);
    }

    #[test]
    fn box_reduce_averages_each_block_with_partial_blocks_at_the_edges() {
        let (w, h, f) = (23u32, 17u32, 4u32);
        let gray: Vec<u8> = (0..w * h).map(|i| (i.wrapping_mul(40_503) >> 5) as u8).collect();
        let (out, ow, oh) = box_reduce_gray(&gray, w, h, f);
        assert_eq!((ow, oh, out.len()), (6, 5, 30));
        for (oy, ox) in (0..oh).flat_map(|y| (0..ow).map(move |x| (y, x))) {
            let (xs, ys) = (ox * f..(ox * f + f).min(w), oy * f..(oy * f + f).min(h));
            let n = xs.len() as u32 * ys.len() as u32;
            let gray = &gray;
            let sum: u32 = ys.flat_map(|y| xs.clone().map(move |x| gray[(y * w + x) as usize] as u32)).sum();
            assert_eq!(out[(oy * ow + ox) as usize], ((sum + n / 2) / n) as u8, "block ({ox}, {oy})");
        }
    }
}
