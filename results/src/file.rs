//! Reading and writing a results file: written to a temporary file in the
//! destination's directory and renamed into place, so that a reader never
//! sees half a file; read only if it is a regular file of a version this
//! pinbench reads, and its values are checked.

use crate::{validate, Results, REDERIVED_VERSIONS, SCHEMA_VERSION};
use serde::Deserialize;
use std::io::Write;
use std::path::Path;
use thiserror::Error;

/// A results file could not be written or read.
#[derive(Debug, Error)]
pub enum ResultsError {
    /// Writing, syncing or renaming failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The destination.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Reading failed.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a results file of this schema.
    #[error("{path}: not a pinbench results file: {source}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        source: serde_json::Error,
    },
    /// The file parses but holds what no run can have written.
    #[error("{path}: refused: {why}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, named.
        why: String,
    },
}

/// The largest results file read (a long default run writes a few MB; a
/// hostile one of 200 MB is still read).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// The text of the regular file `path`, refused if it is anything else (a
/// device such as /dev/zero, a FIFO) or larger than [`MAX_FILE_BYTES`].
fn read_text(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    // Non-blocking: opening a FIFO for reading would wait for a writer
    // before the check below could refuse it.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let m = f.metadata()?;
    if !m.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut text = String::new();
    f.take(MAX_FILE_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("larger than {} MiB", MAX_FILE_BYTES >> 20),
        ));
    }
    Ok(text)
}

impl Results {
    /// Serialises into `tmp` (a file in `dest`'s directory) and renames it
    /// to `dest`.
    pub fn write(&self, mut tmp: tempfile::NamedTempFile, dest: &Path) -> Result<(), ResultsError> {
        let err = |source| ResultsError::Write {
            path: dest.display().to_string(),
            source,
        };
        serde_json::to_writer_pretty(&mut tmp, self).map_err(|e| err(e.into()))?;
        tmp.write_all(b"\n").map_err(err)?;
        tmp.as_file().sync_all().map_err(err)?;
        tmp.persist(dest).map_err(|e| err(e.error))?;
        Ok(())
    }

    /// Gives every cell without [`Pairs::visit_rounds`] those of its run's
    /// config: visits of `pairs / visits` rounds (rounded up; revisits
    /// measure as many), the last holding what is left.
    fn infer_visits(&mut self) {
        let per = self.config.pairs.div_ceil(self.config.visits.max(1)).max(1);
        for c in &mut self.cells {
            if c.pairs.visit_rounds.is_none() {
                let n = c.pairs.subject_ns_per_page.len();
                let mut v = vec![per; n / per];
                if n % per > 0 {
                    v.push(n % per);
                }
                c.pairs.visit_rounds = Some(v);
            }
        }
    }

    /// Why its values cannot be believed, or `Ok`: what [`Results::read`]
    /// checks of every file.
    pub fn check(&self) -> Result<(), String> {
        validate::check(self)
    }

    /// Reads a results file and checks its version and values.
    pub fn read(path: &Path) -> Result<Self, ResultsError> {
        let text = read_text(path).map_err(|source| ResultsError::Read {
            path: path.display().to_string(),
            source,
        })?;
        // The version first: a file of another version fails to parse on
        // some renamed field, which would hide the real reason.
        let version = serde_json::from_str::<Version>(&text).map(|v| v.schema_version);
        if let Ok(v) = version {
            if v != SCHEMA_VERSION && !REDERIVED_VERSIONS.contains(&v) {
                return Err(ResultsError::Invalid {
                    path: path.display().to_string(),
                    why: format!(
                        "schema_version {v}: this pinbench reads versions \
                         {REDERIVED_VERSIONS:?} and {SCHEMA_VERSION}"
                    ),
                });
            }
        }
        let mut r: Results = serde_json::from_str(&text).map_err(|source| ResultsError::Parse {
            path: path.display().to_string(),
            source,
        })?;
        if let Some(v) = version.ok().filter(|v| REDERIVED_VERSIONS.contains(v)) {
            r.schema_version = SCHEMA_VERSION;
            r.infer_visits();
            r.derive_again();
            r.notes.push(format!(
                "written as schema_version {v}: its figures were derived again from its rounds \
                 by version {SCHEMA_VERSION}'s rules (ratios estimated over ABBA blocks of two \
                 rounds, each block judged quiet by its floor against the run's quiet floor \
                 for that work, and at one thread by its throughput probe where the file has \
                 one; intervals over visits from robust spreads, each visit of \
                 pairs / visits rounds where the file kept none; scaling withheld where too \
                 few solo slices were quiet)"
            ));
        }
        validate::check(&r).map_err(|why| ResultsError::Invalid {
            path: path.display().to_string(),
            why,
        })?;
        Ok(r)
    }
}

/// Just the version of a results file.
#[derive(Deserialize)]
struct Version {
    schema_version: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample;
    #[test]
    fn results_round_trip_through_a_renamed_file() {
        let r = sample::results(vec![sample::cell("plain", "private", 1, 4.0, 2.5e8)]);
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("r.json");
        std::fs::write(&dest, "old").expect("write");
        let tmp = tempfile::NamedTempFile::new_in(dir.path()).expect("tmp");
        r.write(tmp, &dest).expect("write");
        assert_eq!(Results::read(&dest).expect("read"), r);
        // only the destination is left
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
        let text = std::fs::read_to_string(&dest).expect("text");
        assert!(text.contains("\"cycles\": null"), "{text}");
    }

    #[test]
    fn a_version_4_file_is_derived_again_and_others_are_refused() {
        let mut one = sample::cell("plain", "private", 1, 4.0, 2.5e8);
        let mut two = sample::cell("bias", "private", 1, 4.0, 2.5e8);
        let n = 8;
        for c in [&mut one, &mut two] {
            c.pairs.subject_ns_per_page = vec![4.0; n];
            c.pairs.floor_ns_per_page = vec![2.0; n];
            c.pairs.pages_per_sec = vec![2.5e8; n];
            c.pairs.solo_pages_per_sec = None;
        }
        // Schema 6 judged rounds by the clock probe: these read quiet.
        one.pairs.probe_ns = Some(vec![3100.0; n]);
        two.pairs.probe_ns = Some(vec![3100.0; n]);
        // The floor says the second cell ran busy throughout.
        two.pairs.floor_ns_per_page = vec![2.5; n];
        let mut r = sample::results(vec![one, two]);
        r.schema_version = REDERIVED_VERSIONS[0];
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v4.json");
        let write = |r: &Results| {
            std::fs::write(&path, serde_json::to_string(r).expect("json")).expect("write")
        };
        write(&r);
        let read = Results::read(&path).expect("a version 4 file is read");
        assert_eq!(read.schema_version, SCHEMA_VERSION);
        assert!(read.notes.iter().any(|n| n.contains("derived again")));
        let busy: Vec<bool> = read.cells.iter().map(|c| c.busy).collect();
        assert_eq!(
            busy,
            vec![false, true],
            "judged by the quiet floor of the work both cells do"
        );
        assert_eq!(read.quiet_floor_ns.len(), 1);
        assert_eq!(read.cells[0].x_floor.median, 2.0);
        for v in [3, SCHEMA_VERSION + 1] {
            r.schema_version = v;
            write(&r);
            let e = Results::read(&path).expect_err("refused").to_string();
            assert!(e.contains(&format!("schema_version {v}")), "{e}");
        }
    }

    #[test]
    fn every_earlier_version_read_is_derived_again_by_todays_rules() {
        // One-thread rounds, four visits: the floor quiet throughout, the
        // core shared with a busy sibling in the middle two, which schema
        // 9 could not see (its median sat between the states) and schema
        // 10 sets aside.
        let mut c = sample::cell("hybrid", "mixed", 1, 3.0, 2.5e8);
        let n = 32;
        let visits =
            |quiet: f64, busy: f64| [[quiet; 8], [busy; 8], [busy; 8], [quiet; 8]].concat();
        c.pairs.subject_ns_per_page = visits(2.2, 3.0);
        c.pairs.floor_ns_per_page = vec![6.1; n];
        c.pairs.pages_per_sec = vec![2.5e8; n];
        c.pairs.throughput_ns = Some(visits(3000.0, 5400.0));
        c.pairs.visit_rounds = Some(vec![8, 8, 8, 8]);
        let mut r = sample::results(vec![c]);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.json");
        for v in REDERIVED_VERSIONS {
            r.schema_version = v;
            // What the writer derived: every round kept.
            r.cells[0].x_floor.median = 0.43;
            r.quiet_throughput_ns.clear();
            std::fs::write(&path, serde_json::to_string(&r).expect("json")).expect("write");
            let read = Results::read(&path).expect("an earlier version is read");
            assert_eq!(read.schema_version, SCHEMA_VERSION, "version {v}");
            let x = read.cells[0].x_floor.median;
            assert!((x - 2.2 / 6.1).abs() < 1e-9, "version {v}: {x}");
            assert_eq!(read.quiet_throughput_ns.len(), 1, "version {v}");
        }
        // A file from before the probe: judged by its floor alone, as it
        // was written, its median between the two states.
        r.cells[0].pairs.throughput_ns = None;
        r.schema_version = 9;
        std::fs::write(&path, serde_json::to_string(&r).expect("json")).expect("write");
        let read = Results::read(&path).expect("a version 9 file is read");
        assert!(read.quiet_throughput_ns.is_empty());
        let x = read.cells[0].x_floor.median;
        assert!(x > 2.3 / 6.1 && x < 2.9 / 6.1, "{x}");
    }
}
