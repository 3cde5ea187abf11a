//! One source → one row per figure graphic (or per source-level failure), plus the decoded
//! model-size pixels of every `ok` row.

use crate::archive::{basename, read_source, Contents, FileList, Member, ReadLimits, Source, IMAGE_EXTENSIONS};
use crate::decode::{decode, Decoded, Limits};
use crate::error::{panic_message, ImageError, Status};
use crate::hash::{hashes, to_hex, Hashes, MAX_FRAGILE_BITS};
use crate::jats::{parse_article, Article, Figure};
use crate::layout::{analyze as analyze_layout, Layout};
use crate::resize::{to_model_input, Fit};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Smallest side (pixels) images are decoded at for hashing in the fast path.
pub const HASH_MIN_SIDE: u32 = 224;

#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Model input side (pixels) and the minimum side JPEGs are decoded at.
    pub size: u32,
    pub fit: Fit,
    pub limits: Limits,
    pub read_limits: ReadLimits,
    /// Hash the full-resolution image (bit-exact `imagehash`) instead of the reduced decode.
    pub exact_hash: bool,
    /// Keep `size`×`size`×3 pixels of every `ok` row.
    pub with_pixels: bool,
    /// Keep the original bytes and the 32×32 hash thumbnail of every `ok` row.
    pub with_bytes: bool,
    /// Licences whose articles are decoded; others get `license_excluded` rows (None: all).
    pub allowed_licenses: Option<Vec<String>>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        let limits = Limits::default();
        Self {
            size: 224,
            fit: Fit::Pad,
            limits,
            read_limits: ReadLimits { max_image_bytes: limits.max_bytes, max_xml_bytes: 64 << 20 },
            exact_hash: false,
            with_pixels: false,
            with_bytes: false,
            allowed_licenses: None,
        }
    }
}

/// Article-level fields shared by every row of a source.
#[derive(Debug, Clone, Default)]
pub struct ArticleFields {
    pub pmcid: Option<String>,
    pub pmid: Option<String>,
    pub doi: Option<String>,
    pub year: Option<i32>,
    pub license: Option<String>,
    pub license_source: Option<String>,
    pub xml_license: Option<String>,
    pub license_raw: Option<String>,
    pub title: Option<String>,
    pub journal: Option<String>,
    pub authors: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Row {
    pub figure_index: Option<u32>,
    pub figure_id: Option<String>,
    pub label: Option<String>,
    pub caption: Option<String>,
    pub graphic: Option<String>,
    pub member: Option<String>,
    pub format: Option<&'static str>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub channels: Option<u8>,
    pub bytes: Option<u64>,
    pub phash: Option<String>,
    pub dhash: Option<String>,
    /// The hashes come from the full-size image (bit-exact `imagehash`).
    pub hash_exact: Option<bool>,
    pub status: &'static str,
    pub error: Option<String>,
    /// Index into the source's pixel batch, for `ok` rows when pixels are kept.
    pub pixel_index: Option<u32>,
    /// Original image bytes and hash thumbnail (`with_bytes`).
    pub data: Option<Vec<u8>>,
    pub thumb: Option<Vec<u8>>,
    /// Layout detector (`layout.rs`) on the decoded pixels, for `ok` rows.
    pub compound_layout_score: Option<f32>,
    pub panel_count: Option<u16>,
}

#[derive(Debug, Default)]
pub struct SourceRecords {
    /// The source's path (its rows' `archive` column).
    pub source: String,
    pub article: ArticleFields,
    pub rows: Vec<Row>,
    /// `n × size × size × 3` uint8, n = rows with a pixel_index.
    pub pixels: Vec<u8>,
    pub stored_bytes: u64,
}

/// Scans one source. Never panics: a panic anywhere becomes an `internal_error` row.
pub fn scan_source(source: &Source, file_list: Option<&FileList>, opts: &ScanOptions) -> SourceRecords {
    let path = source.path().display().to_string();
    match catch_unwind(AssertUnwindSafe(|| scan_source_inner(source, file_list, opts))) {
        Ok(records) => records,
        Err(payload) => failed_source(path, &*payload),
    }
}

/// A source whose scan (or hand-over) panicked: one `internal_error` row naming the panic.
pub fn failed_source(source: String, payload: &(dyn std::any::Any + Send)) -> SourceRecords {
    SourceRecords {
        source,
        rows: vec![source_row(Status::InternalError, Some(format!("panic: {}", panic_message(payload))))],
        ..Default::default()
    }
}

fn source_row(status: Status, error: Option<String>) -> Row {
    Row { status: status.as_str(), error, ..Default::default() }
}

fn scan_source_inner(source: &Source, file_list: Option<&FileList>, opts: &ScanOptions) -> SourceRecords {
    let contents = read_source(source, &opts.read_limits);
    let mut records = SourceRecords {
        source: source.path().display().to_string(),
        stored_bytes: contents.stored_bytes,
        ..Default::default()
    };
    let listed = file_list.and_then(|l| l.get(source));
    if let Some(entry) = listed {
        records.article.license = Some(entry.license.clone());
        records.article.license_source = Some("file_list".into());
        records.article.pmid = entry.pmid.clone();
    }
    records.article.pmcid = source.accession();
    if let Some(error) = &contents.error {
        records.rows.push(source_row(Status::BadArchive, Some(error.clone())));
    }
    let Some(xml) = &contents.xml else {
        if contents.error.is_none() {
            records.rows.push(source_row(Status::NoXml, Some("no .nxml or .xml article in the package".into())));
        }
        return records;
    };
    let article = match parse_article(&xml.data) {
        Ok(a) => a,
        Err(e) => {
            records.rows.push(source_row(Status::BadXml, Some(format!("{}: {e}", xml.name))));
            return records;
        }
    };
    fill_article_fields(&mut records.article, &article, listed.is_some());
    if article.figures.is_empty() && records.rows.is_empty() {
        records.rows.push(source_row(Status::NoFigures, None));
    }
    let decode_images = license_allowed(&records.article, opts);
    let mut first_use = std::collections::HashMap::new();
    for (index, figure) in article.figures.iter().enumerate() {
        scan_figure(index as u32, figure, &contents, opts, decode_images, &mut first_use, &mut records);
    }
    records
}

fn license_allowed(article: &ArticleFields, opts: &ScanOptions) -> bool {
    match (&opts.allowed_licenses, &article.license) {
        (None, _) => true,
        (Some(allowed), Some(license)) => allowed.iter().any(|a| a == license),
        (Some(_), None) => false,
    }
}

fn fill_article_fields(fields: &mut ArticleFields, article: &Article, listed: bool) {
    if article.pmcid.is_some() {
        fields.pmcid = article.pmcid.clone();
    }
    if article.pmid.is_some() {
        fields.pmid = article.pmid.clone();
    }
    fields.doi = article.doi.clone();
    fields.year = article.year;
    fields.xml_license = article.license.map(str::to_string);
    fields.license_raw = article.license_raw.clone();
    fields.title = article.title.clone();
    fields.journal = article.journal.clone();
    fields.authors = article.authors.clone();
    if !listed {
        fields.license = fields.xml_license.clone();
        fields.license_source = Some(article.license_source.unwrap_or("none").to_string());
    }
}

/// Who first showed a member: `(figure_index, figure id, graphic)`.
type FirstUse = std::collections::HashMap<String, (u32, Option<String>, String)>;

fn scan_figure(
    index: u32,
    figure: &Figure,
    contents: &Contents,
    opts: &ScanOptions,
    decode_images: bool,
    first_use: &mut FirstUse,
    records: &mut SourceRecords,
) {
    let base = Row {
        figure_index: Some(index),
        figure_id: figure.id.clone(),
        label: figure.label.clone(),
        caption: Some(figure.caption.clone()),
        ..Default::default()
    };
    if figure.graphics.is_empty() {
        records.rows.push(Row { status: Status::NoGraphic.as_str(), ..base });
        return;
    }
    for href in &figure.graphics {
        let mut row = Row { graphic: Some(href.clone()), ..base.clone() };
        let matched = match_member(href, contents);
        if let Match::Image(member) = &matched {
            // One image, one row: a later reference to the same member points at the first.
            if let Some((first_index, first_id, first_graphic)) = first_use.get(&member.name) {
                row.member = Some(member.name.clone());
                row.bytes = Some(member.data.len() as u64);
                row.status = Status::DuplicateReference.as_str();
                row.error = Some(format!(
                    "same image as figure_index {first_index} (id {}, graphic {first_graphic:?})",
                    first_id.as_deref().unwrap_or("none")
                ));
                records.rows.push(row);
                continue;
            }
            first_use.insert(member.name.clone(), (index, figure.id.clone(), href.clone()));
        }
        match matched {
            Match::Image(member) if figure.encoding_error.is_some() => {
                row.member = Some(member.name.clone());
                row.bytes = Some(member.data.len() as u64);
                row.status = Status::BadEncoding.as_str();
                row.error = figure.encoding_error.clone();
            }
            Match::Image(member) => {
                row.member = Some(member.name.clone());
                row.bytes = Some(member.data.len() as u64);
                if decode_images {
                    process_image(member, opts, &mut row, records);
                } else {
                    row.status = Status::LicenseExcluded.as_str();
                    row.error = Some(format!("licence {:?} is not allowed", records.article.license.as_deref().unwrap_or("none")));
                }
            }
            Match::Unread(name, size, too_large) => {
                row.member = Some(name.to_string());
                row.bytes = Some(size);
                let (status, why) = if too_large {
                    (Status::TooLarge, format!("member of {size} bytes is over the read limit"))
                } else {
                    (Status::UnsupportedFormat, "member is not a JPEG, PNG, GIF or TIFF file".to_string())
                };
                row.status = status.as_str();
                row.error = Some(why);
            }
            Match::None if contents.error.is_some() => {
                row.status = Status::BadArchive.as_str();
                row.error = Some("the archive broke before this image was read".into());
            }
            Match::None => {
                row.status = Status::MissingImage.as_str();
                row.error = Some(format!("no member matches graphic {href:?}"));
            }
        }
        records.rows.push(row);
    }
}

enum Match<'a> {
    Image(&'a Member),
    Unread(&'a str, u64, bool),
    None,
}

/// href → member: exact name, then name + image extension (.jpg first, the .gif thumbnail
/// last), then a case-insensitive stem match.
fn match_member<'a>(href: &str, contents: &'a Contents) -> Match<'a> {
    let href = basename(href);
    let images = &contents.images;
    if let Some(m) = images.iter().find(|m| m.basename() == href) {
        return Match::Image(m);
    }
    for ext in IMAGE_EXTENSIONS {
        let wanted = format!("{href}.{ext}");
        if let Some(m) = images.iter().find(|m| m.basename() == wanted) {
            return Match::Image(m);
        }
    }
    let stem = strip_image_extension(href).to_lowercase();
    let same_stem = |name: &str| strip_image_extension(basename(name)).to_lowercase() == stem;
    let by_preference = |name: &str| {
        let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
        IMAGE_EXTENSIONS.iter().position(|e| *e == ext).unwrap_or(usize::MAX)
    };
    if let Some(m) = images.iter().filter(|m| same_stem(&m.name)).min_by_key(|m| by_preference(&m.name)) {
        return Match::Image(m);
    }
    let unread_stem = |name: &str| {
        let b = basename(name);
        b == href || b.rsplit_once('.').map(|(s, _)| s.to_lowercase() == stem).unwrap_or(false)
    };
    match contents.unread.iter().find(|u| unread_stem(&u.name)) {
        Some(u) => Match::Unread(&u.name, u.size, u.too_large),
        None => Match::None,
    }
}

fn strip_image_extension(name: &str) -> &str {
    match name.rsplit_once('.') {
        Some((stem, ext)) if IMAGE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()) => stem,
        _ => name,
    }
}

/// What the scan computes from one image's bytes.
pub struct Processed {
    pub decoded: Decoded,
    pub hashes: Hashes,
    /// Hashed from the full-resolution image.
    pub exact: bool,
    /// `size`×`size`×3 model input, with `opts.with_pixels`.
    pub pixels: Option<Vec<u8>>,
    pub layout: Layout,
}

/// Decode, hash, resize and lay out one image's bytes as the scan does (panics are left to the
/// caller: [`process_image`] catches them, the `decode` fuzz target wants to see them).
pub fn process_bytes(data: &[u8], opts: &ScanOptions) -> Result<Processed, ImageError> {
    // Decode at no less than the hash's working size, whatever the model's input size:
    // hashes from smaller decodes drift from imagehash and trigger more full re-decodes.
    let min_side = (!opts.exact_hash).then_some(opts.size.max(HASH_MIN_SIDE));
    let decoded = decode(data, min_side, &opts.limits)?;
    let reduced = (decoded.pixels.width, decoded.pixels.height) != (decoded.width, decoded.height);
    let mut h = hashes(&decoded.pixels, min_side);
    let mut exact = !reduced;
    if reduced && h.fragile_dhash_bits > MAX_FRAGILE_BITS {
        // Flat images: the reduced decode could flip many dHash bits, so hash the full image.
        h = hashes(&decode(data, None, &opts.limits)?.pixels, None);
        exact = true;
    }
    let pixels = opts.with_pixels.then(|| to_model_input(&decoded.pixels, opts.size, opts.fit));
    let layout = analyze_layout(&decoded.pixels);
    Ok(Processed { decoded, hashes: h, exact, pixels, layout })
}

fn process_image(member: &Member, opts: &ScanOptions, row: &mut Row, records: &mut SourceRecords) {
    let outcome = catch_unwind(AssertUnwindSafe(|| process_bytes(&member.data, opts)));
    let keep_bytes = opts.with_bytes;
    match outcome {
        Ok(Ok(Processed { decoded, hashes: h, exact, pixels, layout })) => {
            row.hash_exact = Some(exact);
            row.compound_layout_score = Some(layout.score);
            row.panel_count = Some(layout.panel_count.min(u16::MAX as u32) as u16);
            row.status = Status::Ok.as_str();
            row.format = Some(decoded.format.as_str());
            row.width = Some(decoded.width);
            row.height = Some(decoded.height);
            row.channels = Some(decoded.source_channels);
            row.phash = Some(to_hex(h.phash));
            row.dhash = Some(to_hex(h.dhash));
            if keep_bytes {
                row.data = Some(member.data.clone());
                row.thumb = Some(h.thumb);
            }
            if let Some(p) = pixels {
                row.pixel_index = Some((records.pixels.len() / p.len()) as u32);
                records.pixels.extend_from_slice(&p);
            }
        }
        Ok(Err(e)) => {
            row.status = e.status.as_str();
            row.error = Some(e.message);
        }
        Err(payload) => {
            row.status = Status::DecodeError.as_str();
            row.error = Some(format!("decoder panicked: {}", panic_message(&*payload)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_shown_by_two_figures_is_one_image() {
        let figure = |id: &str, href: &str| Figure { id: Some(id.into()), graphics: vec![href.into()], ..Default::default() };
        let contents = Contents {
            images: vec![Member { name: "P/f1.jpg".into(), data: b"not decoded here".to_vec() }],
            ..Default::default()
        };
        // No licence allowed: nothing is decoded, so the rows' statuses show identity only.
        let opts = ScanOptions { allowed_licenses: Some(vec![]), ..Default::default() };
        let (mut records, mut first_use) = (SourceRecords::default(), FirstUse::new());
        for (i, f) in [figure("fa", "f1"), figure("fb", "f1.jpg"), figure("fc", "F1")].iter().enumerate() {
            scan_figure(i as u32, f, &contents, &opts, false, &mut first_use, &mut records);
        }
        let statuses: Vec<_> = records.rows.iter().map(|r| r.status).collect();
        assert_eq!(statuses, ["license_excluded", "duplicate_reference", "duplicate_reference"]);
        assert!(records.rows[2].error.as_deref().unwrap().contains("figure_index 0 (id fa"), "{:?}", records.rows[2].error);
    }
}
