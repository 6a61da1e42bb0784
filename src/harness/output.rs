//! Where a measuring command's results go, so that nothing a user already
//! wrote is replaced without their say and nothing measured is lost:
//!
//! - `-o -` writes the results to standard output (the summary then goes
//!   to standard error).
//! - A destination that exists and is not a regular file (a device, a FIFO,
//!   a directory) is refused; an existing results file is replaced only
//!   with `--force`, and never by a run that measured nothing.
//! - The results are checkpointed after every cell visit (marked partial)
//!   into `.NAME.pinbench-tmp` beside the destination, under an exclusive
//!   `flock` on `.NAME.pinbench-lock` that a second writer of the same name
//!   is refused on. Each checkpoint is written beside the last
//!   (`.NAME.pinbench-next`), synced and renamed over it, so a failed write
//!   (a full disk) leaves the last good checkpoint whole. The last write
//!   renames the results into place; without `--force` with
//!   `renameat2(RENAME_NOREPLACE)`, so a file that appeared meanwhile is
//!   kept and the results take a fresh name instead.
//! - A checkpoint left by an aborted run (second Ctrl-C, SIGKILL, a panic)
//!   is found by the next run of the same name, or, for the default
//!   `pinbench-<time>.json` names, by the next run with a default name in
//!   that directory, and kept as `NAME.aborted-<time>.json`.
//! - If the destination cannot be written at the end (disk full, directory
//!   removed), the results go to the system's temporary directory and the
//!   user is told where; where that fails too, the user is told how many
//!   cells the last checkpoint holds, read back from it, never more.
//! - New files get the umask's mode, like other tools; a replaced file
//!   keeps its own.

use crate::machine::host;
use pin_results::Results;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The destination cannot be used (bad input: exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OutputError(pub String);

/// Free space the destination's filesystem must have at the start.
const MIN_FREE_BYTES: u64 = 16 << 20;

/// A checked destination for one run's results.
pub enum Destination {
    /// `-o -`.
    Stdout,
    /// A file, with its locked checkpoint beside it.
    File(FileDest),
}

/// A file destination.
pub struct FileDest {
    dest: PathBuf,
    /// The last good checkpoint.
    tmp_path: PathBuf,
    /// Where the next checkpoint is written before it replaces the last.
    next_path: PathBuf,
    lock_path: PathBuf,
    /// Held (flock) while the run lasts.
    _lock: File,
    force: bool,
    stamp: String,
    /// Where the results go when the destination fails (the system's
    /// temporary directory).
    rescue_dir: PathBuf,
}

impl Drop for FileDest {
    /// A run that ends without committing (an error) leaves its
    /// checkpoint, whole (it only ever appears by a rename), for the next
    /// run to keep. The lock file goes while it is still held.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.next_path);
        let _ = std::fs::remove_file(&self.lock_path);
    }
}

/// Where the results ended up.
#[derive(Debug, PartialEq, Eq)]
pub enum Saved {
    /// On standard output.
    Stdout,
    /// At the destination asked for.
    AsAsked(PathBuf),
    /// Elsewhere, why, and whether the file holds all the run measured
    /// (read back from it: a checkpoint may hold fewer cells or rounds).
    Elsewhere(PathBuf, String, bool),
    /// Nowhere: every place failed, and why.
    Lost(String),
}

fn bad(dest: &Path, why: impl std::fmt::Display) -> OutputError {
    OutputError(format!("-o {}: {why}", dest.display()))
}

impl Destination {
    /// Checks `given` (default `pinbench-<time>.json`) and takes the lock on
    /// its checkpoint; touches nothing that exists but a stale checkpoint,
    /// which it keeps under another name.
    pub fn open(
        given: Option<PathBuf>,
        force: bool,
        start: SystemTime,
    ) -> Result<Self, OutputError> {
        let stamp: String = host::rfc3339(start)
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let given_default = given.is_none();
        let dest = given.unwrap_or_else(|| PathBuf::from(format!("pinbench-{stamp}.json")));
        if dest.as_os_str() == "-" {
            return Ok(Destination::Stdout);
        }
        match std::fs::symlink_metadata(&dest) {
            Ok(m) if m.is_dir() => return Err(bad(&dest, "is a directory")),
            Ok(m) if m.file_type().is_symlink() => {
                return Err(bad(&dest, "is a symbolic link: name the file it points to"))
            }
            Ok(m) if !m.file_type().is_file() => {
                let kind = if m.file_type().is_char_device() || m.file_type().is_block_device() {
                    "a device"
                } else {
                    "not a regular file"
                };
                return Err(bad(&dest, format!("exists and is {kind}: refused")));
            }
            Ok(_) if !force => {
                return Err(bad(
                    &dest,
                    "exists: pass --force to replace it, or name another file",
                ))
            }
            _ => {}
        }
        let name = dest
            .file_name()
            .ok_or_else(|| bad(&dest, "names no file"))?
            .to_string_lossy()
            .into_owned();
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        check_free_space(&dest, &dir)?;
        if given_default {
            keep_stale_default_checkpoints(&dir, &stamp);
        }
        let at = |what: &str| dir.join(format!(".{name}.pinbench-{what}"));
        let (tmp_path, next_path, lock_path) = (at("tmp"), at("next"), at("lock"));
        let lock = lock_checkpoint(&dest, &lock_path, &tmp_path, &stamp)?;
        Ok(Destination::File(FileDest {
            dest,
            tmp_path,
            next_path,
            lock_path,
            _lock: lock,
            force,
            stamp,
            rescue_dir: std::env::temp_dir(),
        }))
    }

    /// Saves what is measured so far into the checkpoint (files only).
    pub fn checkpoint(&mut self, results: &Results) -> io::Result<()> {
        match self {
            Destination::Stdout => Ok(()),
            Destination::File(f) => f.write(results, Json::Compact),
        }
    }

    /// Writes the final results where they belong. A run that measured no
    /// cell replaces nothing: its checkpoint is removed and `None` returned.
    pub fn commit(self, results: &Results) -> Option<Saved> {
        match self {
            Destination::Stdout if results.cells.is_empty() => None,
            Destination::Stdout => {
                let mut out = io::stdout().lock();
                let ok = serde_json::to_writer_pretty(&mut out, results).is_ok()
                    && out.write_all(b"\n").is_ok()
                    && out.flush().is_ok();
                Some(if ok {
                    Saved::Stdout
                } else {
                    let why = "standard output could not be written";
                    rescue(&std::env::temp_dir(), results, why, "stdout")
                        .unwrap_or_else(Saved::Lost)
                })
            }
            Destination::File(f) => f.commit(results),
        }
    }
}

impl FileDest {
    fn commit(mut self, results: &Results) -> Option<Saved> {
        if results.cells.is_empty() {
            let _ = std::fs::remove_file(&self.tmp_path);
            return None;
        }
        let written = self.write(results, Json::Pretty);
        if let Err(e) = written.and_then(|()| self.set_mode()) {
            let why = format!("writing {}: {e}", self.next_path.display());
            return Some(self.rescue(results, &why));
        }
        let placed = if self.force {
            match std::fs::symlink_metadata(&self.dest) {
                Ok(m) if !m.file_type().is_file() => {
                    Err(io::Error::other("it is no longer a regular file"))
                }
                _ => std::fs::rename(&self.tmp_path, &self.dest),
            }
        } else {
            rename_noreplace(&self.tmp_path, &self.dest)
        };
        match placed {
            Ok(()) => Some(Saved::AsAsked(self.dest.clone())),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                // Someone wrote the destination during the run: keep theirs.
                let other = sibling(&self.dest, &format!("pinbench-{}", self.stamp));
                match rename_noreplace(&self.tmp_path, &other) {
                    Ok(()) => Some(Saved::Elsewhere(
                        other,
                        format!(
                            "{} appeared during the run and was kept",
                            self.dest.display()
                        ),
                        true,
                    )),
                    Err(e) => Some(self.rescue(results, &e.to_string())),
                }
            }
            Err(e) => {
                let why = format!("{}: {e}", self.dest.display());
                Some(self.rescue(results, &why))
            }
        }
    }

    /// Writes `results` beside the last checkpoint and renames it over
    /// that: a failure leaves the last checkpoint as it was.
    fn write(&mut self, results: &Results, json: Json) -> io::Result<()> {
        let _writing = WRITING.lock();
        let written = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&self.next_path)
            .and_then(|mut f| write_into(&mut f, results, json))
            .and_then(|()| std::fs::rename(&self.next_path, &self.tmp_path));
        if written.is_err() {
            let _ = std::fs::remove_file(&self.next_path);
        }
        written
    }

    /// The results saved in the temporary directory; the checkpoint is
    /// removed only once they are, else it is where they stay, claimed to
    /// hold only the cells it is read back to hold.
    fn rescue(&self, results: &Results, why: &str) -> Saved {
        match rescue(&self.rescue_dir, results, why, &self.stamp) {
            Ok(saved) => {
                let _ = std::fs::remove_file(&self.tmp_path);
                saved
            }
            Err(all) => match Results::read(&self.tmp_path) {
                Ok(kept) if !kept.cells.is_empty() => {
                    let rounds = |r: &Results| -> usize {
                        r.cells
                            .iter()
                            .map(|c| c.pairs.subject_ns_per_page.len())
                            .sum()
                    };
                    let (n, r) = (kept.cells.len(), rounds(&kept));
                    let complete = n == results.cells.len() && r == rounds(results);
                    Saved::Elsewhere(
                        self.tmp_path.clone(),
                        format!(
                            "{all}; the last checkpoint holds {n} of the {} cells, {r} of the {} rounds",
                            results.cells.len(),
                            rounds(results)
                        ),
                        complete,
                    )
                }
                _ => Saved::Lost(all),
            },
        }
    }

    /// The umask's mode for a new file; with --force, a replaced file's own.
    fn set_mode(&self) -> io::Result<()> {
        let mode = match std::fs::metadata(&self.dest) {
            Ok(m) if self.force => m.permissions().mode() & 0o7777,
            _ => 0o666 & !umask(),
        };
        std::fs::set_permissions(&self.tmp_path, std::fs::Permissions::from_mode(mode))
    }
}

/// Held while a checkpoint is being rewritten; a second signal takes it
/// before it ends the process ([`abort_after_write`]), so an abort never
/// leaves a half-written checkpoint.
static WRITING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Ends the process with `code` once no checkpoint is half written.
pub fn abort_after_write(code: i32) -> ! {
    let _held = WRITING.lock();
    std::process::exit(code)
}

/// Writes `results` into the empty file `f`, synced.
/// How results are laid out as JSON.
#[derive(Clone, Copy)]
enum Json {
    /// Indented, for a reader: the results file and a rescued copy.
    Pretty,
    /// One line, for the checkpoint after every cell visit: on the 2-vCPU
    /// VM, the checkpoints of a full `--quick` run (730 visits, growing to
    /// 1.4 MB) took 3.4 s of its wall time indented.
    Compact,
}

fn write_into(f: &mut File, results: &Results, json: Json) -> io::Result<()> {
    let mut w = io::BufWriter::new(&mut *f);
    match json {
        Json::Pretty => serde_json::to_writer_pretty(&mut w, results)?,
        Json::Compact => serde_json::to_writer(&mut w, results)?,
    }
    w.write_all(b"\n")?;
    w.flush()?;
    drop(w);
    f.sync_all()
}

/// `NAME.<tag>.json` beside `dest`.
fn sibling(dest: &Path, tag: &str) -> PathBuf {
    let stem = dest
        .file_stem()
        .map_or("results".into(), |s| s.to_string_lossy().into_owned());
    dest.with_file_name(format!("{stem}.{tag}.json"))
}

/// The results, saved in the system's temporary directory after the
/// destination failed; `Err(why)` when they could not be, with nothing
/// left there.
fn rescue(dir: &Path, results: &Results, why: &str, stamp: &str) -> Result<Saved, String> {
    let path = dir.join(format!(
        "pinbench-rescued-{stamp}-{}.json",
        std::process::id()
    ));
    let _writing = WRITING.lock();
    let saved = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666 & !umask())
        .open(&path)
        .and_then(|mut f| write_into(&mut f, results, Json::Pretty));
    match saved {
        Ok(()) => Ok(Saved::Elsewhere(path, why.to_string(), true)),
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            Err(format!("{why}; and {}: {e}", path.display()))
        }
    }
}

/// Refuses a destination whose filesystem is nearly full.
fn check_free_space(dest: &Path, dir: &Path) -> Result<(), OutputError> {
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
        .map_err(|_| bad(dest, "the path holds a NUL byte"))?;
    // SAFETY: statvfs is plain data; all-zero is a valid value to fill.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a statvfs to fill.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        let e = io::Error::last_os_error();
        return Err(bad(dest, format!("cannot write in {}: {e}", dir.display())));
    }
    let free = s.f_bavail as u64 * s.f_frsize as u64;
    if free < MIN_FREE_BYTES {
        return Err(bad(
            dest,
            format!(
                "only {} KiB free on {}'s filesystem; a run needs up to {} MiB",
                free >> 10,
                dir.display(),
                MIN_FREE_BYTES >> 20
            ),
        ));
    }
    Ok(())
}

/// Takes the run's lock on `lock_path` (`flock`, checked to be on the file
/// now at that path: an ending run removes it). A non-empty checkpoint at
/// `tmp_path` is then an aborted run's, unless it is a results file with
/// no cells: it is kept as `NAME.aborted-<time>.json` (unreadable ones
/// too: a half-written file still holds measurements worth a look).
fn lock_checkpoint(
    dest: &Path,
    lock_path: &Path,
    tmp_path: &Path,
    stamp: &str,
) -> Result<File, OutputError> {
    let lock = take_lock(lock_path).map_err(|e| match e {
        Locked::Held => bad(
            dest,
            format!(
                "another pinbench is writing it (lock on {})",
                lock_path.display()
            ),
        ),
        Locked::Failed(e) => bad(dest, format!("cannot lock {}: {e}", lock_path.display())),
    })?;
    keep_stale(dest, tmp_path, stamp).map_err(|e| {
        bad(
            dest,
            format!("cannot keep the stale {}: {e}", tmp_path.display()),
        )
    })?;
    Ok(lock)
}

/// Why a lock was not taken.
enum Locked {
    /// Another process holds it.
    Held,
    /// The lock file could not be made or locked.
    Failed(io::Error),
}

/// An exclusive `flock` on the file at `path`, made if missing.
fn take_lock(path: &Path) -> Result<File, Locked> {
    for _ in 0..4 {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(Locked::Failed)?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            return Err(if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                Locked::Held
            } else {
                Locked::Failed(e)
            });
        }
        if same_file(&f, path) {
            return Ok(f);
        }
        // Removed by the run that held it between our open and flock.
    }
    Err(Locked::Failed(io::Error::other(
        "it keeps changing under us",
    )))
}

/// Keeps an aborted run's checkpoint at `tmp_path` as
/// `NAME.aborted-<stamp>.json` beside `dest`, saying so; an empty one, or
/// one with no cells, is removed.
fn keep_stale(dest: &Path, tmp_path: &Path, stamp: &str) -> io::Result<()> {
    let text = match std::fs::read_to_string(tmp_path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        // Not text: still a half-written file worth keeping.
        Err(_) => String::from("?"),
    };
    let empty_run = serde_json::from_str::<Results>(&text).is_ok_and(|r| r.cells.is_empty());
    if text.is_empty() || empty_run {
        return std::fs::remove_file(tmp_path);
    }
    let kept = sibling(dest, &format!("aborted-{stamp}"));
    rename_noreplace(tmp_path, &kept)?;
    let _ = writeln!(
        io::stderr(),
        "pinbench: an earlier run of {} was aborted: what it wrote is kept in {}",
        dest.display(),
        kept.display()
    );
    Ok(())
}

/// Keeps the checkpoints of aborted runs with default names
/// (`.pinbench-<time>.json.pinbench-tmp`) in `dir`: no later run has their
/// name. A checkpoint whose lock is held belongs to a run still going.
fn keep_stale_default_checkpoints(dir: &Path, stamp: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    // A checkpoint, or a lone lock of a run killed before its first one.
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let dest = name.strip_prefix('.').and_then(|n| {
                n.strip_suffix(".pinbench-tmp")
                    .or_else(|| n.strip_suffix(".pinbench-lock"))
            })?;
            (dest.starts_with("pinbench-") && dest.ends_with(".json")).then(|| dest.to_string())
        })
        .collect();
    names.sort();
    names.dedup();
    for dest_name in names {
        let at = |what: &str| dir.join(format!(".{dest_name}.pinbench-{what}"));
        let lock_path = at("lock");
        if let Ok(_lock) = take_lock(&lock_path) {
            let _ = keep_stale(&dir.join(&dest_name), &at("tmp"), stamp);
            let _ = std::fs::remove_file(at("next"));
            let _ = std::fs::remove_file(&lock_path);
        }
    }
}

/// Whether the open file `f` is the one now at `path`.
fn same_file(f: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (f.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// `rename(from, to)` that fails with EEXIST rather than replace `to`.
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_encoded_bytes())
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
    };
    let (f, t) = (c(from)?, c(to)?);
    // SAFETY: two NUL-terminated paths relative to the working directory.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        // A filesystem without renameat2's flags (NFS, 9p): link(2) refuses
        // an existing name too.
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => {
            std::fs::hard_link(from, to)?;
            std::fs::remove_file(from)
        }
        _ => Err(e),
    }
}

/// The process's umask (read by setting and restoring it, before any
/// thread that could create files runs).
fn umask() -> u32 {
    // SAFETY: umask(2) cannot fail.
    let old = unsafe { libc::umask(0o022) };
    // SAFETY: as above; restores the old mask.
    unsafe { libc::umask(old) };
    old & 0o777
}

#[cfg(test)]
mod tests {
    use super::*;
    use pin_results::sample;

    /// The `NAME.aborted-*` files in `dir`.
    fn aborted(dir: &Path) -> Vec<std::fs::DirEntry> {
        std::fs::read_dir(dir)
            .expect("dir")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("aborted"))
            .collect()
    }

    fn results(cells: usize) -> Results {
        sample::results(
            (0..cells)
                .map(|t| sample::cell("plain", "private", t + 1, 10.0, 1e8))
                .collect(),
        )
    }

    #[test]
    fn an_existing_file_is_kept_without_force_and_replaced_with_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("r.json");
        std::fs::write(&dest, "mine").expect("write");
        let e = Destination::open(Some(dest.clone()), false, SystemTime::now())
            .err()
            .expect("refused");
        assert!(e.to_string().contains("--force"), "{e}");
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o444)).expect("chmod");
        let d = Destination::open(Some(dest.clone()), true, SystemTime::now()).expect("forced");
        assert_eq!(d.commit(&results(1)), Some(Saved::AsAsked(dest.clone())));
        assert!(Results::read(&dest).is_ok());
        // A replaced file keeps its mode; nothing else is left.
        let mode = std::fs::metadata(&dest).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o444);
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
    }

    #[test]
    fn checkpoints_are_one_line_and_the_results_file_is_indented() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("r.json");
        let mut d = Destination::open(Some(dest.clone()), false, SystemTime::now()).expect("open");
        d.checkpoint(&results(2)).expect("checkpoint");
        let Destination::File(f) = &d else {
            panic!("a file destination");
        };
        let checkpoint = std::fs::read_to_string(&f.tmp_path).expect("checkpoint read");
        assert_eq!(checkpoint.lines().count(), 1);
        assert!(Results::read(&f.tmp_path).is_ok());
        assert!(matches!(d.commit(&results(2)), Some(Saved::AsAsked(_))));
        let file = std::fs::read_to_string(&dest).expect("results read");
        assert!(
            file.lines().count() > 20 && file.contains("\n  \""),
            "not indented"
        );
    }

    #[test]
    fn nothing_measured_replaces_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("r.json");
        std::fs::write(&dest, "mine").expect("write");
        let d = Destination::open(Some(dest.clone()), true, SystemTime::now()).expect("forced");
        assert_eq!(d.commit(&results(0)), None);
        assert_eq!(std::fs::read_to_string(&dest).expect("read"), "mine");
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
    }

    #[test]
    fn a_second_writer_is_refused_and_a_file_that_appeared_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("r.json");
        let first = Destination::open(Some(dest.clone()), false, SystemTime::now()).expect("first");
        let e = Destination::open(Some(dest.clone()), false, SystemTime::now())
            .err()
            .expect("second refused");
        assert!(e.to_string().contains("another pinbench"), "{e}");
        std::fs::write(&dest, "written meanwhile").expect("write");
        match first.commit(&results(1)) {
            Some(Saved::Elsewhere(p, why, true)) => {
                assert!(Results::read(&p).is_ok(), "{p:?}");
                assert!(why.contains("appeared"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            std::fs::read_to_string(&dest).expect("read"),
            "written meanwhile"
        );
    }

    #[test]
    fn a_stale_checkpoint_is_kept_and_devices_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("r.json");
        let mut d = Destination::open(Some(dest.clone()), false, SystemTime::now()).expect("open");
        d.checkpoint(&results(2)).expect("checkpoint");
        // The process dies here: its lock goes, its checkpoint stays.
        drop(d);
        let _next = Destination::open(Some(dest.clone()), false, SystemTime::now()).expect("next");
        let kept = aborted(dir.path());
        assert_eq!(kept.len(), 1);
        assert_eq!(Results::read(&kept[0].path()).expect("kept").cells.len(), 2);
        let e = Destination::open(Some("/dev/null".into()), true, SystemTime::now())
            .err()
            .expect("device refused");
        assert!(e.to_string().contains("a device"), "{e}");
    }

    #[test]
    fn a_failed_checkpoint_leaves_the_last_whole_and_no_claim_outruns_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("r.json");
        let d = Destination::open(Some(dest.clone()), false, SystemTime::now()).expect("open");
        let Destination::File(mut f) = d else {
            panic!("a file destination")
        };
        f.write(&results(2), Json::Compact)
            .expect("first checkpoint");
        // The next write fails part way (a directory where it goes stands
        // for a full disk): the last checkpoint is untouched.
        std::fs::create_dir(&f.next_path).expect("mkdir");
        assert!(f.write(&results(3), Json::Compact).is_err());
        let tmp = f.tmp_path.clone();
        assert_eq!(Results::read(&tmp).expect("whole").cells.len(), 2);
        // The end: the destination and the rescue directory fail too. The
        // run is told the checkpoint holds 2 of its 3 cells, and no empty
        // rescue file is left behind.
        // A path under a regular file fails for root too.
        std::fs::write(dir.path().join("full"), "").expect("write");
        f.rescue_dir = dir.path().join("full/tmp");
        let saved = Destination::File(f).commit(&results(3));
        match saved {
            Some(Saved::Elsewhere(p, why, false)) => {
                assert_eq!(p, tmp);
                assert!(why.contains("holds 2 of the 3 cells"), "{why}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_aborted_default_name_run_is_kept_by_the_next_default_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stale = dir
            .path()
            .join(".pinbench-20261206T201500Z.json.pinbench-tmp");
        let text = serde_json::to_string(&results(2)).expect("json");
        std::fs::write(&stale, text).expect("write");
        // A run still going with another default name keeps its own.
        let live = Destination::open(
            Some(dir.path().join("pinbench-20261206T201600Z.json")),
            false,
            SystemTime::now(),
        )
        .expect("live");
        let Destination::File(mut live) = live else {
            panic!("a file destination")
        };
        live.write(&results(1), Json::Compact).expect("checkpoint");
        keep_stale_default_checkpoints(dir.path(), "NOW");
        let kept = aborted(dir.path());
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(
            kept[0].file_name().to_string_lossy(),
            "pinbench-20261206T201500Z.aborted-NOW.json"
        );
        assert!(!stale.exists());
        assert!(live.tmp_path.exists());
    }

    #[test]
    fn a_half_written_checkpoint_is_kept_not_emptied() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("r.json");
        std::fs::write(
            dir.path().join(".r.json.pinbench-tmp"),
            "{\"schema_version\": 3, \"cel",
        )
        .expect("write");
        let _d = Destination::open(Some(dest.clone()), false, SystemTime::now()).expect("open");
        let kept = aborted(dir.path());
        assert_eq!(kept.len(), 1);
        let text = std::fs::read_to_string(kept[0].path()).expect("kept");
        assert!(text.starts_with("{\"schema_version\": 3"), "{text}");
    }

    #[test]
    fn symlinks_are_refused_and_stdout_gets_nothing_of_an_empty_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("real.json");
        std::fs::write(&target, "mine").expect("write");
        let link = dir.path().join("latest.json");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let e = Destination::open(Some(link), true, SystemTime::now())
            .err()
            .expect("refused");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let out = Destination::open(Some("-".into()), false, SystemTime::now()).expect("stdout");
        assert_eq!(out.commit(&results(0)), None);
    }
}
