//! A package's bytes → its XML, images and unread members, as the scan reads a `.tar.gz`
//! (single or multi-member gzip); input that is not gzip goes to the tar reader directly.
#![no_main]
use rocov2_fast_core::archive::read_fuzz_input;
use rocov2_fast_core::records::ScanOptions;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = read_fuzz_input(data, &ScanOptions::default().read_limits);
});
