//! Inputs → sources → members.
//!
//! A source is one article: a `PMCxxxx.tar.gz` package (streamed: gunzip → tar entries in
//! order, nothing extracted, no member name ever joined to a disk path) or a per-article folder
//! of loose files (the 2026 PMC Cloud layout `PMCnnnn.<v>/PMCnnnn.<v>.xml` + figures).

use crate::error::CoreError;
use flate2::read::MultiGzDecoder;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

pub const IMAGE_EXTENSIONS: [&str; 6] = ["jpg", "jpeg", "png", "tif", "tiff", "gif"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Package(PathBuf),
    ArticleDir(PathBuf),
}

impl Source {
    pub fn path(&self) -> &Path {
        match self {
            Source::Package(p) | Source::ArticleDir(p) => p,
        }
    }

    /// `PMC13900` from `PMC13900.tar.gz` or `PMC13900.2/` ([`crate::schema::accession`]).
    pub fn accession(&self) -> Option<String> {
        crate::schema::accession(&self.path().to_string_lossy())
    }
}

fn is_package_name(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    name.ends_with(".tar.gz") || name.ends_with(".tgz")
}

fn extension(name: &str) -> String {
    name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default()
}

fn is_article_xml_name(name: &str) -> bool {
    matches!(extension(name).as_str(), "nxml" | "xml")
}

fn is_article_dir(dir: &Path) -> std::io::Result<bool> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() && is_article_xml_name(&entry.file_name().to_string_lossy()) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CoreError + '_ {
    move |source| CoreError::Io { path: path.display().to_string(), source }
}

/// Expands inputs (packages, folders searched recursively, article folders, list files of
/// paths) into sources, in a stable sorted order.
///
/// Each source is listed once, however many ways it is reached (overlapping inputs such as
/// `corpus corpus/oa_package`, symlinks, a list naming it twice): sources are identified by their
/// real path (symlinks resolved), and the first path that reached it is the one kept (its file
/// name carries the accession). Each real folder is walked once, so symlink loops end.
pub fn discover(inputs: &[PathBuf]) -> Result<Vec<Source>, CoreError> {
    let mut walk = Walk::default();
    for input in inputs {
        discover_one(input, &mut walk, 0)?;
    }
    Ok(walk.sources)
}

#[derive(Default)]
struct Walk {
    sources: Vec<Source>,
    /// Real paths of the sources listed so far.
    seen_sources: std::collections::HashSet<PathBuf>,
    /// Real paths of the folders walked so far.
    seen_dirs: std::collections::HashSet<PathBuf>,
}

impl Walk {
    fn push(&mut self, source: Source) {
        // A path that cannot be resolved (a dangling or looping symlink) is kept as written:
        // reading it then fails with a status.
        let real = std::fs::canonicalize(source.path()).unwrap_or_else(|_| source.path().to_path_buf());
        if self.seen_sources.insert(real) {
            self.sources.push(source);
        }
    }

    /// False when this real folder was walked before.
    fn enter(&mut self, dir: &Path) -> bool {
        match std::fs::canonicalize(dir) {
            Ok(real) => self.seen_dirs.insert(real),
            Err(_) => false,
        }
    }
}

fn discover_one(path: &Path, walk: &mut Walk, list_depth: u8) -> Result<(), CoreError> {
    let meta = std::fs::metadata(path).map_err(|_| CoreError::InputNotFound(path.display().to_string()))?;
    if meta.is_dir() {
        return discover_dir(path, walk);
    }
    if is_package_name(path) {
        walk.push(Source::Package(path.to_path_buf()));
        return Ok(());
    }
    if list_depth > 0 {
        return Err(CoreError::InvalidOption(format!("{}: a list file may only name packages and folders", path.display())));
    }
    // Any other file is a list of paths, one per line; relative ones are relative to the list.
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    let base = path.parent().unwrap_or(Path::new("."));
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        discover_one(&base.join(line), walk, list_depth + 1)?;
    }
    Ok(())
}

/// Walks a folder tree with an explicit stack (depth-first, children in sorted order).
fn discover_dir(top: &Path, walk: &mut Walk) -> Result<(), CoreError> {
    let mut stack = vec![top.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if !walk.enter(&dir) {
            continue;
        }
        if is_article_dir(&dir).map_err(io_error(&dir))? {
            walk.push(Source::ArticleDir(dir));
            continue;
        }
        let mut children: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(io_error(&dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        children.sort();
        let mut subdirs = Vec::new();
        for child in children {
            if child.is_dir() {
                subdirs.push(child);
            } else if is_package_name(&child) {
                walk.push(Source::Package(child));
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(())
}

/// Sizes above which a member is not read into memory.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    pub max_image_bytes: u64,
    pub max_xml_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct Member {
    /// The member's name inside the package (or the file name in an article folder).
    pub name: String,
    pub data: Vec<u8>,
}

impl Member {
    pub fn basename(&self) -> &str {
        basename(&self.name)
    }
}

pub fn basename(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

/// A member that was seen but not read, and why.
#[derive(Debug, Clone)]
pub struct Unread {
    pub name: String,
    pub size: u64,
    pub too_large: bool,
}

/// What one source holds that the scan needs.
#[derive(Debug, Default)]
pub struct Contents {
    pub xml: Option<Member>,
    pub images: Vec<Member>,
    pub unread: Vec<Unread>,
    /// Set when the stream broke (truncated, not gzip, not tar); what was read before stays.
    pub error: Option<String>,
    /// Bytes of the source as stored on disk.
    pub stored_bytes: u64,
}

pub fn read_source(source: &Source, limits: &ReadLimits) -> Contents {
    match source {
        Source::Package(path) => read_package(path, limits),
        Source::ArticleDir(path) => read_article_dir(path, limits),
    }
}

/// Decides what to keep of a member: the article XML, image-named members, nothing else.
fn classify(name: &str, size: u64, limits: &ReadLimits, have_xml: bool) -> Option<bool> {
    let ext = extension(name);
    let is_xml = ext == "nxml" || (ext == "xml" && !have_xml);
    if is_xml {
        return Some(size <= limits.max_xml_bytes);
    }
    if IMAGE_EXTENSIONS.contains(&ext.as_str()) {
        return Some(size <= limits.max_image_bytes);
    }
    None
}

fn keep(contents: &mut Contents, name: String, data: Vec<u8>) {
    let ext = extension(&name);
    let replaces_xml = contents.xml.as_ref().map(|x| ext == "nxml" && extension(&x.name) != "nxml").unwrap_or(true);
    if (ext == "nxml" || ext == "xml") && replaces_xml {
        contents.xml = Some(Member { name, data });
    } else if IMAGE_EXTENSIONS.contains(&ext.as_str()) {
        contents.images.push(Member { name, data });
    }
}

fn read_package(path: &Path, limits: &ReadLimits) -> Contents {
    let mut contents = Contents::default();
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            contents.error = Some(format!("cannot open: {e}"));
            return contents;
        }
    };
    contents.stored_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    if contents.stored_bytes == 0 {
        contents.error = Some("empty file".into());
        return contents;
    }
    if (18..=WHOLE_GUNZIP_MAX_STORED).contains(&contents.stored_bytes) {
        return match std::fs::read(path) {
            Ok(bytes) => read_package_bytes(&bytes, limits),
            Err(e) => Contents { error: Some(format!("cannot read: {e}")), ..contents },
        };
    }
    // Big (or tiny) packages stream, every gzip member in turn.
    let result = read_tar(MultiGzDecoder::new(BufReader::with_capacity(256 << 10, file)), limits, &mut contents);
    if let Err(e) = result {
        contents.error = Some(e);
    }
    contents
}

/// Packages up to this size (compressed) are read into memory and inflated in one call with
/// libdeflate (about twice as fast as streaming zlib).
pub(crate) const WHOLE_GUNZIP_MAX_STORED: u64 = 64 << 20;
/// ... when the gzip trailer says they inflate to no more than this.
const WHOLE_GUNZIP_MAX_INFLATED: u64 = 256 << 20;

/// A `.tar.gz` package held in memory, read as [`read_source`] reads one from disk: inflated
/// in one go, member after member as `gzip -d` (and so `tar xzf`) does (pigz, bgzip and
/// `cat a.gz b.gz` write several); when that fails (big, damaged) it streams, which also
/// produces the precise error. The `archive` fuzz target's entry point.
pub fn read_package_bytes(compressed: &[u8], limits: &ReadLimits) -> Contents {
    let mut contents = Contents { stored_bytes: compressed.len() as u64, ..Default::default() };
    if let Err(e) = read_gzipped_tar(compressed, |tar| read_tar(tar, limits, &mut contents)) {
        contents.error = Some(e);
    }
    contents
}

/// The `archive` fuzz target's input (also replayed by the regression tests): gzip bytes are read
/// as a package, anything else as a bare tar, so the fuzzer reaches tar headers without having
/// to forge deflate streams and CRCs.
pub fn read_fuzz_input(data: &[u8], limits: &ReadLimits) -> Contents {
    if data.starts_with(&[0x1f, 0x8b]) {
        read_package_bytes(data, limits)
    } else {
        read_tar_bytes(data, limits)
    }
}

/// An uncompressed tar held in memory, read as an inflated package is.
pub fn read_tar_bytes(tar_bytes: &[u8], limits: &ReadLimits) -> Contents {
    let mut contents = Contents { stored_bytes: tar_bytes.len() as u64, ..Default::default() };
    if let Err(e) = read_tar(tar_bytes, limits, &mut contents) {
        contents.error = Some(e);
    }
    contents
}

/// Runs `read` over the tar inside the gzip bytes `compressed`: inflated in one go, every gzip
/// member in turn ([`gunzip_members`]), or, when that fails (big, damaged), streamed, which also
/// produces the precise error. The scan's packages and `members.rs` read their tars through it.
pub(crate) fn read_gzipped_tar<T>(compressed: &[u8], read: impl FnOnce(&mut dyn Read) -> T) -> T {
    match gunzip_members(compressed) {
        Some(tar_bytes) => read(&mut &tar_bytes[..]),
        None => read(&mut MultiGzDecoder::new(compressed)),
    }
}

/// One regular file of a tar stream, as [`for_each_file`] hands it out: its name (bytes read as
/// UTF-8, lossily), the size its header gives, and its bytes on request.
pub(crate) struct FileEntry<'a, R: Read> {
    pub name: String,
    pub size: u64,
    entry: tar::Entry<'a, R>,
}

impl<R: Read> FileEntry<'_, R> {
    /// The file's bytes; an error when the stream breaks or ends inside it.
    pub fn read(&mut self) -> Result<Vec<u8>, String> {
        let mut data = Vec::with_capacity(self.size.min(1 << 30) as usize);
        self.entry.read_to_end(&mut data).map_err(|e| format!("broken tar stream in {}: {e}", self.name))?;
        if (data.len() as u64) < self.size {
            return Err(format!("archive ends inside member {}", self.name));
        }
        Ok(data)
    }
}

/// Hands every regular file of the tar `reader` to `visit`, in order (it reads the file or
/// not); folders, links and other entries are skipped. The tar ends at its end-of-archive
/// blocks. Errors: a broken stream, a bad header, or what `visit` returns.
pub(crate) fn for_each_file<R: Read>(reader: R, mut visit: impl FnMut(FileEntry<'_, R>) -> Result<(), String>) -> Result<(), String> {
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(|e| format!("not a tar: {e}"))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("broken tar stream: {e}"))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let size = entry.header().size().map_err(|e| format!("bad tar header for {name}: {e}"))?;
        visit(FileEntry { name, size, entry })?;
    }
    Ok(())
}

/// All gzip members of `compressed`, inflated and concatenated; `None` when damaged or when the
/// result would exceed `WHOLE_GUNZIP_MAX_INFLATED`.
pub(crate) fn gunzip_members(compressed: &[u8]) -> Option<Vec<u8>> {
    let max = WHOLE_GUNZIP_MAX_INFLATED as usize;
    let trailer: [u8; 4] = compressed.get(compressed.len().checked_sub(4)?..)?.try_into().ok()?;
    // The last member's size mod 2^32 (RFC 1952): exact for the usual single-member file.
    let last = u32::from_le_bytes(trailer) as usize;
    if last > max {
        return None;
    }
    let first_guess = if last > 0 { last } else { compressed.len().saturating_mul(4) };
    let mut out = vec![0u8; first_guess.clamp(1, max)];
    let decompressor = RawDecompressor::new()?;
    let (mut in_pos, mut out_pos) = (0usize, 0usize);
    while in_pos < compressed.len() {
        loop {
            match decompressor.gzip_member(&compressed[in_pos..], &mut out[out_pos..]) {
                Inflated::Done { consumed, produced } => {
                    if consumed == 0 {
                        return None;
                    }
                    in_pos += consumed;
                    out_pos += produced;
                    break;
                }
                Inflated::NeedSpace if out.len() < max => {
                    let grown = out.len().saturating_mul(2).max(out_pos + (1 << 20)).min(max);
                    out.resize(grown, 0);
                }
                Inflated::NeedSpace | Inflated::Bad => return None,
            }
        }
    }
    out.truncate(out_pos);
    (out_pos > 0).then_some(out)
}

enum Inflated {
    Done { consumed: usize, produced: usize },
    NeedSpace,
    Bad,
}

/// libdeflate's decompressor, for `libdeflate_gzip_decompress_ex` (which reports how much input
/// one member used; the `libdeflater` wrapper does not expose it).
struct RawDecompressor(std::ptr::NonNull<libdeflate_sys::libdeflate_decompressor>);

impl RawDecompressor {
    fn new() -> Option<Self> {
        // SAFETY: plain allocation; NULL (out of memory) is checked.
        std::ptr::NonNull::new(unsafe { libdeflate_sys::libdeflate_alloc_decompressor() }).map(Self)
    }

    /// Inflates the one gzip member at the start of `input` into `out`.
    fn gzip_member(&self, input: &[u8], out: &mut [u8]) -> Inflated {
        let (mut consumed, mut produced) = (0usize, 0usize);
        // SAFETY: pointers and lengths come from live slices; libdeflate writes at most
        // `out.len()` bytes and only through `out`.
        let result = unsafe {
            libdeflate_sys::libdeflate_gzip_decompress_ex(
                self.0.as_ptr(),
                input.as_ptr().cast(),
                input.len(),
                out.as_mut_ptr().cast(),
                out.len(),
                &mut consumed,
                &mut produced,
            )
        };
        match result {
            libdeflate_sys::libdeflate_result_LIBDEFLATE_SUCCESS => Inflated::Done { consumed, produced },
            libdeflate_sys::libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE => Inflated::NeedSpace,
            _ => Inflated::Bad,
        }
    }
}

impl Drop for RawDecompressor {
    fn drop(&mut self) {
        // SAFETY: allocated by libdeflate_alloc_decompressor, freed once.
        unsafe { libdeflate_sys::libdeflate_free_decompressor(self.0.as_ptr()) }
    }
}

fn read_tar(reader: impl Read, limits: &ReadLimits, contents: &mut Contents) -> Result<(), String> {
    for_each_file(reader, |mut file| {
        match classify(&file.name, file.size, limits, contents.xml.is_some()) {
            Some(true) => {
                let data = file.read()?;
                keep(contents, file.name, data);
            }
            Some(false) => contents.unread.push(Unread { name: file.name, size: file.size, too_large: true }),
            None => contents.unread.push(Unread { name: file.name, size: file.size, too_large: false }),
        }
        Ok(())
    })
}

fn read_article_dir(dir: &Path, limits: &ReadLimits) -> Contents {
    let mut contents = Contents::default();
    let listing = match std::fs::read_dir(dir) {
        Ok(l) => l,
        Err(e) => {
            contents.error = Some(format!("cannot list folder: {e}"));
            return contents;
        }
    };
    let mut files: Vec<(String, PathBuf, u64)> = listing
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path(), e.metadata().map(|m| m.len()).unwrap_or(0)))
        .collect();
    files.sort();
    // The folder's own XML (PMCnnnn.<v>.xml) first, so a stray .xml does not win.
    let own_xml = format!("{}.xml", dir.file_name().map(|n| n.to_string_lossy()).unwrap_or_default());
    files.sort_by_key(|(name, _, _)| *name != own_xml);
    for (name, path, size) in files {
        contents.stored_bytes += size;
        match classify(&name, size, limits, contents.xml.is_some()) {
            Some(true) => match std::fs::read(&path) {
                Ok(data) => keep(&mut contents, name, data),
                Err(e) => contents.error = Some(format!("cannot read {name}: {e}")),
            },
            Some(false) => contents.unread.push(Unread { name, size, too_large: true }),
            None => contents.unread.push(Unread { name, size, too_large: false }),
        }
    }
    contents
}

/// One row of `oa_file_list.csv`.
#[derive(Debug, Clone)]
pub struct FileListEntry {
    /// Normalised as the XML's licences are (`CC-BY`, `cc by 4.0` → `CC BY`; see
    /// [`crate::jats::normalize_license`]); a value that names no known licence is kept as
    /// written (so it matches no allowed licence) and counted in [`FileList::unrecognised`].
    pub license: String,
    pub pmid: Option<String>,
}

/// `oa_file_list.csv`, keyed by accession id (`PMC13900`).
#[derive(Debug, Default)]
pub struct FileList(pub HashMap<String, FileListEntry>, pub std::collections::BTreeMap<String, u64>);

impl FileList {
    pub fn load(path: &Path) -> Result<FileList, CoreError> {
        let bad = |message: String| CoreError::FileList { path: path.display().to_string(), message };
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(path).map_err(|e| bad(e.to_string()))?;
        let headers = reader.headers().map_err(|e| bad(e.to_string()))?.clone();
        let column = |name: &str| {
            headers.iter().position(|h| h.trim() == name).ok_or_else(|| bad(format!("no column {name:?}")))
        };
        let (accession, pmid, license) = (column("Accession ID")?, column("PMID")?, column("License")?);
        let mut map = HashMap::new();
        let mut unrecognised = std::collections::BTreeMap::new();
        for record in reader.records() {
            let record = record.map_err(|e| bad(e.to_string()))?;
            let Some(acc) = record.get(accession).map(str::trim).filter(|a| !a.is_empty()) else { continue };
            let pmid = record.get(pmid).map(str::trim).filter(|p| !p.is_empty() && *p != "0").map(str::to_string);
            let raw = record.get(license).unwrap_or("").trim();
            let license = match crate::jats::normalize_license(raw) {
                Some(known) => known.to_string(),
                None => {
                    *unrecognised.entry(raw.to_string()).or_insert(0) += 1;
                    raw.to_string()
                }
            };
            map.insert(acc.to_string(), FileListEntry { license, pmid });
        }
        Ok(FileList(map, unrecognised))
    }

    /// Licence values that name no known licence, with how many rows carry each.
    pub fn unrecognised(&self) -> &std::collections::BTreeMap<String, u64> {
        &self.1
    }

    pub fn get(&self, source: &Source) -> Option<&FileListEntry> {
        self.0.get(&source.accession()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    /// One tar cut into three gzip members (as bgzip or pigz --independent write), concatenated.
    fn multi_member(tar: &[u8]) -> Vec<u8> {
        let (a, rest) = tar.split_at(tar.len() / 3);
        let (b, c) = rest.split_at(rest.len() / 2);
        [gzip(a), gzip(b), gzip(c)].concat()
    }

    const LIMITS: ReadLimits = ReadLimits { max_image_bytes: 1 << 30, max_xml_bytes: 1 << 30 };

    #[test]
    fn multi_member_gzip_is_read_whole_on_both_paths() {
        let image: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        let tar = tar_of(&[("P/a.nxml", b"<article/>"), ("P/f1.jpg", &image), ("P/f2.png", b"png")]);
        let gz = multi_member(&tar);
        assert_eq!(gunzip_members(&gz).as_deref(), Some(&tar[..]));
        for streaming in [false, true] {
            let mut contents = Contents::default();
            let result = if streaming {
                read_tar(MultiGzDecoder::new(&gz[..]), &LIMITS, &mut contents)
            } else {
                read_tar(&gunzip_members(&gz).unwrap()[..], &LIMITS, &mut contents)
            };
            assert_eq!(result, Ok(()), "streaming={streaming}");
            assert_eq!(contents.images.len(), 2, "streaming={streaming}");
            assert_eq!(contents.images[0].data, image);
        }
        let dir = std::env::temp_dir().join(format!("rocov2-multigz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("PMC1.tar.gz");
        std::fs::write(&path, &gz).unwrap();
        let contents = read_source(&Source::Package(path), &LIMITS);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(contents.error, None);
        assert_eq!(contents.images.len(), 2);
    }

    #[test]
    fn single_member_and_damaged_gzip() {
        let tar = tar_of(&[("P/a.nxml", b"<article/>")]);
        assert_eq!(gunzip_members(&gzip(&tar)).as_deref(), Some(&tar[..]));
        let mut gz = multi_member(&tar);
        let n = gz.len();
        gz[n - 12] ^= 0xFF; // last member's data or CRC
        assert_eq!(gunzip_members(&gz), None);
        assert_eq!(gunzip_members(&gz[..n / 2]), None);
        assert_eq!(gunzip_members(b"not gzip at all, not at all"), None);
    }

    #[test]
    fn file_list_licences_are_normalised_and_unknown_ones_counted() {
        let dir = std::env::temp_dir().join(format!("rocov2-filelist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("oa_file_list.csv");
        std::fs::write(
            &path,
            "File,Article Citation,Accession ID,Last Updated (YYYY-MM-DD HH:MM:SS),PMID,License\n\
             a.tar.gz,x,PMC1,2020-01-01 00:00:00,11,CC-BY\n\
             b.tar.gz,x,PMC2,2020-01-01 00:00:00,12,cc by 4.0\n\
             c.tar.gz,x,PMC3,2020-01-01 00:00:00,13,CC BY 4.0 International\n\
             d.tar.gz,x,PMC4,2020-01-01 00:00:00,14,CC-BY-NC\n\
             e.tar.gz,x,PMC5,2020-01-01 00:00:00,15,Elsevier user licence\n\
             f.tar.gz,x,PMC6,2020-01-01 00:00:00,16,Elsevier user licence\n\
             g.tar.gz,x,PMC7,2020-01-01 00:00:00,17,NO-CC CODE\n",
        )
        .unwrap();
        let list = FileList::load(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let license = |acc: &str| list.0[acc].license.clone();
        assert_eq!([license("PMC1"), license("PMC2"), license("PMC3")], ["CC BY", "CC BY", "CC BY"]);
        assert_eq!(license("PMC4"), "CC BY-NC");
        assert_eq!(license("PMC5"), "Elsevier user licence");
        assert_eq!(license("PMC7"), "NO-CC CODE");
        assert_eq!(list.unrecognised().iter().collect::<Vec<_>>(), [(&"Elsevier user licence".to_string(), &2)]);
    }

    #[cfg(unix)]
    #[test]
    fn overlapping_inputs_and_symlink_loops_list_each_source_once() {
        use std::os::unix::fs::symlink;
        let root = std::env::temp_dir().join(format!("rocov2-discover-{}", std::process::id()));
        let pkg = root.join("corpus/oa_package/ab/cd");
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::write(pkg.join("PMC1.tar.gz"), b"x").unwrap();
        std::fs::write(pkg.join("PMC2.tar.gz"), b"x").unwrap();
        symlink(root.join("corpus"), pkg.join("loop")).unwrap(); // back to an ancestor
        symlink(pkg.join("PMC1.tar.gz"), root.join("corpus/PMC1-again.tar.gz")).unwrap();
        // Two symlinks that point at each other, and two folders that link to each other.
        symlink(root.join("corpus/b"), root.join("corpus/a")).unwrap();
        symlink(root.join("corpus/a"), root.join("corpus/b")).unwrap();
        std::fs::create_dir_all(root.join("corpus/x")).unwrap();
        std::fs::create_dir_all(root.join("corpus/y")).unwrap();
        symlink(root.join("corpus/y"), root.join("corpus/x/to-y")).unwrap();
        symlink(root.join("corpus/x"), root.join("corpus/y/to-x")).unwrap();
        let inputs = [root.join("corpus"), root.join("corpus/oa_package"), pkg.join("PMC2.tar.gz")];
        let sources = discover(&inputs).unwrap();
        let names: Vec<_> = sources.iter().map(|s| s.path().strip_prefix(&root).unwrap().display().to_string()).collect();
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(names, ["corpus/PMC1-again.tar.gz", "corpus/oa_package/ab/cd/PMC2.tar.gz"]);
    }
}
