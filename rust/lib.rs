//! PyO3 bindings only: each function converts arguments, releases the GIL, calls a core module
//! and converts the result. The pipeline stages live in the modules below.

pub mod archive;
pub mod batch;
pub mod decode;
pub mod dedup;
pub mod error;
#[cfg(test)]
mod fuzz_smoke;
pub mod hash;
pub mod jats;
pub mod layout;
pub mod members;
pub mod records;
pub mod resize;
pub mod schema;

use archive::{discover, FileList, ReadLimits, Source};
use arrow_data::ffi::FFI_ArrowArray;
use arrow_data::ArrayData;
use arrow_schema::ffi::FFI_ArrowSchema;
use arrow_schema::{DataType, Fields};
use decode::Limits;
use error::CoreError;
use numpy::{IntoPyArray, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsule, PyDict};
use records::{scan_source, ScanOptions, SourceRecords};
use std::panic::{catch_unwind, AssertUnwindSafe};
use resize::Fit;
use schema::ArrowType;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};

/// Article XML bigger than this is not read (`Scanner(max_xml_bytes=)`).
const MAX_XML_BYTES: u64 = 64 << 20;

fn to_paths(inputs: Vec<String>) -> Vec<PathBuf> {
    inputs.into_iter().map(PathBuf::from).collect()
}

fn parse_fit(fit: &str) -> Result<Fit, CoreError> {
    Fit::parse(fit).ok_or_else(|| CoreError::InvalidOption(format!("fit must be 'pad' or 'stretch', not {fit:?}")))
}

/// Scans sources on its own pool of `workers` threads; iterate it to get one result per source
/// (in completion order) as `(source, batch, pixels, stored_bytes)`: `batch` is an [`ArrowBatch`]
/// of the columns of `schema::batch_columns` (built in the worker thread), `pixels` is None or
/// `n × size × size × 3` uint8.
#[pyclass(module = "rocov2_fast._core")]
struct Scanner {
    sources: Vec<String>,
    unrecognised_licenses: std::collections::BTreeMap<String, u64>,
    columns: Vec<(&'static str, ArrowType)>,
    size: usize,
    receiver: Mutex<Option<Receiver<SourceBatch>>>,
}

/// One scanned source as a worker hands it over.
struct SourceBatch {
    source: String,
    /// The rows, a struct array of the scanner's columns.
    batch: ArrayData,
    /// `pixel_rows × size × size × 3` uint8.
    pixels: Vec<u8>,
    pixel_rows: usize,
    stored_bytes: u64,
}

#[pymethods]
impl Scanner {
    #[new]
    #[pyo3(signature = (inputs, *, workers=0, file_list=None, size=224, fit="pad", exact_hash=false,
        with_pixels=false, max_pixels=Limits::default().max_pixels, max_image_bytes=Limits::default().max_bytes,
        max_xml_bytes=MAX_XML_BYTES, with_bytes=false, licenses=None, queue=0, max_decoded_bytes=decode::DEFAULT_MAX_DECODED_BYTES))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        inputs: Vec<String>,
        workers: usize,
        file_list: Option<Bound<'_, PyAny>>,
        size: u32,
        fit: &str,
        exact_hash: bool,
        with_pixels: bool,
        max_pixels: u64,
        max_image_bytes: u64,
        max_xml_bytes: u64,
        with_bytes: bool,
        licenses: Option<Vec<String>>,
        queue: usize,
        max_decoded_bytes: u64,
    ) -> PyResult<Self> {
        if size == 0 {
            return Err(CoreError::InvalidOption("size must be positive".into()).into());
        }
        let opts = ScanOptions {
            size,
            fit: parse_fit(fit)?,
            limits: Limits { max_pixels, max_bytes: max_image_bytes, max_decoded_bytes },
            read_limits: ReadLimits { max_image_bytes, max_xml_bytes },
            exact_hash,
            with_pixels,
            with_bytes,
            // `--licenses CC-BY` means what the file list's `CC BY` means.
            allowed_licenses: licenses.map(|l| l.iter().map(|x| jats::normalize_license(x).map_or_else(|| x.trim().to_string(), str::to_string)).collect()),
        };
        let paths = to_paths(inputs);
        // a path (read here) or a `FileList` already read (one for many scanners: a filter worker's shards)
        let (loaded, list_path) = match file_list {
            None => (None, None),
            Some(f) => match f.cast::<LoadedFileList>() {
                Ok(l) => (Some(Arc::clone(&l.get().list)), None),
                Err(_) => (None, Some(f.extract::<String>()?)),
            },
        };
        let (sources, file_list) = py.detach(|| -> Result<_, CoreError> {
            let list = match list_path {
                Some(p) => Some(Arc::new(FileList::load(std::path::Path::new(&p))?)),
                None => loaded,
            };
            Ok((discover(&paths)?, list))
        })?;
        let names = sources.iter().map(|s| s.path().display().to_string()).collect();
        let unrecognised_licenses = file_list.as_ref().map(|l| l.unrecognised().clone()).unwrap_or_default();
        let columns = schema::batch_columns(with_pixels, with_bytes);
        let receiver = spawn_workers(sources, file_list, opts, columns.clone(), workers, queue);
        Ok(Scanner { sources: names, unrecognised_licenses, columns, size: size as usize, receiver: Mutex::new(Some(receiver)) })
    }

    /// The discovered sources, in scan-queue order.
    #[getter]
    fn sources(&self) -> Vec<String> {
        self.sources.clone()
    }

    /// File-list licence values that name no known licence, with how many rows carry each.
    #[getter]
    fn unrecognised_licenses(&self) -> std::collections::BTreeMap<String, u64> {
        self.unrecognised_licenses.clone()
    }

    /// The Arrow schema of every batch this scanner yields.
    #[getter]
    fn schema(&self) -> ArrowSchema {
        ArrowSchema { fields: schema::fields(&self.columns) }
    }

    fn __len__(&self) -> usize {
        self.sources.len()
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let next = py.detach(|| {
            let guard = self.receiver.lock().expect("receiver lock");
            guard.as_ref().and_then(|r| r.recv().ok())
        });
        let Some(s) = next else { return Ok(None) };
        let pixels: Bound<'py, PyAny> = if s.pixel_rows == 0 {
            py.None().into_bound(py)
        } else {
            // Zero-copy: numpy takes ownership of the Rust buffer.
            s.pixels.into_pyarray(py).reshape([s.pixel_rows, self.size, self.size, 3])?.into_any()
        };
        let batch = Bound::new(py, ArrowBatch { data: s.batch })?;
        Ok(Some((s.source, batch, pixels, s.stored_bytes).into_pyobject(py)?.into_any()))
    }

    /// Stops the workers after the sources in flight.
    fn close(&self) {
        self.receiver.lock().expect("receiver lock").take();
    }
}

/// `oa_file_list.csv` read once, for many scanners (`Scanner(file_list=...)` takes it or a path):
/// a filter worker scans each shard with a scanner of its own, and reading PMC's list (millions of
/// rows) for every shard cost about a second per million rows.
#[pyclass(module = "rocov2_fast._core", name = "FileList", frozen)]
struct LoadedFileList {
    list: Arc<FileList>,
}

#[pymethods]
impl LoadedFileList {
    #[new]
    fn new(py: Python<'_>, path: String) -> PyResult<Self> {
        let list = py.detach(|| FileList::load(std::path::Path::new(&path)))?;
        Ok(LoadedFileList { list: Arc::new(list) })
    }

    /// Rows (accessions) in the list.
    fn __len__(&self) -> usize {
        self.list.0.len()
    }

    /// Licence values that name no known licence, with how many rows carry each.
    #[getter]
    fn unrecognised_licenses(&self) -> std::collections::BTreeMap<String, u64> {
        self.list.unrecognised().clone()
    }

    fn __contains__(&self, accession: &str) -> bool {
        self.list.0.contains_key(accession)
    }

    /// `(licence, pmid or None)` of an accession, as `read_file_list`'s values; KeyError if unlisted.
    fn __getitem__(&self, accession: &str) -> PyResult<(String, Option<String>)> {
        self.get(accession, None).ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(accession.to_string()))
    }

    /// `(licence, pmid or None)` of an accession, or `default`: the list reads as the dict
    /// `read_file_list` returns, without a Python object per row.
    #[pyo3(signature = (accession, default=None))]
    fn get(&self, accession: &str, default: Option<(String, Option<String>)>) -> Option<(String, Option<String>)> {
        self.list.0.get(accession).map(|e| (e.license.clone(), e.pmid.clone())).or(default)
    }
}

/// `queue`: finished sources that may wait for the consumer (0: two per worker); a longer queue
/// lets decoding run on while the consumer is busy (inference).
fn spawn_workers(
    sources: Vec<Source>,
    file_list: Option<Arc<FileList>>,
    opts: ScanOptions,
    columns: Vec<(&'static str, ArrowType)>,
    workers: usize,
    queue: usize,
) -> Receiver<SourceBatch> {
    let workers = if workers == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { workers };
    let (sender, receiver) = sync_channel(if queue == 0 { workers * 2 } else { queue });
    let queue = Arc::new((sources, AtomicUsize::new(0), file_list, opts, columns));
    for _ in 0..workers {
        let queue = Arc::clone(&queue);
        let sender = sender.clone();
        std::thread::spawn(move || {
            let (sources, next, file_list, opts, columns) = &*queue;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(source) = sources.get(i) else { break };
                let done = source_batch(scan_source(source, file_list.as_deref(), opts), columns);
                if sender.send(done).is_err() {
                    break; // the Python side dropped the scanner
                }
            }
        });
    }
    receiver
}

/// A scanned source as a worker hands it over. Building its batch panics only on a bug or on a
/// text or binary column over 2 GiB (an article's fields repeat on each of its rows): then the
/// source is one `internal_error` row, as a panic during its scan is, never a silent loss.
fn source_batch(r: SourceRecords, columns: &[(&'static str, ArrowType)]) -> SourceBatch {
    source_batch_with(r, |r| schema::record_batch(r, columns))
}

/// `source_batch` with its batch builder as a parameter (a test makes it fail).
fn source_batch_with(r: SourceRecords, build: impl Fn(&SourceRecords) -> ArrayData) -> SourceBatch {
    let r = match catch_unwind(AssertUnwindSafe(|| build(&r))) {
        Ok(batch) => return batch_of(r, batch),
        Err(payload) => records::failed_source(r.source, &*payload),
    };
    let batch = build(&r);
    batch_of(r, batch)
}

fn batch_of(r: SourceRecords, batch: ArrayData) -> SourceBatch {
    let pixel_rows = r.rows.iter().filter(|row| row.pixel_index.is_some()).count();
    SourceBatch { source: r.source, batch, pixels: r.pixels, pixel_rows, stored_bytes: r.stored_bytes }
}

/// One source's rows as an Arrow record batch, handed over through the Arrow C data interface
/// (`__arrow_c_array__`): `pyarrow.record_batch(batch)` imports it without copying, and no value
/// becomes a Python object.
#[pyclass(module = "rocov2_fast._core", frozen)]
struct ArrowBatch {
    data: ArrayData,
}

#[pymethods]
impl ArrowBatch {
    /// `(schema capsule, array capsule)` of the Arrow PyCapsule interface; `requested_schema` is
    /// not applied (the protocol allows that): the batch has the scanner's schema.
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_array__<'py>(&self, py: Python<'py>, requested_schema: Option<Bound<'py, PyAny>>) -> PyResult<(Bound<'py, PyCapsule>, Bound<'py, PyCapsule>)> {
        let _ = requested_schema;
        let array = PyCapsule::new_with_value(py, FFI_ArrowArray::new(&self.data), c"arrow_array")?;
        Ok((schema_capsule(py, self.data.data_type())?, array))
    }

    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        schema_capsule(py, self.data.data_type())
    }

    fn __len__(&self) -> usize {
        self.data.len()
    }
}

/// An Arrow schema of scanner columns (`__arrow_c_schema__`; `pyarrow.schema(obj)` imports it).
#[pyclass(module = "rocov2_fast._core", frozen)]
struct ArrowSchema {
    fields: Fields,
}

#[pymethods]
impl ArrowSchema {
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        schema_capsule(py, &DataType::Struct(self.fields.clone()))
    }
}

fn schema_capsule<'py>(py: Python<'py>, data_type: &DataType) -> PyResult<Bound<'py, PyCapsule>> {
    let schema = FFI_ArrowSchema::try_from(data_type).map_err(error::arrow_export)?;
    PyCapsule::new_with_value(py, schema, c"arrow_schema")
}

/// The Arrow schema of a scanner's batches (`Scanner(with_pixels=, with_bytes=).schema`):
/// `SCAN_COLUMNS`, then `pixel_index` with pixels, `image_bytes` and `thumb32` with bytes.
#[pyfunction]
#[pyo3(signature = (*, with_pixels=false, with_bytes=false))]
fn batch_schema(with_pixels: bool, with_bytes: bool) -> ArrowSchema {
    ArrowSchema { fields: schema::fields(&schema::batch_columns(with_pixels, with_bytes)) }
}

/// Parses JATS article XML: ids, year, licence and figures (as a dict).
#[pyfunction]
fn parse_jats<'py>(py: Python<'py>, xml: &[u8]) -> PyResult<Bound<'py, PyDict>> {
    let data = xml.to_vec();
    let article = py.detach(move || jats::parse_article(&data)).map_err(error::bad_xml)?;
    let d = PyDict::new(py);
    d.set_item("pmcid", article.pmcid)?;
    d.set_item("pmid", article.pmid)?;
    d.set_item("doi", article.doi)?;
    d.set_item("year", article.year)?;
    d.set_item("license", article.license)?;
    d.set_item("license_source", article.license_source)?;
    d.set_item("license_raw", article.license_raw)?;
    d.set_item("title", article.title)?;
    d.set_item("journal", article.journal)?;
    d.set_item("authors", article.authors)?;
    let figures = article
        .figures
        .into_iter()
        .map(|f| {
            let fd = PyDict::new(py);
            fd.set_item("id", f.id)?;
            fd.set_item("label", f.label)?;
            fd.set_item("caption", f.caption)?;
            fd.set_item("graphics", f.graphics)?;
            fd.set_item("encoding_error", f.encoding_error)?;
            Ok(fd)
        })
        .collect::<PyResult<Vec<_>>>()?;
    d.set_item("figures", figures)?;
    Ok(d)
}

/// Decodes one image; returns a dict with size, format, hashes and the pixels as decoded
/// (`reduce_to=None`: full size, bit-exact imagehash hashes).
#[pyfunction]
#[pyo3(signature = (data, *, reduce_to=None, max_pixels=Limits::default().max_pixels, max_decoded_bytes=decode::DEFAULT_MAX_DECODED_BYTES))]
fn decode_image<'py>(py: Python<'py>, data: &[u8], reduce_to: Option<u32>, max_pixels: u64, max_decoded_bytes: u64) -> PyResult<Bound<'py, PyDict>> {
    let bytes = data.to_vec();
    let limits = Limits { max_pixels, max_decoded_bytes, ..Limits::default() };
    let (decoded, h) = py
        .detach(move || -> Result<_, error::ImageError> {
            let decoded = decode::decode(&bytes, reduce_to, &limits)?;
            let h = hash::hashes(&decoded.pixels, reduce_to);
            Ok((decoded, h))
        })?;
    let d = PyDict::new(py);
    d.set_item("format", decoded.format.as_str())?;
    d.set_item("width", decoded.width)?;
    d.set_item("height", decoded.height)?;
    d.set_item("source_channels", decoded.source_channels)?;
    d.set_item("phash", hash::to_hex(h.phash))?;
    d.set_item("dhash", hash::to_hex(h.dhash))?;
    d.set_item("fragile_dhash_bits", h.fragile_dhash_bits)?;
    let p = decoded.pixels;
    let shape = [p.height as usize, p.width as usize, p.channels as usize];
    d.set_item("pixels", p.data.into_pyarray(py).reshape(shape)?)?;
    Ok(d)
}

/// Pillow's `Image.resize((out_w, out_h), Image.LANCZOS)` of a 2-D uint8 (mode "L") array,
/// bit-exact: what the hashes are computed from (tests and benches compare it with Pillow).
#[pyfunction]
fn pillow_lanczos_gray<'py>(py: Python<'py>, gray: numpy::PyReadonlyArray2<'py, u8>, out_w: u32, out_h: u32) -> PyResult<Bound<'py, PyAny>> {
    let (h, w) = (gray.shape()[0], gray.shape()[1]);
    if w == 0 || h == 0 || out_w == 0 || out_h == 0 {
        return Err(error::bad_argument("empty image or output size"));
    }
    let data = gray.as_slice().map(<[u8]>::to_vec).unwrap_or_else(|_| gray.as_array().iter().copied().collect());
    let out = py.detach(|| resize::pillow_lanczos_gray(&data, w as u32, h as u32, out_w, out_h));
    Ok(out.into_pyarray(py).reshape([out_h as usize, out_w as usize])?.into_any())
}

/// One image as the filter models see it: decoded (reduced when JPEG), fitted to `size`×`size`,
/// uint8 RGB `size × size × 3`.
#[pyfunction]
#[pyo3(signature = (data, *, size=224, fit="pad"))]
fn model_input<'py>(py: Python<'py>, data: &[u8], size: u32, fit: &str) -> PyResult<Bound<'py, PyAny>> {
    let fit = parse_fit(fit)?;
    let bytes = data.to_vec();
    let pixels = py
        .detach(move || -> Result<_, error::ImageError> {
            let decoded = decode::decode(&bytes, Some(size), &Limits::default())?;
            Ok(resize::to_model_input(&decoded.pixels, size, fit))
        })?;
    Ok(pixels.into_pyarray(py).reshape([size as usize, size as usize, 3])?.into_any())
}

/// `(compound_layout_score, panel_count, panels as (x0, y0, x1, y1), panels with a letter)`.
type LayoutResult = (f32, u32, Vec<(u32, u32, u32, u32)>, u32);

/// The layout detector on decoded pixels (`uint8` H×W gray or H×W×3 RGB), as [`LayoutResult`].
#[pyfunction(name = "layout")]
fn layout_of<'py>(py: Python<'py>, pixels: numpy::PyReadonlyArrayDyn<'py, u8>) -> PyResult<LayoutResult> {
    let shape = pixels.shape().to_vec();
    let channels = match shape.as_slice() {
        [_, _] => 1u8,
        [_, _, 1] => 1,
        [_, _, 3] => 3,
        _ => return Err(error::bad_argument(format!("pixels must be H×W or H×W×3 uint8, not shape {shape:?}"))),
    };
    let (height, width) = (shape[0] as u32, shape[1] as u32);
    if width == 0 || height == 0 {
        return Err(error::bad_argument("pixels must not be empty"));
    }
    let data = pixels.as_slice().map(<[u8]>::to_vec).unwrap_or_else(|_| pixels.as_array().iter().copied().collect());
    let src = decode::Pixels { width, height, channels, data };
    let l = py.detach(move || layout::analyze(&src));
    Ok((l.score, l.panel_count, l.panels.iter().map(|p| (p.x0, p.y0, p.x1, p.y1)).collect(), l.letters))
}

/// Expands inputs into the list of sources (packages and article folders) a scan would read.
#[pyfunction]
fn discover_sources(py: Python<'_>, inputs: Vec<String>) -> PyResult<Vec<String>> {
    let paths = to_paths(inputs);
    let sources = py.detach(|| discover(&paths))?;
    Ok(sources.iter().map(|s| s.path().display().to_string()).collect())
}

/// Every pair (i, j, distance) with i < j whose 64-bit hashes differ in at most
/// `max_distance` bits (equal hashes grouped, then pigeonhole block tables; exact, not
/// approximate; linear in the number of hashes for a fixed radius, see rust/dedup.rs).
#[pyfunction]
#[pyo3(signature = (hashes, max_distance, *, threads=0))]
fn near_duplicate_pairs(py: Python<'_>, hashes: Vec<u64>, max_distance: u32, threads: usize) -> Vec<(u32, u32, u32)> {
    let threads = if threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { threads };
    py.detach(|| dedup::candidate_pairs(&hashes, max_distance, threads))
}

/// AntiDupl's rule on two 32×32 gray thumbnails and their aspect ratios (width / height).
#[pyfunction]
#[pyo3(signature = (thumb_a, thumb_b, aspect_a, aspect_b, *, max_rms_fraction=0.05, max_aspect_difference=0.03))]
fn antidupl_confirms(thumb_a: &[u8], thumb_b: &[u8], aspect_a: f64, aspect_b: f64, max_rms_fraction: f64, max_aspect_difference: f64) -> bool {
    dedup::antidupl_confirms(thumb_a, thumb_b, aspect_a, aspect_b, max_rms_fraction, max_aspect_difference)
}

/// `oa_file_list.csv` as {accession: (licence, pmid or None)}, licences normalised (`CC-BY`,
/// `cc by 4.0` → `CC BY`); a value naming no known licence is kept as written.
#[pyfunction]
fn read_file_list(py: Python<'_>, path: String) -> PyResult<std::collections::HashMap<String, (String, Option<String>)>> {
    let list = py.detach(|| FileList::load(std::path::Path::new(&path)))?;
    Ok(list.0.into_iter().map(|(k, v)| (k, (v.license, v.pmid))).collect())
}

/// `oa_file_list.csv` as ({accession: (licence, pmid or None)}, {licence value that names no known
/// licence: rows}); licences normalised as in `read_file_list`.
type FileListEntries = std::collections::HashMap<String, (String, Option<String>)>;

#[pyfunction]
fn read_file_list_checked(py: Python<'_>, path: String) -> PyResult<(FileListEntries, std::collections::BTreeMap<String, u64>)> {
    let list = py.detach(|| FileList::load(std::path::Path::new(&path)))?;
    let unrecognised = list.1;
    Ok((list.0.into_iter().map(|(k, v)| (k, (v.license, v.pmid))).collect(), unrecognised))
}

/// A licence as written (`CC-BY`, `cc by 4.0`, a Creative Commons URL, ...) in the file list's
/// vocabulary (`CC BY`, ...), or None when it names no known licence.
#[pyfunction]
fn normalize_license(text: &str) -> Option<&'static str> {
    jats::normalize_license(text)
}

/// Original bytes of the named members of a source (a `.tar.gz` package, several gzip members
/// or a plain tar, or an article folder), by name; names that match nothing are absent.
/// `file_names`: match (and key) by the member's file name rather than its full name.
/// A source that cannot be read (gone, truncated, not gzip or tar) raises `InputError`.
#[pyfunction]
#[pyo3(signature = (source, names, *, file_names=false))]
fn read_members<'py>(py: Python<'py>, source: PathBuf, names: &Bound<'py, PyAny>, file_names: bool) -> PyResult<Bound<'py, PyDict>> {
    let names = names.try_iter()?.map(|n| n?.extract::<String>()).collect::<PyResult<std::collections::HashSet<_>>>()?;
    let by = if file_names { members::Match::FileName } else { members::Match::Name };
    let found = py.detach(|| members::read_members(&source, &names, by))?;
    let d = PyDict::new(py);
    for (name, data) in found {
        d.set_item(name, PyBytes::new(py, &data))?;
    }
    Ok(d)
}

/// The accession a source's path gives (`PMC13900` from `.../PMC13900.tar.gz` or `PMC13900.2/`),
/// or None: the rule of `schema.rs`, the one the scan's `pmcid` and the file list use.
#[pyfunction(name = "accession")]
fn accession_of(path: PathBuf) -> Option<String> {
    schema::accession(&path.to_string_lossy())
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Scanner>()?;
    m.add_class::<ArrowBatch>()?;
    m.add_class::<ArrowSchema>()?;
    m.add_function(wrap_pyfunction!(batch_schema, m)?)?;
    m.add_function(wrap_pyfunction!(parse_jats, m)?)?;
    m.add_function(wrap_pyfunction!(decode_image, m)?)?;
    m.add_function(wrap_pyfunction!(discover_sources, m)?)?;
    m.add_function(wrap_pyfunction!(near_duplicate_pairs, m)?)?;
    m.add_function(wrap_pyfunction!(antidupl_confirms, m)?)?;
    m.add_function(wrap_pyfunction!(read_file_list, m)?)?;
    m.add_class::<LoadedFileList>()?;
    m.add_function(wrap_pyfunction!(read_file_list_checked, m)?)?;
    m.add_function(wrap_pyfunction!(normalize_license, m)?)?;
    m.add_function(wrap_pyfunction!(model_input, m)?)?;
    m.add_function(wrap_pyfunction!(pillow_lanczos_gray, m)?)?;
    m.add_function(wrap_pyfunction!(layout_of, m)?)?;
    m.add_function(wrap_pyfunction!(accession_of, m)?)?;
    m.add_function(wrap_pyfunction!(read_members, m)?)?;
    let aliases = |columns: &[(&'static str, ArrowType)]| columns.iter().map(|(name, t)| (*name, t.alias())).collect::<Vec<_>>();
    m.add("SCAN_COLUMNS", aliases(schema::SCAN_COLUMNS))?;
    m.add("FILTER_COLUMNS", aliases(schema::FILTER_COLUMNS))?;
    m.add("STATUSES", schema::statuses())?;
    let limits = Limits::default();
    m.add(
        "DEFAULT_LIMITS",
        [
            ("max_pixels", limits.max_pixels),
            ("max_image_bytes", limits.max_bytes),
            ("max_xml_bytes", MAX_XML_BYTES),
            ("max_decoded_bytes", limits.max_decoded_bytes),
        ]
        .into_iter()
        .collect::<std::collections::BTreeMap<_, _>>(),
    )?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use records::Row;

    /// Row `row` of the Utf8 column `name` of a batch.
    fn text(batch: &ArrayData, columns: &[(&str, ArrowType)], name: &str, row: usize) -> String {
        let child = &batch.child_data()[columns.iter().position(|(n, _)| *n == name).expect("column")];
        let offsets = child.buffer::<i32>(0);
        let bytes = &child.buffers()[1].as_slice()[offsets[row] as usize..offsets[row + 1] as usize];
        String::from_utf8(bytes.to_vec()).expect("utf8")
    }

    #[test]
    fn a_source_whose_batch_cannot_be_built_is_one_internal_error_row() {
        let columns = schema::batch_columns(true, false);
        let rows = vec![Row { status: "ok", pixel_index: Some(0), ..Default::default() }, Row::default()];
        let scanned = SourceRecords { source: "PMC1.tar.gz".into(), rows, pixels: vec![0; 12], ..Default::default() };
        let done = source_batch_with(scanned, |r| {
            if r.rows.len() > 1 {
                panic!("Utf8 column of 3000000000 bytes is over its offset type");
            }
            schema::record_batch(r, &columns)
        });
        assert_eq!((done.source.as_str(), done.batch.len(), done.pixel_rows), ("PMC1.tar.gz", 1, 0));
        assert_eq!(text(&done.batch, &columns, "status", 0), "internal_error");
        assert!(text(&done.batch, &columns, "error", 0).contains("over its offset type"));
        assert_eq!(text(&done.batch, &columns, "archive", 0), "PMC1.tar.gz");
    }
}
