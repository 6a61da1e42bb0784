//! Writing a rendered report into its directory, all or nothing: every
//! file is written into a new hidden directory beside the destination
//! (`.NAME.pinbench-new-<pid>`), which is then exchanged with the
//! destination in one step; the older report's files are removed only
//! after that. A failure
//! part way (a full disk) leaves the older report whole; two reports to the
//! same directory at once each swap in a complete report, never a mix.
//! A directory that holds anything but report files is refused, so a report
//! never deletes what a user put there.

use crate::error::ReportError;
use crate::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Whether `name` is a file a report writes.
fn is_report_file(name: &str) -> bool {
    name == "report.txt" || name == "report.md" || name.ends_with(".svg") || name.ends_with(".png")
}

/// The directory `dir` lives in.
fn parent(dir: &Path) -> PathBuf {
    match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `.NAME.pinbench-<what>-<pid>` beside `dir`.
fn beside(dir: &Path, what: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map_or("report".into(), |n| n.to_string_lossy().into_owned());
    parent(dir).join(format!(".{name}.pinbench-{what}-{}", std::process::id()))
}

/// Makes sure `dir` can take the report: its parent exists (created if
/// missing) and can be written; `dir` is missing, or a directory holding
/// only files of an older report. Touches no existing file.
pub fn prepare_dir(dir: &Path) -> Result<(), ReportError> {
    let bad = |why: String| ReportError::OutputDir {
        path: dir.to_path_buf(),
        why,
    };
    if dir.exists() && !dir.is_dir() {
        return Err(bad("exists and is not a directory".into()));
    }
    if dir.is_dir() {
        let entries = std::fs::read_dir(dir).map_err(|e| bad(format!("cannot read it: {e}")))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !is_report_file(&name) || !e.file_type().is_ok_and(|t| t.is_file()) {
                return Err(bad(format!(
                    "holds {name}, which no report writes: name a new or empty directory, \
                     or one of an older report"
                )));
            }
        }
    }
    let up = parent(dir);
    std::fs::create_dir_all(&up)
        .map_err(|e| bad(format!("cannot create {}: {e}", up.display())))?;
    tempfile::Builder::new()
        .prefix(".pinbench-report-")
        .tempfile_in(&up)
        .map_err(|e| bad(format!("cannot write in {}: {e}", up.display())))?;
    Ok(())
}

/// Writes every file into a new directory and swaps it in for `dir`
/// (which [`prepare_dir`] accepted), atomically where `dir` exists
/// (`renameat2(RENAME_EXCHANGE)`). The older report's files are then
/// removed; anything else found in its directory by then (a file saved
/// there while the report was rendered) is kept, in the directory whose
/// path is returned.
pub fn write_all(dir: &Path, files: &[File]) -> Result<Option<PathBuf>, ReportError> {
    let new = beside(dir, "new");
    if let Err(e) = write_into(&new, files) {
        let _ = std::fs::remove_dir_all(&new);
        return Err(e);
    }
    let err = |source| ReportError::Write {
        path: dir.to_path_buf(),
        source,
    };
    if !dir.exists() {
        return std::fs::rename(&new, dir).map(|()| None).map_err(|e| {
            let _ = std::fs::remove_dir_all(&new);
            err(e)
        });
    }
    if let Err(e) = exchange(&new, dir) {
        let _ = std::fs::remove_dir_all(&new);
        return Err(err(e));
    }
    // `new` now holds the older report.
    if let Ok(entries) = std::fs::read_dir(&new) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if is_report_file(&name) && e.file_type().is_ok_and(|t| t.is_file()) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    if std::fs::remove_dir(&new).is_ok() {
        return Ok(None);
    }
    let kept = beside(dir, "kept");
    Ok(Some(if std::fs::rename(&new, &kept).is_ok() {
        kept
    } else {
        new
    }))
}

/// Swaps the directories `a` and `b` in one step.
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_encoded_bytes())
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
    };
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: two NUL-terminated paths relative to the working directory.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Every file into the fresh directory `new`, each synced.
fn write_into(new: &Path, files: &[File]) -> Result<(), ReportError> {
    std::fs::create_dir(new).map_err(|source| ReportError::Write {
        path: new.to_path_buf(),
        source,
    })?;
    for f in files {
        let path = new.join(&f.name);
        let err = |source| ReportError::Write {
            path: path.clone(),
            source,
        };
        let mut out = std::fs::File::create(&path).map_err(err)?;
        out.write_all(&f.bytes).map_err(err)?;
        out.sync_all().map_err(err)?;
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
        prepare_dir(&out).expect("parent created");
        std::fs::create_dir(&out).expect("mkdir");
        std::fs::write(out.join("report.txt"), "old").expect("old");
        std::fs::write(out.join("throughput-gone.png"), "old plot").expect("old");
        let files = [File {
            name: "report.txt".into(),
            bytes: b"new\n".to_vec(),
        }];
        write_all(&out, &files).expect("write");
        assert_eq!(
            std::fs::read(out.join("report.txt")).expect("read"),
            b"new\n"
        );
        // The older report's other plots went with it.
        assert_eq!(std::fs::read_dir(&out).expect("dir").count(), 1);
        // Nothing left beside it either.
        let parent = out.parent().expect("parent");
        assert_eq!(std::fs::read_dir(parent).expect("dir").count(), 1);
    }

    #[test]
    fn a_directory_with_other_files_is_refused_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("thesis.tex"), "mine").expect("write");
        let e = prepare_dir(dir.path()).expect_err("foreign file");
        assert!(e.to_string().contains("thesis.tex"), "{e}");
        assert_eq!(
            std::fs::read(dir.path().join("thesis.tex")).expect("kept"),
            b"mine"
        );
    }

    #[test]
    fn a_failed_write_leaves_the_older_report_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("r");
        std::fs::create_dir(&out).expect("mkdir");
        std::fs::write(out.join("report.txt"), "old").expect("old");
        // A name no file can have makes the write fail part way.
        let files = [
            File {
                name: "report.txt".into(),
                bytes: b"new".to_vec(),
            },
            File {
                name: "no/such/dir.png".into(),
                bytes: vec![],
            },
        ];
        assert!(write_all(&out, &files).is_err());
        assert_eq!(std::fs::read(out.join("report.txt")).expect("read"), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
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
