//! The hugetlb pools a kernel run grows, and how they are put back whatever
//! becomes of the run.
//!
//! A pool's size (`nr_hugepages`) is system state that outlives the
//! process, so what a run changed is written down outside it first: a
//! ledger per page size in `/run/pinbench` (tmpfs: it goes at reboot, as
//! the pools' runtime size does) holds the pool's size before any pinbench
//! run touched it and one line per run holding pages (pid, start time,
//! pages). A pool is always `before` plus the pages of the runs alive, so:
//!
//! - a run that ends (or is aborted by a second signal) takes its line out
//!   and sets the pool to what the others still need, `before` when none;
//! - a run that died (`kill -9`, OOM) is found dead by the next run, by
//!   `pinbench kernel --probe`, or by a run still going when it releases,
//!   and the pool is put back as if it had ended;
//! - two runs at once each get their own pages on top of `before`, and
//!   neither shrinks the pool under the other (runs that share one
//!   `/run`: containers with their own do not see each other's ledgers).
//!
//! Pages a pool already has free, where no pinbench run holds any (a pool
//! reserved at boot, which is how 1 GiB pages are best had), are used as
//! they are, with nothing to put back and no root needed. Two runs that
//! start together on such a pool may both count on the same free pages:
//! the one that maps second finds too few, and its cell says so.
//!
//! Every read and write of a ledger and of `nr_hugepages` is made under one
//! `flock` (`/run/pinbench/.lock`). The ledger is written (beside, then
//! renamed) before the pool is grown, so a death between the two leaves a
//! ledger that the repair reads correctly. Pages still mapped when a pool
//! shrinks become surplus and go back to the buddy allocator when their
//! last user unmaps them (mm/hugetlb.c, `set_max_huge_pages()`).
//!
//! Where the pool must grow, it grows by the run's whole need, not by what
//! is missing from `free_hugepages`, so that pages another pinbench run
//! holds stay its own.

use super::backing::Backing;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where the kernel lists its hugetlb pools.
pub const SYSFS_HUGEPAGES: &str = "/sys/kernel/mm/hugepages";

/// Where the ledgers are kept.
pub const LEDGER_DIR: &str = "/run/pinbench";

/// The pools' directory and the ledgers' (both fixed but in tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// `/sys/kernel/mm/hugepages`.
    pub sysfs: PathBuf,
    /// `/run/pinbench`.
    pub ledgers: PathBuf,
}

impl Place {
    /// The running system's.
    pub fn system() -> Self {
        Self {
            sysfs: SYSFS_HUGEPAGES.into(),
            ledgers: LEDGER_DIR.into(),
        }
    }

    fn nr_path(&self, kb: u64) -> PathBuf {
        self.sysfs
            .join(format!("hugepages-{kb}kB"))
            .join("nr_hugepages")
    }

    fn ledger_path(&self, kb: u64) -> PathBuf {
        self.ledgers.join(format!("hugepages-{kb}kB"))
    }
}

/// A process, told apart from a later one with the same pid by its start
/// time (`/proc/PID/stat` field 22, clock ticks since boot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Holder {
    pid: u32,
    start: u64,
    pages: u64,
}

/// The start time of `pid`, `None` when it is gone.
fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and ')': fields after the
    // last ')' are plain; starttime is the 20th of them.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

impl Holder {
    /// This process; `None` when its start time cannot be read (it could
    /// not be told apart from a later process of its pid).
    fn me(pages: u64) -> Option<Self> {
        let pid = std::process::id();
        Some(Self {
            pid,
            start: start_time(pid)?,
            pages,
        })
    }

    fn alive(&self) -> bool {
        start_time(self.pid) == Some(self.start)
    }
}

/// One pool's ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Ledger {
    before: u64,
    holders: Vec<Holder>,
}

impl Ledger {
    /// What the pool should be: `before` plus every holder's pages.
    fn target(&self) -> u64 {
        self.holders
            .iter()
            .fold(self.before, |t, h| t.saturating_add(h.pages))
    }

    fn parse(text: &str) -> Option<Self> {
        let mut before = None;
        let mut holders = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let w: Vec<&str> = line.split_whitespace().collect();
            match w.as_slice() {
                ["before", n] => before = Some(n.parse().ok()?),
                ["holder", pid, start, pages] => holders.push(Holder {
                    pid: pid.parse().ok()?,
                    start: start.parse().ok()?,
                    pages: pages.parse().ok()?,
                }),
                [] => {}
                _ => return None,
            }
        }
        Some(Self {
            before: before?,
            holders,
        })
    }

    fn render(&self) -> String {
        let mut s = String::from(
            "# pinbench: the hugetlb pool's size before any run grew it, and the runs holding pages\n",
        );
        s.push_str(&format!("before {}\n", self.before));
        for h in &self.holders {
            s.push_str(&format!("holder {} {} {}\n", h.pid, h.start, h.pages));
        }
        s
    }

    /// Takes out the holders that are gone; their pids.
    fn drop_dead(&mut self) -> Vec<u32> {
        let dead = self
            .holders
            .iter()
            .filter(|h| !h.alive())
            .map(|h| h.pid)
            .collect();
        self.holders.retain(Holder::alive);
        dead
    }
}

/// How long a run waits for another to finish with the ledgers (each holds
/// the lock for a few writes; a stopped process, `Ctrl-Z`, may hold it
/// for ever, and a second Ctrl-C must still end the run).
const LOCK_PATIENCE: Duration = Duration::from_secs(10);

/// The lock every ledger and pool change is made under; an error if it
/// cannot be made or is held past [`LOCK_PATIENCE`].
fn lock(place: &Place) -> io::Result<File> {
    fs::create_dir_all(&place.ledgers)?;
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(place.ledgers.join(".lock"))?;
    let t0 = Instant::now();
    // SAFETY: flock on a descriptor we own; released when it is closed.
    while unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(e);
        }
        if t0.elapsed() > LOCK_PATIENCE {
            return Err(io::Error::other(format!(
                "held by another process for over {} s",
                LOCK_PATIENCE.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(f)
}

fn read_u64(p: &Path) -> io::Result<u64> {
    fs::read_to_string(p)?
        .trim()
        .parse()
        .map_err(|_| io::Error::other(format!("{}: not a number", p.display())))
}

/// The ledger of the `kb` pool; `Ok(None)` when there is none.
fn load(place: &Place, kb: u64) -> Result<Option<Ledger>, String> {
    let path = place.ledger_path(kb);
    match fs::read_to_string(&path) {
        Ok(text) => Ledger::parse(&text).map(Some).ok_or_else(|| {
            format!(
                "{} is not a pinbench ledger: put the pool back by hand (echo N > {}) and remove it",
                path.display(),
                place.nr_path(kb).display()
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Writes the ledger (beside, synced, renamed), or removes it when no run
/// holds pages any more.
fn store(place: &Place, kb: u64, ledger: &Ledger) -> io::Result<()> {
    let path = place.ledger_path(kb);
    if ledger.holders.is_empty() {
        return match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    let next = place.ledgers.join(format!(".hugepages-{kb}kB.next"));
    let mut f = File::create(&next)?;
    f.write_all(ledger.render().as_bytes())?;
    f.sync_all()?;
    fs::rename(&next, &path)
}

/// Sets the pool to what the ledger says, then stores the ledger, which
/// holds no more pages than before (a run leaving): a death between the
/// two leaves the ledger still counting the pages, which a repair gives
/// back. The ledger is stored even where the pool cannot be set (a
/// refused write): it must not count pages nobody holds.
fn settle(place: &Place, kb: u64, ledger: &Ledger) -> io::Result<()> {
    let set = fs::write(place.nr_path(kb), ledger.target().to_string());
    let stored = store(place, kb, ledger);
    set.and(stored)
}

/// Pools this process holds, for [`release_all`].
static HELD: Mutex<Vec<(Place, u64)>> = Mutex::new(Vec::new());

/// Pages of a hugetlb pool held for this run; given back on drop where the
/// run grew the pool for them.
#[derive(Debug)]
pub struct Pool {
    place: Place,
    kb: u64,
    /// Grown for this run (a line of the ledger), not found free.
    grown: bool,
}

impl Pool {
    /// Makes `pages` pages of the `kb` pool available to this run; `Err(why)`
    /// when they cannot be had (no such size, not root, memory too
    /// fragmented), with the pool and the ledger as they were. Where no
    /// other pinbench run holds pages and the pool already has them free
    /// (reserved at boot, or by the administrator), they are used as they
    /// are, by anyone, with nothing to put back; otherwise the pool is grown
    /// for the run under the ledger.
    pub fn reserve(place: &Place, kb: u64, pages: u64) -> Result<Pool, String> {
        let nr_path = place.nr_path(kb);
        read_u64(&nr_path).map_err(|e| format!("no {kb} KiB hugetlb pool here ({e})"))?;
        let free_path = nr_path.with_file_name("free_hugepages");
        let free = || read_u64(&free_path).unwrap_or(0);
        let unowned = || Pool {
            place: place.clone(),
            kb,
            grown: false,
        };
        let _lock = match lock(place) {
            Ok(l) => l,
            Err(_) if free() >= pages => return Ok(unowned()),
            Err(e) => return Err(format!("cannot lock {}: {e}", place.ledgers.display())),
        };
        let ledger = load(place, kb)?;
        if ledger.is_none() && free() >= pages {
            return Ok(unowned());
        }
        let me = Holder::me(pages).ok_or("cannot read this process's start time")?;
        // Read under the lock: a run that ended meanwhile set it back.
        let now = read_u64(&nr_path).map_err(|e| format!("{}: {e}", nr_path.display()))?;
        let mut ledger = ledger.unwrap_or(Ledger {
            before: now,
            holders: Vec::new(),
        });
        ledger.drop_dead();
        ledger.holders.push(me);
        // Held from here, so that an abort while the pool grows gives back
        // whatever the ledger says (a line not there is nothing to give).
        if let Ok(mut held) = HELD.lock() {
            held.push((place.clone(), kb));
        }
        let grown = grow(place, kb, &ledger);
        if let Err(why) = grown {
            ledger.holders.pop();
            let _ = settle(place, kb, &ledger);
            forget(place, kb);
            return Err(why);
        }
        Ok(Pool {
            grown: true,
            place: place.clone(),
            kb,
        })
    }
}

/// Stores `ledger` (this run's line last), then grows the pool to it.
fn grow(place: &Place, kb: u64, ledger: &Ledger) -> Result<(), String> {
    let nr_path = place.nr_path(kb);
    store(place, kb, ledger).map_err(|e| {
        format!(
            "cannot write the ledger in {}: {e}",
            place.ledgers.display()
        )
    })?;
    fs::write(&nr_path, ledger.target().to_string()).map_err(|e| {
        format!(
            "cannot grow the {kb} KiB pool ({e}; root can: echo N > {})",
            nr_path.display()
        )
    })?;
    let got = read_u64(&nr_path).unwrap_or(0);
    if got < ledger.target() {
        return Err(format!(
            "the {kb} KiB hugetlb pool grew to {got} pages of the {} the run needs (memory too \
             fragmented? reserve them at boot: hugepagesz=... hugepages=N)",
            ledger.target()
        ));
    }
    Ok(())
}

/// Takes the `kb` pool off [`HELD`].
fn forget(place: &Place, kb: u64) {
    if let Ok(mut held) = HELD.lock() {
        held.retain(|(p, k)| (p, *k) != (place, kb));
    }
}

/// Takes this process's line out of the `kb` ledger and sets the pool to
/// what the runs still alive hold.
fn release(place: &Place, kb: u64) {
    let Ok(_lock) = lock(place) else { return };
    if let (Ok(Some(mut ledger)), Some(me)) = (load(place, kb), Holder::me(0)) {
        ledger
            .holders
            .retain(|h| (h.pid, h.start) != (me.pid, me.start));
        ledger.drop_dead();
        let _ = settle(place, kb, &ledger);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if self.grown {
            release(&self.place, self.kb);
            forget(&self.place, self.kb);
        }
    }
}

/// Gives back every pool this process holds: for an abort that ends the
/// process without running destructors.
pub fn release_all() {
    let held = HELD.lock().map(|h| h.clone()).unwrap_or_default();
    for (place, kb) in held {
        release(&place, kb);
    }
}

/// The page sizes (KiB) that have a ledger ([`Place::ledger_path`]).
fn ledger_sizes(place: &Place) -> Vec<u64> {
    let Ok(entries) = fs::read_dir(&place.ledgers) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()
        })
        .collect()
}

/// Puts back every pool whose ledger names only runs that are gone; one
/// line for each pool it found changed, saying what it did.
pub fn repair(place: &Place) -> Vec<String> {
    let sizes = ledger_sizes(place);
    if sizes.is_empty() {
        return Vec::new();
    }
    let Ok(_lock) = lock(place) else {
        return Vec::new();
    };
    let mut notes = Vec::new();
    for kb in sizes {
        let mut ledger = match load(place, kb) {
            Ok(Some(l)) => l,
            Ok(None) => continue,
            Err(why) => {
                notes.push(why);
                continue;
            }
        };
        let left = read_u64(&place.nr_path(kb)).unwrap_or(0);
        let dead = ledger.drop_dead();
        if dead.is_empty() {
            continue;
        }
        let left = format!(
            "the {kb} KiB hugetlb pool was left at {left} pages by pinbench run(s) that died (pid {})",
            join(&dead)
        );
        let target = ledger.target();
        notes.push(match settle(place, kb, &ledger) {
            Ok(()) => format!("{left}: set to {target}"),
            Err(e) => format!("{left}, and cannot be set back to {target} ({e})"),
        });
    }
    notes
}

/// The runs holding pages of each pool, for `kernel --probe`.
pub fn holders(place: &Place) -> Vec<String> {
    let mut out: Vec<String> = ledger_sizes(place)
        .into_iter()
        .filter_map(|kb| {
            let mut l = load(place, kb).ok()??;
            l.drop_dead();
            let pids: Vec<u32> = l.holders.iter().map(|h| h.pid).collect();
            Some(format!(
                "{kb} kB: {} pages held by running pinbench (pid {}) over {}",
                l.target() - l.before,
                join(&pids),
                l.before
            ))
        })
        .collect();
    out.sort();
    out
}

fn join(pids: &[u32]) -> String {
    pids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Puts back what runs that died left (a note each), then makes each
/// hugetlb backing of `needs` (a backing, and the most pages any of its
/// cells needs) available to this run. Returns the pools held, to drop at
/// the end, and the backings that cannot be had, each with why.
pub fn reserve_for(
    place: &Place,
    needs: &[(Backing, u64)],
    notes: &mut Vec<String>,
) -> (Vec<Pool>, Vec<(Backing, String)>) {
    notes.extend(repair(place));
    let mut pools = Vec::new();
    let mut refused = Vec::new();
    for &(backing, pages) in needs {
        let Backing::Hugetlb(kb) = backing else {
            continue;
        };
        match Pool::reserve(place, kb, pages) {
            Ok(p) => pools.push(p),
            Err(why) => refused.push((backing, why)),
        }
    }
    (pools, refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake sysfs pool of 2 MiB pages at `nr`, and a ledger directory.
    fn fake(nr: u64) -> (tempfile::TempDir, Place) {
        let root = tempfile::tempdir().expect("tempdir");
        let place = Place {
            sysfs: root.path().join("sys"),
            ledgers: root.path().join("run"),
        };
        let d = place.sysfs.join("hugepages-2048kB");
        fs::create_dir_all(&d).expect("mkdir");
        fs::write(d.join("nr_hugepages"), format!("{nr}\n")).expect("write");
        (root, place)
    }

    fn nr(place: &Place) -> u64 {
        read_u64(&place.nr_path(2048)).expect("nr")
    }

    /// A pid that is certainly gone: a child reaped at once.
    fn dead_pid() -> u32 {
        let mut c = std::process::Command::new("true").spawn().expect("spawn");
        let pid = c.id();
        c.wait().expect("wait");
        pid
    }

    #[test]
    fn a_pool_grows_by_the_whole_need_and_is_put_back() {
        let (_root, place) = fake(4);
        let pool = Pool::reserve(&place, 2048, 8).expect("grown");
        assert_eq!(nr(&place), 12);
        let l = load(&place, 2048).expect("ok").expect("ledger");
        assert_eq!((l.before, l.holders.len()), (4, 1));
        drop(pool);
        assert_eq!(nr(&place), 4);
        assert!(!place.ledger_path(2048).exists());
        assert!(Pool::reserve(&place, 1 << 20, 1).is_err_and(|e| e.contains("no 1048576 KiB")));
    }

    #[test]
    fn a_dead_run_s_pages_are_given_back_by_the_next_run_and_by_repair() {
        let (_root, place) = fake(0);
        fs::create_dir_all(&place.ledgers).expect("mkdir");
        let dead = Ledger {
            before: 0,
            holders: vec![Holder {
                pid: dead_pid(),
                start: 1,
                pages: 64,
            }],
        };
        store(&place, 2048, &dead).expect("store");
        fs::write(place.nr_path(2048), "64").expect("left grown");
        let notes = repair(&place);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("left at 64") && notes[0].contains("set to 0"),
            "{notes:?}"
        );
        assert_eq!(nr(&place), 0);
        assert!(!place.ledger_path(2048).exists());
        // The next run reads 'before' from the ledger, not the grown pool.
        store(&place, 2048, &dead).expect("store");
        fs::write(place.nr_path(2048), "64").expect("left grown");
        let pool = Pool::reserve(&place, 2048, 8).expect("grown");
        assert_eq!(nr(&place), 8);
        drop(pool);
        assert_eq!(nr(&place), 0);
    }

    #[test]
    fn two_runs_at_once_keep_each_other_s_pages() {
        let (_root, place) = fake(2);
        fs::create_dir_all(&place.ledgers).expect("mkdir");
        // Another live run (our parent) holds 16 pages.
        let other = Holder {
            pid: std::os::unix::process::parent_id(),
            start: start_time(std::os::unix::process::parent_id()).expect("parent"),
            pages: 16,
        };
        store(
            &place,
            2048,
            &Ledger {
                before: 2,
                holders: vec![other],
            },
        )
        .expect("store");
        fs::write(place.nr_path(2048), "18").expect("grown by the other");
        let pool = Pool::reserve(&place, 2048, 8).expect("grown");
        assert_eq!(nr(&place), 26);
        drop(pool);
        // The other run's pages stay until it ends.
        assert_eq!(nr(&place), 18);
        assert!(repair(&place).is_empty());
        assert_eq!(holders(&place).len(), 1);
    }

    #[test]
    fn a_ledger_that_cannot_be_written_refuses_the_pool_and_leaves_it() {
        let (root, mut place) = fake(3);
        // A regular file where the ledgers' directory should be.
        place.ledgers = root.path().join("not-a-dir");
        fs::write(&place.ledgers, "x").expect("write");
        let e = Pool::reserve(&place, 2048, 8).expect_err("refused");
        assert!(e.contains("cannot lock"), "{e}");
        assert_eq!(nr(&place), 3);
    }

    #[test]
    fn free_pages_no_run_holds_are_used_as_they_are() {
        let (root, mut place) = fake(10);
        let d = place.sysfs.join("hugepages-2048kB");
        fs::write(d.join("free_hugepages"), "10\n").expect("write");
        // No ledger can even be made (not root): the free pages serve.
        place.ledgers = root.path().join("not-a-dir");
        fs::write(&place.ledgers, "x").expect("write");
        let pool = Pool::reserve(&place, 2048, 8).expect("free pages");
        drop(pool);
        assert_eq!(nr(&place), 10);
        // Too few free: refused, naming why.
        assert!(Pool::reserve(&place, 2048, 11).is_err_and(|e| e.contains("cannot lock")));
    }

    #[test]
    fn ledgers_round_trip_and_junk_is_refused() {
        let l = Ledger {
            before: 7,
            holders: vec![Holder {
                pid: 12,
                start: 34,
                pages: 5,
            }],
        };
        assert_eq!(Ledger::parse(&l.render()), Some(l));
        assert_eq!(Ledger::parse("before x\n"), None);
        assert_eq!(Ledger::parse("holder 1 2 3\n"), None);
        assert!(Holder::me(1).is_some());
    }
}
