//! An NXML byte string → `parse_article`, as the scan parses a package's XML.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = rocov2_fast_core::jats::parse_article(data);
});
