//! Every way the core can fail, and the per-item status each failure is recorded as.
//!
//! Archive-, article- and image-level failures never abort a run: they become a row whose
//! `status` names the failure. Only bad *arguments* (an input path that does not exist, an
//! unreadable file list, bytes given to `decode_image`) are raised to Python, mapped below.

use std::fmt;

/// The `status` column of a scan row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// The fig's graphic names no member of the package.
    MissingImage,
    /// A fig with no `<graphic>` at all.
    NoGraphic,
    DecodeError,
    /// Over the pixel or byte limit; nothing was allocated for it.
    TooLarge,
    /// A member exists but is not an image format we decode (EPS, PDF, ...).
    UnsupportedFormat,
    /// gzip/tar stream broken: truncated, not gzip, not tar.
    BadArchive,
    /// The package holds no .nxml/.xml article.
    NoXml,
    BadXml,
    /// The figure's caption or label is not valid text in the encoding the XML declares (or the
    /// bytes are UTF-8 while the declaration names a single-byte encoding): its text is not trusted.
    BadEncoding,
    /// The graphic names the same member as an earlier graphic of the article (two `<fig>`s
    /// showing one image): the image has one row, the first; this row records the other reference.
    DuplicateReference,
    /// The article parsed but has no figures: one row so every package is accounted for.
    NoFigures,
    /// A bug in the core (a caught panic): recorded, never fatal.
    InternalError,
    /// The article's licence is not in the allowed set: matched but never decoded.
    LicenseExcluded,
    /// A source the file list excludes by licence, so never read: the filter (Python) records
    /// it, the scan never produces it.
    NotRead,
}

impl Status {
    /// Every status (the manifest's vocabulary, `_core.STATUSES`).
    pub const ALL: [Status; 15] = [
        Status::Ok,
        Status::MissingImage,
        Status::NoGraphic,
        Status::DecodeError,
        Status::TooLarge,
        Status::UnsupportedFormat,
        Status::BadArchive,
        Status::NoXml,
        Status::BadXml,
        Status::BadEncoding,
        Status::DuplicateReference,
        Status::NoFigures,
        Status::InternalError,
        Status::LicenseExcluded,
        Status::NotRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::MissingImage => "missing_image",
            Status::NoGraphic => "no_graphic",
            Status::DecodeError => "decode_error",
            Status::TooLarge => "too_large",
            Status::UnsupportedFormat => "unsupported_format",
            Status::BadArchive => "bad_archive",
            Status::NoXml => "no_xml",
            Status::BadXml => "bad_xml",
            Status::BadEncoding => "bad_encoding",
            Status::DuplicateReference => "duplicate_reference",
            Status::NoFigures => "no_figures",
            Status::InternalError => "internal_error",
            Status::LicenseExcluded => "license_excluded",
            Status::NotRead => "not_read",
        }
    }
}

/// An image that could not be turned into pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageError {
    pub status: Status,
    pub message: String,
}

impl ImageError {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }
    pub fn decode(message: impl fmt::Display) -> Self {
        Self::new(Status::DecodeError, message.to_string())
    }
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(Status::TooLarge, message)
    }
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status.as_str(), self.message)
    }
}

/// Errors raised to the caller (bad arguments), as opposed to per-item statuses.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("input not found: {0}")]
    InputNotFound(String),
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("bad file list {path}: {message}")]
    FileList { path: String, message: String },
    #[error("cannot read {path}: {message}")]
    BadSource { path: String, message: String },
    #[error("invalid option: {0}")]
    InvalidOption(String),
}

/// Turns a caught panic payload into text for the `error` column.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

// ---- Python exceptions: the one place core errors become Python errors. ----
//
// The classes are defined once, in `rocov2_fast/errors.py` (one hierarchy under `Rocov2Error`);
// the core raises them from here and nowhere else.

pyo3::import_exception!(rocov2_fast.errors, InputError);

impl From<CoreError> for pyo3::PyErr {
    fn from(err: CoreError) -> pyo3::PyErr {
        InputError::new_err(err.to_string())
    }
}

/// Image bytes given to the core (`decode_image`, `model_input`) that cannot be decoded:
/// `InputError` (a `ValueError` too).
impl From<ImageError> for pyo3::PyErr {
    fn from(err: ImageError) -> pyo3::PyErr {
        InputError::new_err(err.to_string())
    }
}

/// Article XML given to `parse_jats` that cannot be parsed.
pub fn bad_xml(message: impl fmt::Display) -> pyo3::PyErr {
    InputError::new_err(format!("bad XML: {message}"))
}

/// An argument the caller got wrong (an empty image, a wrong array shape).
pub fn bad_argument(message: impl Into<String>) -> pyo3::PyErr {
    InputError::new_err(message.into())
}

/// A schema the Arrow C data interface cannot express (every `schema.rs` type can: a bug).
pub fn arrow_export(err: arrow_schema::ArrowError) -> pyo3::PyErr {
    pyo3::exceptions::PyRuntimeError::new_err(format!("cannot export the Arrow schema: {err}"))
}
