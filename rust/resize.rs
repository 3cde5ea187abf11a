//! Resizing: SIMD resize to the model's input size, and a bit-exact port of Pillow's
//! Lanczos resampler for the tiny grayscale images the perceptual hashes are computed from.

use crate::decode::Pixels;
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

/// Rec. 601 luma exactly as Pillow's `convert("L")`.
pub fn to_gray(src: &Pixels) -> Vec<u8> {
    if src.channels == 1 {
        return src.data.clone();
    }
    src.data
        .chunks_exact(3)
        .map(|p| ((p[0] as u32 * 19595 + p[1] as u32 * 38470 + p[2] as u32 * 7471 + 0x8000) >> 16) as u8)
        .collect()
}

/// Averages `factor`×`factor` blocks (like Pillow's `reduce`): a cheap pre-shrink for the fast
/// hash path of formats that cannot be decoded at reduced size.
pub fn box_reduce_gray(gray: &[u8], width: u32, height: u32, factor: u32) -> (Vec<u8>, u32, u32) {
    let (ow, oh) = (width.div_ceil(factor), height.div_ceil(factor));
    let mut out = Vec::with_capacity((ow * oh) as usize);
    for oy in 0..oh {
        for ox in 0..ow {
            let (x0, y0) = (ox * factor, oy * factor);
            let (x1, y1) = ((x0 + factor).min(width), (y0 + factor).min(height));
            let mut sum = 0u32;
            for y in y0..y1 {
                let row = &gray[(y * width) as usize..];
                sum += row[x0 as usize..x1 as usize].iter().map(|&v| v as u32).sum::<u32>();
            }
            let n = (x1 - x0) * (y1 - y0);
            out.push(((sum + n / 2) / n) as u8);
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

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc`: per output pixel the first input
/// index, the tap count and fixed-point weights.
fn coefficients(in_size: u32, out_size: u32) -> (usize, Vec<(usize, usize)>, Vec<i32>) {
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
        for x in 0..xmax {
            let w = lanczos((x as f64 + xmin as f64 - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for x in 0..xmax {
            let w = if ww != 0.0 { k[x] / ww } else { k[x] };
            let fixed = w * (1u32 << PRECISION_BITS) as f64;
            weights[xx * ksize + x] = if w < 0.0 { (-0.5 + fixed) as i32 } else { (0.5 + fixed) as i32 };
        }
        bounds.push((xmin, xmax));
    }
    (ksize, bounds, weights)
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

/// Bit-exact `Image.resize((out_w, out_h), Image.LANCZOS)` of a mode "L" image.
pub fn pillow_lanczos_gray(gray: &[u8], width: u32, height: u32, out_w: u32, out_h: u32) -> Vec<u8> {
    let (kh, bounds_h, weights_h) = coefficients(width, out_w);
    let (kv, bounds_v, weights_v) = coefficients(height, out_h);
    let need_h = out_w != width;
    let need_v = out_h != height;
    // Horizontal pass over only the rows the vertical pass will read.
    let first_row = bounds_v[0].0;
    let last_row = bounds_v[out_h as usize - 1].0 + bounds_v[out_h as usize - 1].1;
    let (tmp, tmp_w, row_offset) = if need_h {
        let rows = if need_v { first_row..last_row } else { 0..height as usize };
        let offset = rows.start;
        let mut tmp = Vec::with_capacity(rows.len() * out_w as usize);
        for y in rows {
            let row = &gray[y * width as usize..(y + 1) * width as usize];
            for (xx, &(xmin, n)) in bounds_h.iter().enumerate() {
                let w = &weights_h[xx * kh..xx * kh + n];
                // i32 as in Pillow: weights sum to 2^22, so 255 × 2^22 plus rounding fits.
                let acc: i32 = row[xmin..xmin + n].iter().zip(w).map(|(&p, &c)| p as i32 * c).sum();
                tmp.push(clip8(acc + (1i32 << (PRECISION_BITS - 1))));
            }
        }
        (tmp, out_w as usize, offset)
    } else {
        (gray.to_vec(), width as usize, 0)
    };
    if !need_v {
        return tmp;
    }
    let mut out = Vec::with_capacity((out_w * out_h) as usize);
    for (yy, &(ymin, n)) in bounds_v.iter().enumerate() {
        let w = &weights_v[yy * kv..yy * kv + n];
        for x in 0..tmp_w {
            let mut acc = 1i32 << (PRECISION_BITS - 1);
            for (i, &c) in w.iter().enumerate() {
                acc += tmp[(ymin - row_offset + i) * tmp_w + x] as i32 * c;
            }
            out.push(clip8(acc));
        }
    }
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
    }
}
