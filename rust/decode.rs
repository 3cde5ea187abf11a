//! Figure bytes → pixels, never more pixels than asked for.
//!
//! JPEG goes through libjpeg-turbo with DCT-domain scaling (the decoder itself produces an
//! image of at least `min_side` px on both sides, 1/8 steps); PNG, GIF and TIFF go through the
//! `image` crate. Dimensions are read from the header and checked against the limits before any
//! pixel buffer is allocated.

use crate::error::{ImageError, Status};
use turbojpeg::{Colorspace, Decompressor, Image, PixelFormat, ScalingFactor};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest width × height accepted (header values, before any scaling).
    pub max_pixels: u64,
    /// Largest encoded image accepted.
    pub max_bytes: u64,
    /// Largest buffer the decoder fills: width × height × channels × bytes per sample of what is
    /// actually decoded (a reduced JPEG decode counts at its reduced size). A 2.9 KB PNG of
    /// 13,000² 16-bit RGBA would need 1.35 GB.
    pub max_decoded_bytes: u64,
}

/// Default of [`Limits::max_decoded_bytes`]: 512 MiB, e.g. 13,000² 8-bit RGB (507 MB) passes.
pub const DEFAULT_MAX_DECODED_BYTES: u64 = 512 << 20;

impl Default for Limits {
    fn default() -> Self {
        // PMC's largest real figures are around 10k × 10k; 65,535² headers are bombs.
        Self { max_pixels: 178_956_970, max_bytes: 256 << 20, max_decoded_bytes: DEFAULT_MAX_DECODED_BYTES }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    Gif,
    Tiff,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Gif => "gif",
            Format::Tiff => "tiff",
        }
    }
}

/// Identifies the format by its magic bytes, never by the file name.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => Some(Format::Jpeg),
        [0x89, b'P', b'N', b'G', ..] => Some(Format::Png),
        [b'G', b'I', b'F', b'8', ..] => Some(Format::Gif),
        [b'I', b'I', 42, 0, ..] | [b'M', b'M', 0, 42, ..] => Some(Format::Tiff),
        _ => None,
    }
}

/// Decoded pixels: 8-bit RGB or gray, possibly reduced in size by the decoder.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub format: Format,
    /// Size in the file.
    pub width: u32,
    pub height: u32,
    /// Channels in the file's colour model (1 gray, 3 RGB/YCbCr, 4 CMYK/RGBA, ...).
    pub source_channels: u8,
    pub pixels: Pixels,
}

#[derive(Debug, Clone)]
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    /// 1 (gray) or 3 (RGB), row-major, no padding.
    pub channels: u8,
    pub data: Vec<u8>,
}

/// Decodes `bytes`; with `min_side = Some(s)` a JPEG is decoded at the smallest 1/8-step scale
/// that keeps both sides ≥ s (as Pillow's `draft` does); `None` decodes at full size.
pub fn decode(bytes: &[u8], min_side: Option<u32>, limits: &Limits) -> Result<Decoded, ImageError> {
    if bytes.len() as u64 > limits.max_bytes {
        return Err(ImageError::too_large(format!("{} bytes > limit {}", bytes.len(), limits.max_bytes)));
    }
    let format = sniff(bytes).ok_or_else(|| ImageError::new(Status::UnsupportedFormat, "not a JPEG, PNG, GIF or TIFF"))?;
    match format {
        Format::Jpeg => decode_jpeg(bytes, min_side, limits),
        _ => decode_other(bytes, format, limits),
    }
}

fn check_pixels(width: u64, height: u64, limits: &Limits) -> Result<(), ImageError> {
    if width == 0 || height == 0 {
        return Err(ImageError::decode("image has a zero dimension"));
    }
    if width * height > limits.max_pixels {
        return Err(ImageError::too_large(format!("{width}x{height} > limit of {} pixels", limits.max_pixels)));
    }
    Ok(())
}

/// The decoder's buffer, `width × height × channels × bytes_per_sample`, against the limit.
fn check_decoded_bytes(width: u64, height: u64, channels: u64, bytes_per_sample: u64, limits: &Limits) -> Result<(), ImageError> {
    let bytes = width.saturating_mul(height).saturating_mul(channels).saturating_mul(bytes_per_sample);
    if bytes > limits.max_decoded_bytes {
        return Err(ImageError::too_large(format!(
            "{width}x{height} x {channels} channel(s) x {bytes_per_sample} byte(s) per sample = {bytes} bytes to decode > limit of {} bytes (max_decoded_bytes)",
            limits.max_decoded_bytes
        )));
    }
    Ok(())
}

/// The smallest libjpeg-turbo scale n/8 whose output keeps both sides ≥ `min_side`.
fn jpeg_scale(width: usize, height: usize, min_side: Option<u32>) -> ScalingFactor {
    let Some(min_side) = min_side else { return ScalingFactor::ONE };
    (1..=8)
        .map(|n| ScalingFactor::new(n, 8))
        .find(|s| s.scale(width).min(s.scale(height)) >= min_side as usize)
        .unwrap_or(ScalingFactor::ONE)
}

/// Width and height from the first SOF segment, read without libjpeg (which refuses sides over
/// 65,500 with a generic error: we want such files reported as too large).
fn jpeg_dimensions(bytes: &[u8]) -> Option<(u64, u64)> {
    let mut i = 2;
    while i + 9 < bytes.len() {
        if bytes[i] != 0xFF {
            return None;
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize;
        if matches!(marker, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF) {
            let height = u16::from_be_bytes([bytes[i + 5], bytes[i + 6]]) as u64;
            let width = u16::from_be_bytes([bytes[i + 7], bytes[i + 8]]) as u64;
            return Some((width, height));
        }
        i += 2 + len;
    }
    None
}

fn decode_jpeg(bytes: &[u8], min_side: Option<u32>, limits: &Limits) -> Result<Decoded, ImageError> {
    if let Some((width, height)) = jpeg_dimensions(bytes) {
        check_pixels(width, height, limits)?;
    }
    let mut dec = Decompressor::new().map_err(ImageError::decode)?;
    let header = dec.read_header(bytes).map_err(ImageError::decode)?;
    check_pixels(header.width as u64, header.height as u64, limits)?;
    let scale = jpeg_scale(header.width, header.height, min_side);
    dec.set_scaling_factor(scale).map_err(ImageError::decode)?;
    // Reduced decodes are approximations anyway: skip the smooth chroma upsampling there.
    dec.set_fast_upsample(min_side.is_some()).map_err(ImageError::decode)?;
    let scaled = header.scaled(scale);
    let (format, channels, source_channels) = match header.colorspace {
        Colorspace::Gray => (PixelFormat::GRAY, 1usize, 1u8),
        Colorspace::CMYK | Colorspace::YCCK => (PixelFormat::CMYK, 4, 4),
        _ => (PixelFormat::RGB, 3, 3),
    };
    check_decoded_bytes(scaled.width as u64, scaled.height as u64, channels as u64, 1, limits)?;
    let mut data = vec![0u8; scaled.width * scaled.height * channels];
    let image = Image { pixels: &mut data[..], width: scaled.width, pitch: scaled.width * channels, height: scaled.height, format };
    dec.decompress(bytes, image).map_err(ImageError::decode)?;
    let (data, channels) = if channels == 4 { (cmyk_to_rgb(&data, has_adobe_marker(bytes)), 3) } else { (data, channels) };
    Ok(Decoded {
        format: Format::Jpeg,
        width: header.width as u32,
        height: header.height as u32,
        source_channels,
        pixels: Pixels { width: scaled.width as u32, height: scaled.height as u32, channels: channels as u8, data },
    })
}

/// Photoshop writes CMYK JPEGs inverted and marks them with an APP14 "Adobe" segment.
fn has_adobe_marker(bytes: &[u8]) -> bool {
    bytes.windows(9).take(64 * 1024).any(|w| w[0] == 0xFF && w[1] == 0xEE && &w[4..9] == b"Adobe")
}

/// CMYK → RGB as Pillow does it: r = (255 − c)(255 − k)/255, after undoing Adobe's inversion.
fn cmyk_to_rgb(cmyk: &[u8], inverted: bool) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(cmyk.len() / 4 * 3);
    for px in cmyk.chunks_exact(4) {
        let [c, m, y, k] = if inverted { [255 - px[0], 255 - px[1], 255 - px[2], 255 - px[3]] } else { [px[0], px[1], px[2], px[3]] };
        let nk = 255 - k as u32;
        for v in [c, m, y] {
            let t = v as u32 * nk + 128;
            rgb.push((nk - ((t + (t >> 8)) >> 8)) as u8);
        }
    }
    rgb
}

fn decode_other(bytes: &[u8], format: Format, limits: &Limits) -> Result<Decoded, ImageError> {
    use image::{ImageFormat, ImageReader};
    let image_format = match format {
        Format::Png => ImageFormat::Png,
        Format::Gif => ImageFormat::Gif,
        Format::Tiff => ImageFormat::Tiff,
        Format::Jpeg => unreachable!("JPEG goes through libjpeg-turbo"),
    };
    let cursor = std::io::Cursor::new(bytes);
    let (width, height) = ImageReader::with_format(cursor.clone(), image_format)
        .into_dimensions()
        .map_err(ImageError::decode)?;
    check_pixels(width as u64, height as u64, limits)?;
    let mut reader = ImageReader::with_format(cursor, image_format);
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(width);
    image_limits.max_image_height = Some(height);
    image_limits.max_alloc = Some(limits.max_decoded_bytes.saturating_add(64 << 20));
    reader.limits(image_limits);
    let decoder = reader.into_decoder().map_err(ImageError::decode)?;
    let color = image::ImageDecoder::color_type(&decoder);
    let channels = color.channel_count() as u64;
    check_decoded_bytes(width as u64, height as u64, channels, color.bytes_per_pixel() as u64 / channels.max(1), limits)?;
    let image = image::DynamicImage::from_decoder(decoder).map_err(ImageError::decode)?;
    let source_channels = image.color().channel_count();
    let pixels = if source_channels <= 2 {
        Pixels { width, height, channels: 1, data: image.into_luma8().into_raw() }
    } else {
        Pixels { width, height, channels: 3, data: image.into_rgb8().into_raw() }
    };
    Ok(Decoded { format, width, height, source_channels, pixels })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_keeps_both_sides_at_least_min_side() {
        let eighths = |s: ScalingFactor| s.num() * 8 / s.denom();
        assert_eq!(eighths(jpeg_scale(2000, 1000, Some(224))), 2);
        assert_eq!(eighths(jpeg_scale(300, 300, Some(224))), 6);
        assert_eq!(eighths(jpeg_scale(100, 100, Some(224))), 8);
    }

    #[test]
    fn huge_header_is_refused_before_allocation() {
        // A PNG claiming 65,535 × 65,535 RGB pixels, with one tiny IDAT.
        let png = png_header(65535, 65535, 8, 2);
        let err = decode(&png, None, &Limits::default()).unwrap_err();
        assert_eq!(err.status, Status::TooLarge, "{err}");
    }

    #[test]
    fn garbage_is_unsupported() {
        let err = decode(b"%PDF-1.4 not an image", None, &Limits::default()).unwrap_err();
        assert_eq!(err.status, Status::UnsupportedFormat);
    }

    /// An IHDR-only PNG (one empty IDAT): `bit_depth` and `color_type` as in the PNG spec.
    fn png_header(width: u32, height: u32, bit_depth: u8, color_type: u8) -> Vec<u8> {
        fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
            let mut out = (data.len() as u32).to_be_bytes().to_vec();
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            let mut crc = flate2::Crc::new();
            crc.update(kind);
            crc.update(data);
            out.extend_from_slice(&crc.sum().to_be_bytes());
            out
        }
        let mut ihdr = width.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[bit_depth, color_type, 0, 0, 0]);
        let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
        png.extend(chunk(b"IHDR", &ihdr));
        png.extend(chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]));
        png.extend(chunk(b"IEND", &[]));
        png
    }

    #[test]
    fn decoded_bytes_count_channels_and_sample_size() {
        // 13,000² is under the pixel limit; as 16-bit RGBA it is 1.35 GB to decode.
        let err = decode(&png_header(13_000, 13_000, 16, 6), None, &Limits::default()).unwrap_err();
        assert_eq!(err.status, Status::TooLarge, "{err}");
        assert!(err.message.contains("4 channel(s) x 2 byte(s)"), "{err}");
        // The same size as 8-bit gray (169 MB) passes the limit (and then fails on the empty data).
        let err = decode(&png_header(13_000, 13_000, 8, 0), None, &Limits::default()).unwrap_err();
        assert_eq!(err.status, Status::DecodeError, "{err}");
        // A small limit refuses a small 8-bit RGB image: 100 × 100 × 3 = 30,000 bytes.
        let limits = Limits { max_decoded_bytes: 29_999, ..Limits::default() };
        let err = decode(&png_header(100, 100, 8, 2), None, &limits).unwrap_err();
        assert_eq!(err.status, Status::TooLarge, "{err}");
    }
}
