//! Mutation smoke test (not coverage-guided: the libFuzzer targets are in rust/fuzz, run by
//! scripts/fuzz.sh, docs/fuzzing.md): seeds from the fixtures, mutated by a fixed-seed generator
//! (bit flips, byte runs, cuts, splices, repeats), fed to the JATS parser, the gzip/tar reader and
//! the image decoders. Any panic fails the test. `ROCOV2_FUZZ_ITERATIONS=200000 cargo test
//! --release fuzz_smoke` for longer runs.
//!
//! Also replays every input the fuzzers found crashing (tests/fixtures/fuzz_regressions/<target>/)
//! through the same entry points as the fuzz targets: each must end in a clean result or error.

use crate::archive::{read_fuzz_input, read_package_bytes, read_tar_bytes, ReadLimits};
use crate::decode::{decode, Limits};
use crate::jats::parse_article;
use crate::records::{process_bytes, ScanOptions};
use std::panic::{catch_unwind, AssertUnwindSafe};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        match rng.below(6) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                let n = rng.below(16).min(len - i);
                let byte = [0u8, 0xFF, b'<', b'>', b'&', 0x80][rng.below(6)];
                data[i..i + n].fill(byte);
            }
            2 if len > 0 => data.truncate(rng.below(len)),
            3 if len > 1 => {
                let (a, b) = (rng.below(len), rng.below(len));
                let (a, b) = (a.min(b), a.max(b));
                let piece = data[a..b].to_vec();
                let at = rng.below(len);
                data.splice(at..at, piece);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = rng.below(8).min(len - i);
                data.drain(i..i + n);
            }
            _ => {
                let at = rng.below(len + 1);
                let insert = [&b"<italic>"[..], b"</p>", b"&#x0;", b"<?xml encoding=\"latin1\"?>", b"\xEF\xBB\xBF"][rng.below(5)];
                data.splice(at..at, insert.iter().copied());
            }
        }
        if data.len() > (4 << 20) {
            data.truncate(4 << 20);
        }
    }
    data
}

fn iterations() -> usize {
    std::env::var("ROCOV2_FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
}

const XML_SEEDS: [&[u8]; 3] = [
    include_bytes!("../tests/fixtures/jats/pntd.0002065.nxml"),
    include_bytes!("../tests/fixtures/jats/1472-6831-8-11.nxml"),
    br#"<?xml version="1.0" encoding="ISO-8859-1"?><article xmlns:xlink="http://www.w3.org/1999/xlink"><front><article-meta><permissions><license xlink:href="http://creativecommons.org/licenses/by/4.0/"/></permissions></article-meta></front><body><fig id="f1"><label>Figure 1</label><caption><p>CO<sub>2</sub> <italic>x</italic></p></caption><graphic xlink:href="f1"/></fig></body></article>"#,
];

#[test]
fn fuzz_smoke_jats() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..iterations() {
        let input = mutate(XML_SEEDS[i % XML_SEEDS.len()], &mut rng);
        let _ = parse_article(&input);
    }
}

#[test]
fn fuzz_smoke_gzip_tar() {
    use flate2::write::GzEncoder;
    use std::io::Write;
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in [("P/a.nxml", XML_SEEDS[2]), ("P/f1.jpg", &include_bytes!("../tests/fixtures/real_images_test/0000.jpg")[..])] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, data).unwrap();
    }
    let tar = builder.into_inner().unwrap();
    let gz = |d: &[u8]| {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(d).unwrap();
        e.finish().unwrap()
    };
    let seeds = [gz(&tar), [gz(&tar[..5000]), gz(&tar[5000..])].concat()];
    let limits = ReadLimits { max_image_bytes: 1 << 20, max_xml_bytes: 1 << 20 };
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for i in 0..iterations() {
        let input = mutate(&seeds[i % 2], &mut rng);
        let _ = read_package_bytes(&input, &limits);
        let _ = read_tar_bytes(&mutate(&tar, &mut rng), &limits);
    }
}

#[test]
fn fuzz_smoke_decoders() {
    let jpeg = &include_bytes!("../tests/fixtures/real_images_test/0000.jpg")[..];
    let limits = Limits { max_decoded_bytes: 64 << 20, ..Limits::default() };
    let mut rng = Rng(0x94D0_49BB_1331_11EB);
    for _ in 0..iterations() {
        let input = mutate(jpeg, &mut rng);
        let _ = decode(&input, Some(224), &limits);
        let _ = decode(&input, None, &limits);
    }
}

/// `(target, file name, bytes)` of every kept fuzzer crash.
fn regression_inputs() -> Vec<(String, String, Vec<u8>)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz_regressions");
    let mut inputs = Vec::new();
    for target in ["jats", "archive", "decode"] {
        let Ok(listing) = std::fs::read_dir(root.join(target)) else { continue };
        for entry in listing.map(|e| e.unwrap()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".md") {
                inputs.push((target.to_string(), name, std::fs::read(entry.path()).unwrap()));
            }
        }
    }
    inputs.sort();
    inputs
}

/// Each kept input through its fuzz target's entry point (the same calls as rust/fuzz/fuzz_targets):
/// a panic, or an error without a message, fails with the file's name.
#[test]
fn fuzz_regressions_end_cleanly() {
    let inputs = regression_inputs();
    assert!(!inputs.is_empty(), "no inputs in tests/fixtures/fuzz_regressions");
    for (target, name, data) in &inputs {
        let outcome = catch_unwind(AssertUnwindSafe(|| match target.as_str() {
            "jats" => parse_article(data).err(),
            "archive" => read_fuzz_input(data, &ScanOptions::default().read_limits).error,
            _ => process_bytes(data, &ScanOptions { with_pixels: true, ..ScanOptions::default() }).err().map(|e| e.message),
        }));
        match outcome {
            Ok(error) => assert!(error.map(|e| !e.is_empty()).unwrap_or(true), "{target}/{name}: an error without a message"),
            Err(payload) => panic!("{target}/{name} panicked: {}", crate::error::panic_message(&*payload)),
        }
    }
}
