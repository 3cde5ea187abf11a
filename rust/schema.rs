//! The scan row schema, defined once: every column the scanner returns with its Arrow type, the
//! status vocabulary, and the PMCID-from-path rule. Python reads all three from `_core`
//! (`SCAN_COLUMNS`, `FILTER_COLUMNS`, `STATUSES`, `accession`): `ingest.SCAN_SCHEMA` and the
//! status constants are built from them, never typed again.

use crate::error::Status;
use crate::records::SourceRecords;

/// `(column, Arrow type)` of every scan row, in parquet column order. Types are pyarrow's aliases
/// (`pa.type_for_alias`). `compound_layout_score` and `panel_count` come from `layout.rs` on the
/// decoded image (`ok` rows; null otherwise; docs/ingest.md).
pub const SCAN_COLUMNS: &[(&str, &str)] = &[
    ("archive", "string"),
    ("pmcid", "string"),
    ("pmid", "string"),
    ("doi", "string"),
    ("year", "int32"),
    ("license", "string"),
    ("license_source", "string"),
    ("xml_license", "string"),
    ("license_raw", "string"),
    ("title", "string"),
    ("journal", "string"),
    ("authors", "string"),
    ("figure_index", "int32"),
    ("figure_id", "string"),
    ("label", "string"),
    ("caption", "string"),
    ("graphic", "string"),
    ("member", "string"),
    ("format", "string"),
    ("width", "int32"),
    ("height", "int32"),
    ("channels", "int8"),
    ("bytes", "int64"),
    ("phash", "string"),
    ("dhash", "string"),
    ("hash_exact", "bool"),
    ("status", "string"),
    ("error", "string"),
    ("compound_layout_score", "float32"),
    ("panel_count", "int32"),
];

/// Columns the filter gets on top of [`SCAN_COLUMNS`]: `pixel_index` always, the image's original
/// bytes and its 32×32 hash thumbnail when some row of the source kept them (`with_bytes`).
pub const FILTER_COLUMNS: &[(&str, &str)] = &[("pixel_index", "int32"), ("image_bytes", "binary"), ("thumb32", "binary")];

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

/// One column's values, typed as the Arrow type it is declared with.
#[derive(Debug)]
pub enum Values {
    Utf8(Vec<Option<String>>),
    Int8(Vec<Option<i64>>),
    Int32(Vec<Option<i64>>),
    Int64(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
    Float32(Vec<Option<f32>>),
    Binary(Vec<Option<Vec<u8>>>),
}

impl Values {
    /// The Arrow type (as in the column tables) these values are.
    pub fn arrow_type(&self) -> &'static str {
        match self {
            Values::Utf8(_) => "string",
            Values::Int8(_) => "int8",
            Values::Int32(_) => "int32",
            Values::Int64(_) => "int64",
            Values::Bool(_) => "bool",
            Values::Float32(_) => "float32",
            Values::Binary(_) => "binary",
        }
    }
}

/// The values of column `name` (of [`SCAN_COLUMNS`] or [`FILTER_COLUMNS`]) for every row of `r`;
/// per-row text and bytes are moved out of `r` (each column is taken once). None for a name that
/// is in neither table.
pub fn take_column(r: &mut SourceRecords, name: &str) -> Option<Values> {
    let n = r.rows.len();
    let (a, rows) = (&r.article, &mut r.rows);
    let article = |v: &Option<String>| Values::Utf8(vec![v.clone(); n]);
    macro_rules! text {
        ($field:ident) => {
            Values::Utf8(rows.iter_mut().map(|row| row.$field.take()).collect())
        };
    }
    macro_rules! int {
        ($variant:ident, $field:ident) => {
            Values::$variant(rows.iter().map(|row| row.$field.map(|v| v as i64)).collect())
        };
    }
    Some(match name {
        "archive" => Values::Utf8(vec![Some(r.archive.clone()); n]),
        "pmcid" => article(&a.pmcid),
        "pmid" => article(&a.pmid),
        "doi" => article(&a.doi),
        "year" => Values::Int32(vec![a.year.map(i64::from); n]),
        "license" => article(&a.license),
        "license_source" => article(&a.license_source),
        "xml_license" => article(&a.xml_license),
        "license_raw" => article(&a.license_raw),
        "title" => article(&a.title),
        "journal" => article(&a.journal),
        "authors" => article(&a.authors),
        "figure_index" => int!(Int32, figure_index),
        "figure_id" => text!(figure_id),
        "label" => text!(label),
        "caption" => text!(caption),
        "graphic" => text!(graphic),
        "member" => text!(member),
        "format" => Values::Utf8(rows.iter().map(|row| row.format.map(str::to_string)).collect()),
        "width" => int!(Int32, width),
        "height" => int!(Int32, height),
        "channels" => int!(Int8, channels),
        "bytes" => int!(Int64, bytes),
        "phash" => text!(phash),
        "dhash" => text!(dhash),
        "hash_exact" => Values::Bool(rows.iter().map(|row| row.hash_exact).collect()),
        "status" => Values::Utf8(rows.iter().map(|row| Some(row.status.to_string())).collect()),
        "error" => text!(error),
        "compound_layout_score" => Values::Float32(rows.iter().map(|row| row.compound_layout_score).collect()),
        "panel_count" => int!(Int32, panel_count),
        "pixel_index" => int!(Int32, pixel_index),
        "image_bytes" => Values::Binary(rows.iter_mut().map(|row| row.data.take()).collect()),
        "thumb32" => Values::Binary(rows.iter_mut().map(|row| row.thumb.take()).collect()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Row;

    #[test]
    fn every_column_has_values_of_its_declared_type() {
        let mut names = std::collections::HashSet::new();
        for (name, arrow_type) in SCAN_COLUMNS.iter().chain(FILTER_COLUMNS) {
            assert!(names.insert(*name), "{name} is declared twice");
            let mut records = SourceRecords { rows: vec![Row::default(), Row::default()], ..Default::default() };
            let values = take_column(&mut records, name).unwrap_or_else(|| panic!("no values for column {name}"));
            assert_eq!(values.arrow_type(), *arrow_type, "column {name}");
        }
        assert!(take_column(&mut SourceRecords::default(), "no_such_column").is_none());
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
