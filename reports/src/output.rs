//! Writing a rendered report into its directory, all or nothing: every
//! file is written into a new hidden directory beside the destination
//! (`.NAME.pinbench-new-<pid>`), which is then exchanged with the
//! destination in one step; the older report's files are removed only
//! after that. A failure part way (a full disk) leaves the older report
//! whole; two reports to the same directory at once each swap in a
//! complete report, never a mix.
//!
//! A report directory holds a manifest ([`MANIFEST`]) naming the files the
//! report wrote. An existing directory is replaced only if everything in
//! it is a file its manifest names, or one this report is about to write
//! under the very same name (`report.txt`, `throughput-private.png`): a
//! report deletes no file it did not write (a photo, a drawing, notes of
//! another name), and overwrites only files of the exact names it writes.
//! A symbolic link is refused rather than followed, and so is the working
//! directory itself.

use crate::error::ReportError;
use crate::File;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file in a report directory that names the files the report wrote.
pub const MANIFEST: &str = ".pinbench-report";

/// The names `dir`'s manifest lists (none without one).
fn manifest(dir: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(dir.join(MANIFEST))
        .map(|t| {
            t.lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty() && !l.contains('/'))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The manifest's text for `files`.
fn manifest_text(files: &[File]) -> String {
    let mut t =
        String::from("# pinbench report: the files it wrote, replaced by the next report here\n");
    for f in files {
        t.push_str(&f.name);
        t.push('\n');
    }
    t
}

/// Names in `dir` that a report writing `files` may replace: its
/// manifest's, the manifest, and `files`' own names.
fn replaceable(dir: &Path, files: &[File]) -> BTreeSet<String> {
    let mut names = manifest(dir);
    names.insert(MANIFEST.to_string());
    names.extend(files.iter().map(|f| f.name.clone()));
    names
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

/// Makes sure `dir` can take the report of `files`: its parent exists
/// (created if missing) and can be written; `dir` is missing, or a
/// directory (not a link to one, not the working directory) holding only
/// files [`replaceable`] names. Touches no existing file.
pub fn prepare_dir(dir: &Path, files: &[File]) -> Result<(), ReportError> {
    let bad = |why: String| ReportError::OutputDir {
        path: dir.to_path_buf(),
        why,
    };
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(bad(
                "is a symbolic link: name the directory it points to".into()
            ))
        }
        Ok(m) if !m.is_dir() => return Err(bad("exists and is not a directory".into())),
        _ => {}
    }
    if dir.is_dir() {
        let here = std::env::current_dir().and_then(|c| c.canonicalize());
        if dir.canonicalize().ok() == here.ok() {
            return Err(bad(
                "is the working directory, which a report cannot replace: name it from outside (cd ..)"
                    .into(),
            ));
        }
        let ours = replaceable(dir, files);
        let entries = std::fs::read_dir(dir).map_err(|e| bad(format!("cannot read it: {e}")))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !ours.contains(&name) || !e.file_type().is_ok_and(|t| t.is_file()) {
                return Err(bad(format!(
                    "holds {name}, which no report manifest there lists and this report does \
                     not write: name a new or empty directory, or one an older report made"
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

/// Writes every file and the manifest into a new directory and swaps it in
/// for `dir` (which [`prepare_dir`] accepted), atomically where `dir`
/// exists (`renameat2(RENAME_EXCHANGE)`). The older report's files are
/// then removed; anything else found in its directory by then (a file
/// saved there while the report was rendered) is kept, in the directory
/// whose path is returned.
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
    // `new` now holds the older report: only what it wrote, or what ours
    // replaces by name, goes.
    let ours = replaceable(&new, files);
    if let Ok(entries) = std::fs::read_dir(&new) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if ours.contains(&name) && e.file_type().is_ok_and(|t| t.is_file()) {
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
    let path = new.join(MANIFEST);
    let err = |source| ReportError::Write {
        path: path.clone(),
        source,
    };
    let mut out = std::fs::File::create(&path).map_err(err)?;
    out.write_all(manifest_text(files).as_bytes())
        .map_err(err)?;
    out.sync_all().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_replace_old_ones_and_leave_no_temporaries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("new/report");
        let files = [File {
            name: "report.txt".into(),
            bytes: b"new\n".to_vec(),
        }];
        prepare_dir(&out, &files).expect("parent created");
        std::fs::create_dir(&out).expect("mkdir");
        std::fs::write(out.join("report.txt"), "old").expect("old");
        std::fs::write(out.join("throughput-gone.png"), "old plot").expect("old");
        std::fs::write(out.join(MANIFEST), "report.txt\nthroughput-gone.png\n").expect("old");
        prepare_dir(&out, &files).expect("an older report's directory");
        write_all(&out, &files).expect("write");
        assert_eq!(
            std::fs::read(out.join("report.txt")).expect("read"),
            b"new\n"
        );
        // The older report's other plots went with it; the manifest names
        // what is there now.
        assert_eq!(std::fs::read_dir(&out).expect("dir").count(), 2);
        assert_eq!(
            manifest(&out).into_iter().collect::<Vec<_>>(),
            ["report.txt"]
        );
        // Nothing left beside it either.
        let parent = out.parent().expect("parent");
        assert_eq!(std::fs::read_dir(parent).expect("dir").count(), 1);
    }

    #[test]
    fn a_directory_with_other_files_is_refused_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("thesis.tex"), "mine").expect("write");
        let e = prepare_dir(dir.path(), &[]).expect_err("foreign file");
        assert!(e.to_string().contains("thesis.tex"), "{e}");
        assert_eq!(
            std::fs::read(dir.path().join("thesis.tex")).expect("kept"),
            b"mine"
        );
    }

    #[test]
    fn pictures_and_reports_no_report_wrote_are_refused_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pics = dir.path().join("pics");
        std::fs::create_dir(&pics).expect("mkdir");
        for (name, bytes) in [
            ("holiday-photo.png", "photo"),
            ("architecture.svg", "drawing"),
            ("report.md", "my notes"),
        ] {
            std::fs::write(pics.join(name), bytes).expect("write");
        }
        let files = [File {
            name: "report.txt".into(),
            bytes: b"new".to_vec(),
        }];
        let e = prepare_dir(&pics, &files).expect_err("the user's files");
        assert!(e.to_string().contains("no report manifest"), "{e}");
        assert_eq!(std::fs::read_dir(&pics).expect("dir").count(), 3);
        // A manifest lists only what a report wrote: the photo is still not
        // replaceable because an older report's manifest says report.txt.
        std::fs::write(pics.join(MANIFEST), "report.txt\n").expect("manifest");
        assert!(prepare_dir(&pics, &files).is_err());
        // Files of the very names the report writes are replaced (a report
        // directory from before manifests).
        let old = dir.path().join("old");
        std::fs::create_dir(&old).expect("mkdir");
        std::fs::write(old.join("report.txt"), "old").expect("write");
        prepare_dir(&old, &files).expect("same names");
    }

    #[test]
    fn a_link_to_a_directory_is_refused_and_its_target_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("target");
        std::fs::create_dir(&target).expect("mkdir");
        std::fs::write(target.join("report.txt"), "old").expect("write");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let files = [File {
            name: "report.txt".into(),
            bytes: b"new".to_vec(),
        }];
        let e = prepare_dir(&link, &files).expect_err("a link");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(
            std::fs::read(target.join("report.txt")).expect("kept"),
            b"old"
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
        let e = prepare_dir(&f, &[]).expect_err("a file");
        assert!(e.to_string().contains("not a directory"), "{e}");
        assert_eq!(std::fs::read(&f).expect("read"), b"keep");
    }
}
