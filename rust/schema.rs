//! The scan row schema, defined once: every column the scanner returns with its Arrow type, the
//! status vocabulary, and the PMCID-from-path rule. The scanner's record batches are built from
//! the column tables here (`record_batch`), and Python reads all three from `_core`
//! (`SCAN_COLUMNS`, `FILTER_COLUMNS`, `batch_schema`, `STATUSES`, `accession`):
//! `ingest.SCAN_SCHEMA` and the status constants are built from them, never typed again.

use crate::batch;
use crate::error::Status;
use crate::records::SourceRecords;
use arrow_data::ArrayData;
use arrow_schema::{DataType, Field, Fields};

/// The Arrow types of the columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrowType {
    Utf8,
    Int8,
    Int32,
    Int64,
    Bool,
    Float32,
    Binary,
    /// 64-bit offsets: the image bytes of one source may pass 2 GiB.
    LargeBinary,
}

impl ArrowType {
    /// pyarrow's alias for the type (`pa.type_for_alias`), as `_core.SCAN_COLUMNS` gives it.
    pub const fn alias(self) -> &'static str {
        match self {
            ArrowType::Utf8 => "string",
            ArrowType::Int8 => "int8",
            ArrowType::Int32 => "int32",
            ArrowType::Int64 => "int64",
            ArrowType::Bool => "bool",
            ArrowType::Float32 => "float32",
            ArrowType::Binary => "binary",
            ArrowType::LargeBinary => "large_binary",
        }
    }

    pub fn data_type(self) -> DataType {
        match self {
            ArrowType::Utf8 => DataType::Utf8,
            ArrowType::Int8 => DataType::Int8,
            ArrowType::Int32 => DataType::Int32,
            ArrowType::Int64 => DataType::Int64,
            ArrowType::Bool => DataType::Boolean,
            ArrowType::Float32 => DataType::Float32,
            ArrowType::Binary => DataType::Binary,
            ArrowType::LargeBinary => DataType::LargeBinary,
        }
    }
}

use ArrowType::*;

/// `(column, Arrow type)` of every scan row, in parquet column order. `compound_layout_score` and
/// `panel_count` come from `layout.rs` on the decoded image (`ok` rows; null otherwise;
/// docs/ingest.md).
pub const SCAN_COLUMNS: &[(&str, ArrowType)] = &[
    ("archive", Utf8),
    ("pmcid", Utf8),
    ("pmid", Utf8),
    ("doi", Utf8),
    ("year", Int32),
    ("license", Utf8),
    ("license_source", Utf8),
    ("xml_license", Utf8),
    ("license_raw", Utf8),
    ("title", Utf8),
    ("journal", Utf8),
    ("authors", Utf8),
    ("figure_index", Int32),
    ("figure_id", Utf8),
    ("label", Utf8),
    ("caption", Utf8),
    ("graphic", Utf8),
    ("member", Utf8),
    ("format", Utf8),
    ("width", Int32),
    ("height", Int32),
    ("channels", Int8),
    ("bytes", Int64),
    ("phash", Utf8),
    ("dhash", Utf8),
    ("hash_exact", Bool),
    ("status", Utf8),
    ("error", Utf8),
    ("compound_layout_score", Float32),
    ("panel_count", Int32),
];

/// Columns the filter gets on top of [`SCAN_COLUMNS`]: `pixel_index` (the row of the source's
/// pixel batch) when pixels are kept, the image's original bytes and its 32×32 hash thumbnail
/// when bytes are kept (`with_bytes`).
pub const FILTER_COLUMNS: &[(&str, ArrowType)] = &[("pixel_index", Int32), ("image_bytes", LargeBinary), ("thumb32", Binary)];

/// The columns of a scanner's record batches, in order: [`SCAN_COLUMNS`], then `pixel_index`
/// with pixels, `image_bytes` and `thumb32` with bytes.
pub fn batch_columns(with_pixels: bool, with_bytes: bool) -> Vec<(&'static str, ArrowType)> {
    let extra = FILTER_COLUMNS.iter().filter(|(name, _)| if *name == "pixel_index" { with_pixels } else { with_bytes });
    SCAN_COLUMNS.iter().chain(extra).copied().collect()
}

/// The Arrow fields of `columns` (every column nullable), the one Arrow schema both the record
/// batches and Python's `SCAN_SCHEMA` are built from.
pub fn fields(columns: &[(&str, ArrowType)]) -> Fields {
    columns.iter().map(|(name, t)| Field::new(*name, t.data_type(), true)).collect()
}

/// Every `status` a manifest row can carry, in [`Status`] order.
pub fn statuses() -> Vec<&'static str> {
    Status::ALL.iter().map(|s| s.as_str()).collect()
}

/// The accession a source's file name gives: `PMC13900` from `.../PMC13900.tar.gz` or
/// `.../PMC13900.2/`, else None. Strict, because the file list's licence is looked up by it: the
/// name is `PMC`, then only ASCII digits up to the first dot (or the end). `PMC12_3.tar.gz` or
/// `PMC12a.tgz` give None (no licence is borrowed from `PMC123` or `PMC12`).
pub fn accession(path: &str) -> Option<String> {
    let name = path.trim_end_matches('/');
    let name = name.rsplit('/').next().unwrap_or(name);
    let stem = name.strip_prefix("PMC")?.split('.').next().unwrap_or("");
    (!stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit())).then(|| format!("PMC{stem}"))
}

/// The values of column `name` (of [`SCAN_COLUMNS`] or [`FILTER_COLUMNS`]) for every row of
/// `r`, as an Arrow array of the column's declared type (checked by [`record_batch`] and the
/// tests). None for a name that is in neither table.
pub fn column(r: &SourceRecords, name: &str) -> Option<ArrayData> {
    let n = r.rows.len();
    let (a, rows) = (&r.article, &r.rows);
    let article = |v: &Option<String>| batch::utf8(std::iter::repeat_n(v.as_deref(), n));
    macro_rules! text {
        ($field:ident) => {
            batch::utf8(rows.iter().map(|row| row.$field.as_deref()))
        };
    }
    macro_rules! int {
        ($ty:ty, $variant:ident, $field:ident) => {
            batch::primitive(DataType::$variant, rows.iter().map(|row| row.$field.map(|v| v as $ty)))
        };
    }
    Some(match name {
        "archive" => batch::utf8(std::iter::repeat_n(Some(r.source.as_str()), n)),
        "pmcid" => article(&a.pmcid),
        "pmid" => article(&a.pmid),
        "doi" => article(&a.doi),
        "year" => batch::primitive(DataType::Int32, std::iter::repeat_n(a.year, n)),
        "license" => article(&a.license),
        "license_source" => article(&a.license_source),
        "xml_license" => article(&a.xml_license),
        "license_raw" => article(&a.license_raw),
        "title" => article(&a.title),
        "journal" => article(&a.journal),
        "authors" => article(&a.authors),
        "figure_index" => int!(i32, Int32, figure_index),
        "figure_id" => text!(figure_id),
        "label" => text!(label),
        "caption" => text!(caption),
        "graphic" => text!(graphic),
        "member" => text!(member),
        "format" => batch::utf8(rows.iter().map(|row| row.format)),
        "width" => int!(i32, Int32, width),
        "height" => int!(i32, Int32, height),
        "channels" => int!(i8, Int8, channels),
        "bytes" => int!(i64, Int64, bytes),
        "phash" => text!(phash),
        "dhash" => text!(dhash),
        "hash_exact" => batch::boolean(rows.iter().map(|row| row.hash_exact)),
        "status" => batch::utf8(rows.iter().map(|row| Some(row.status))),
        "error" => text!(error),
        "compound_layout_score" => batch::primitive(DataType::Float32, rows.iter().map(|row| row.compound_layout_score)),
        "panel_count" => int!(i32, Int32, panel_count),
        "pixel_index" => int!(i32, Int32, pixel_index),
        "image_bytes" => batch::large_binary(rows.iter().map(|row| row.data.as_deref())),
        "thumb32" => batch::binary(rows.iter().map(|row| row.thumb.as_deref())),
        _ => return None,
    })
}

/// The rows of `r` as one Arrow record batch (a struct array whose fields are `columns`).
/// Panics if a column's values are not of its declared type (a bug the tests catch).
pub fn record_batch(r: &SourceRecords, columns: &[(&str, ArrowType)]) -> ArrayData {
    let children = columns.iter().map(|(name, _)| column(r, name).unwrap_or_else(|| panic!("no values for column {name}"))).collect();
    batch::record_batch(fields(columns), r.rows.len(), children)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Row;

    #[test]
    fn every_column_has_values_of_its_declared_type() {
        let mut names = std::collections::HashSet::new();
        let full = Row {
            figure_index: Some(3),
            figure_id: Some("f1".into()),
            status: "ok",
            width: Some(640),
            data: Some(b"\xff\xd8".to_vec()),
            thumb: Some(vec![7; 1024]),
            pixel_index: Some(0),
            ..Default::default()
        };
        let mut records = SourceRecords { source: "PMC1.tar.gz".into(), rows: vec![full, Row::default()], ..Default::default() };
        records.article.year = Some(2020);
        for (name, arrow_type) in SCAN_COLUMNS.iter().chain(FILTER_COLUMNS) {
            assert!(names.insert(*name), "{name} is declared twice");
            let values = column(&records, name).unwrap_or_else(|| panic!("no values for column {name}"));
            assert_eq!(values.data_type(), &arrow_type.data_type(), "column {name}");
            assert_eq!(values.len(), 2, "column {name}");
        }
        assert!(column(&records, "no_such_column").is_none());
        let all = batch_columns(true, true);
        assert_eq!(all.len(), SCAN_COLUMNS.len() + FILTER_COLUMNS.len());
        assert_eq!(batch_columns(false, false), SCAN_COLUMNS);
        assert_eq!(batch_columns(true, false).last(), Some(&("pixel_index", Int32)));
        let data = record_batch(&records, &all);
        assert_eq!((data.len(), data.child_data().len()), (2, all.len()));
        let width = &data.child_data()[all.iter().position(|(n, _)| *n == "width").unwrap()];
        assert_eq!((width.buffer::<i32>(0)[0], width.null_count()), (640, 1));
    }

    #[test]
    fn statuses_are_every_status_once_with_not_read() {
        let all = statuses();
        assert_eq!(all.len(), all.iter().collect::<std::collections::HashSet<_>>().len());
        assert!(all.contains(&"ok") && all.contains(&"not_read") && all.contains(&"license_excluded"));
    }

    #[test]
    fn accession_rule() {
        let cases = [
            ("/data/PMC13900.tar.gz", Some("PMC13900")),
            ("corpus/PMC13900.2/", Some("PMC13900")),
            ("PMC13900.2", Some("PMC13900")),
            ("PMC12_3.tar.gz", None),
            ("PMC12a3b.tgz", None),
            ("PMC0012.tgz", Some("PMC0012")),
            ("PMC.tar.gz", None),
            ("pmc123.tar.gz", None),
            ("x/PMC/other.tar.gz", None),
            ("PMC١٢٣.tar.gz", None),
            ("", None),
        ];
        for (path, want) in cases {
            assert_eq!(accession(path).as_deref(), want, "{path}");
        }
    }
}
