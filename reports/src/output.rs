//! Writing a rendered report into its directory: each file goes to a
//! temporary name in that directory and is renamed into place, so a reader
//! never sees half a file and a failure leaves the old file whole.

use crate::error::ReportError;
use crate::File;
use std::io::Write;
use std::path::Path;

/// Makes sure `dir` can take the report: creates it (and its parents) if
/// missing; refuses a path that exists and is not a directory, and a
/// directory where no file can be created. Touches no existing file.
pub fn prepare_dir(dir: &Path) -> Result<(), ReportError> {
    let bad = |why: String| ReportError::OutputDir {
        path: dir.to_path_buf(),
        why,
    };
    if dir.exists() && !dir.is_dir() {
        return Err(bad("exists and is not a directory".into()));
    }
    std::fs::create_dir_all(dir).map_err(|e| bad(format!("cannot create it: {e}")))?;
    tempfile::Builder::new()
        .prefix(".pinbench-report-")
        .tempfile_in(dir)
        .map_err(|e| bad(format!("cannot write in it: {e}")))?;
    Ok(())
}

/// Writes every file into `dir` (which [`prepare_dir`] accepted).
pub fn write_all(dir: &Path, files: &[File]) -> Result<(), ReportError> {
    for f in files {
        let path = dir.join(&f.name);
        let err = |source| ReportError::Write {
            path: path.clone(),
            source,
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".pinbench-report-")
            .tempfile_in(dir)
            .map_err(err)?;
        tmp.write_all(&f.bytes).map_err(err)?;
        tmp.as_file().sync_all().map_err(err)?;
        tmp.persist(&path).map_err(|e| err(e.error))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_replace_old_ones_and_leave_no_temporaries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("new/report");
        prepare_dir(&out).expect("created");
        std::fs::write(out.join("report.txt"), "old").expect("old");
        let files = [File {
            name: "report.txt".into(),
            bytes: b"new\n".to_vec(),
        }];
        write_all(&out, &files).expect("write");
        assert_eq!(
            std::fs::read(out.join("report.txt")).expect("read"),
            b"new\n"
        );
        assert_eq!(std::fs::read_dir(&out).expect("dir").count(), 1);
    }

    #[test]
    fn a_file_in_the_way_is_refused_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("r");
        std::fs::write(&f, "keep").expect("write");
        let e = prepare_dir(&f).expect_err("a file");
        assert!(e.to_string().contains("not a directory"), "{e}");
        assert_eq!(std::fs::read(&f).expect("read"), b"keep");
    }
}
