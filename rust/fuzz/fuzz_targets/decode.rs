//! An image's bytes → decode, hashes, model-input resize and layout, as the scan does with
//! default limits (JPEG via libjpeg-turbo, PNG/GIF/TIFF via `image`).
#![no_main]
use rocov2_fast_core::records::{process_bytes, ScanOptions};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let opts = ScanOptions { with_pixels: true, ..ScanOptions::default() };
    let _ = process_bytes(data, &opts);
});
