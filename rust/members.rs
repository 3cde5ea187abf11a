//! Named members of one source, read whole: what Python needs after the scan (the kept images'
//! original bytes, labelled figures out of fetched packages). Packages are read as the scan reads
//! them (`archive.rs`: every gzip member in turn, inflated in one go when small); a plain tar is
//! read too; in an article folder a name is a file of the folder.

use crate::archive::{basename, for_each_file, read_gzipped_tar, WHOLE_GUNZIP_MAX_STORED};
use crate::error::CoreError;
use flate2::read::MultiGzDecoder;
use std::collections::{HashMap, HashSet};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// How names are matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// The member's full name inside the package (the scan's `member` column).
    Name,
    /// The member's file name (last path part); results are keyed by it, a later member of the
    /// same file name replacing an earlier one.
    FileName,
}

/// The members of `source` that `names` name, by name; names that match nothing are absent. An
/// empty `names` still reads the whole package: a broken one is an error. Errors: the source
/// cannot be opened, or its gzip or tar stream is broken (truncated, not gzip, not tar).
pub fn read_members(source: &Path, names: &HashSet<String>, by: Match) -> Result<HashMap<String, Vec<u8>>, CoreError> {
    let fail = |message: String| CoreError::BadSource { path: source.display().to_string(), message };
    let meta = std::fs::metadata(source).map_err(|e| CoreError::Io { path: source.display().to_string(), source: e })?;
    if meta.is_dir() {
        return read_folder(source, names);
    }
    let mut file = std::fs::File::open(source).map_err(|e| fail(format!("cannot open: {e}")))?;
    let mut magic = [0u8; 2];
    let is_gzip = file.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
    file.seek(SeekFrom::Start(0)).map_err(|e| fail(format!("cannot read: {e}")))?;
    let mut found = HashMap::new();
    let result = if !is_gzip {
        read_tar(BufReader::new(file), names, by, &mut found)
    } else if meta.len() <= WHOLE_GUNZIP_MAX_STORED {
        let compressed = std::fs::read(source).map_err(|e| fail(format!("cannot read: {e}")))?;
        read_gzipped_tar(&compressed, |tar| read_tar(tar, names, by, &mut found))
    } else {
        read_tar(MultiGzDecoder::new(BufReader::with_capacity(256 << 10, file)), names, by, &mut found)
    };
    result.map_err(fail)?;
    Ok(found)
}

fn read_tar(reader: impl Read, names: &HashSet<String>, by: Match, found: &mut HashMap<String, Vec<u8>>) -> Result<(), String> {
    for_each_file(reader, |mut file| {
        let key = match by {
            Match::Name => file.name.clone(),
            Match::FileName => basename(&file.name).to_string(),
        };
        if names.contains(&key) {
            found.insert(key, file.read()?);
        }
        Ok(())
    })
}

/// A name is looked up by its file name: a folder holds no sub-folders of members.
fn read_folder(dir: &Path, names: &HashSet<String>) -> Result<HashMap<String, Vec<u8>>, CoreError> {
    let mut found = HashMap::new();
    for name in names {
        let path = dir.join(basename(name));
        match std::fs::read(&path) {
            Ok(data) => {
                found.insert(name.clone(), data);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CoreError::Io { path: path.display().to_string(), source: e }),
        }
    }
    Ok(found)
}

// Tested from Python on real packages (one and several gzip members, plain tar), article folders
// and broken sources: tests/test_schema.py.
