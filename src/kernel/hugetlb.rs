//! hugetlb-backed buffers (`MAP_HUGETLB`): the page size a backing asks
//! for, and the pool the run reserves for it. As `run_vmtests.sh` does, the
//! pool of the wanted size (`/sys/kernel/mm/hugepages/hugepages-<kB>kB`) is
//! grown by what is missing, and put back as it was when the run ends.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// How a buffer is backed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backing {
    /// 4 KiB pages (`MADV_NOHUGEPAGE`).
    Base,
    /// Transparent huge pages (`MADV_HUGEPAGE`; what was granted is read
    /// back from smaps).
    Thp,
    /// hugetlb pages of this many KiB (`MAP_HUGETLB`).
    Hugetlb(u64),
}

impl Backing {
    /// From a `--thp` word: `off`, `on`, `hugetlb` (2 MiB), `hugetlb-1g`.
    pub fn parse(word: &str) -> Option<Backing> {
        match word {
            "off" => Some(Backing::Base),
            "on" => Some(Backing::Thp),
            "hugetlb" => Some(Backing::Hugetlb(2048)),
            "hugetlb-1g" => Some(Backing::Hugetlb(1 << 20)),
            _ => None,
        }
    }

    /// The name in results and labels: `4k`, `thp`, `hugetlb-2M`, `hugetlb-1G`.
    pub fn name(self) -> &'static str {
        match self {
            Backing::Base => "4k",
            Backing::Thp => "thp",
            Backing::Hugetlb(2048) => "hugetlb-2M",
            Backing::Hugetlb(_) => "hugetlb-1G",
        }
    }

    /// Bytes of one page of the backing (THP: its PMD size).
    pub fn page_bytes(self) -> usize {
        match self {
            Backing::Base => crate::machine::mapping::PAGE_SIZE,
            Backing::Thp => 2 << 20,
            Backing::Hugetlb(kb) => (kb as usize) << 10,
        }
    }

    /// The folio order the kernel sees.
    pub fn folio_order(self) -> u8 {
        match self {
            Backing::Base => 0,
            _ => (self.page_bytes() / crate::machine::mapping::PAGE_SIZE).trailing_zeros() as u8,
        }
    }
}

/// A hugetlb pool grown for the run; shrunk back on drop.
pub struct Pool {
    nr_path: PathBuf,
    before: u64,
}

/// The pool of `kb`-KiB pages under `root` (`/sys/kernel/mm/hugepages`).
fn dir(root: &Path, kb: u64) -> PathBuf {
    root.join(format!("hugepages-{kb}kB"))
}

fn read_u64(p: &Path) -> io::Result<u64> {
    fs::read_to_string(p)?
        .trim()
        .parse()
        .map_err(|_| io::Error::other(format!("{}: not a number", p.display())))
}

impl Pool {
    /// Makes `pages` free pages of `kb` KiB available, growing the pool by
    /// what is missing; `Err(why)` when they cannot be had (no such size,
    /// not root, memory too fragmented), with the pool put back.
    pub fn reserve(root: &Path, kb: u64, pages: u64) -> Result<Pool, String> {
        let d = dir(root, kb);
        let nr_path = d.join("nr_hugepages");
        let before =
            read_u64(&nr_path).map_err(|e| format!("no {kb} KiB hugetlb pool here ({e})"))?;
        let free = read_u64(&d.join("free_hugepages")).unwrap_or(0);
        let pool = Pool { nr_path, before };
        if free >= pages {
            return Ok(pool);
        }
        fs::write(&pool.nr_path, (before + pages - free).to_string()).map_err(|e| {
            format!(
                "cannot grow the {kb} KiB pool ({e}; root can: echo N > {})",
                pool.nr_path.display()
            )
        })?;
        let now = read_u64(&d.join("free_hugepages")).unwrap_or(0);
        if now < pages {
            return Err(format!(
                "the {kb} KiB hugetlb pool has {now} free pages of the {pages} the run needs (memory too fragmented? try at boot: hugepages=N)"
            ));
        }
        Ok(pool)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Best effort: pages still mapped are freed back as they are unmapped.
        let _ = fs::write(&self.nr_path, self.before.to_string());
    }
}

/// Where the kernel lists its hugetlb pools.
pub const SYSFS_HUGEPAGES: &str = "/sys/kernel/mm/hugepages";

/// Grows the pool of every hugetlb backing `jobs` use by what their largest
/// cell needs (threads x `buffer_bytes`); the jobs of a backing whose pages
/// cannot be had are dropped, with a note saying why. The pools go back to
/// their size when the returned values are dropped.
pub fn reserve_for(
    root: &Path,
    jobs: &mut Vec<super::plan::Job>,
    buffer_bytes: usize,
    notes: &mut Vec<String>,
) -> Vec<Pool> {
    let mut pools = Vec::new();
    let mut sizes: Vec<u64> = Vec::new();
    for j in jobs.iter() {
        if let Backing::Hugetlb(kb) = j.backing {
            if !sizes.contains(&kb) {
                sizes.push(kb);
            }
        }
    }
    for kb in sizes {
        let backing = Backing::Hugetlb(kb);
        let threads = jobs
            .iter()
            .filter(|j| j.backing == backing)
            .map(|j| j.threads)
            .max()
            .unwrap_or(1);
        let pages = (threads * buffer_bytes.div_ceil(backing.page_bytes())) as u64;
        match Pool::reserve(root, kb, pages) {
            Ok(p) => pools.push(p),
            Err(why) => {
                jobs.retain(|j| j.backing != backing);
                notes.push(format!("{} cells skipped: {why}", backing.name()));
            }
        }
    }
    pools
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backings_parse_and_name_their_pages() {
        assert_eq!(Backing::parse("hugetlb"), Some(Backing::Hugetlb(2048)));
        assert_eq!(
            Backing::parse("hugetlb-1g").map(Backing::folio_order),
            Some(18)
        );
        assert_eq!(Backing::Thp.folio_order(), 9);
        assert_eq!(Backing::Base.folio_order(), 0);
        assert_eq!(Backing::parse("maybe"), None);
    }

    #[test]
    fn a_pool_grows_by_what_is_missing_and_is_put_back() {
        let root = tempfile::tempdir().expect("tempdir");
        let d = dir(root.path(), 2048);
        fs::create_dir_all(&d).expect("mkdir");
        fs::write(d.join("nr_hugepages"), "4\n").expect("write");
        fs::write(d.join("free_hugepages"), "1\n").expect("write");
        // A fake pool does not fill itself: the reservation is refused and
        // the count put back.
        let e = Pool::reserve(root.path(), 2048, 8).err().expect("refused");
        assert!(e.contains("1 free pages of the 8"), "{e}");
        assert_eq!(
            fs::read_to_string(d.join("nr_hugepages")).expect("read"),
            "4"
        );
        fs::write(d.join("free_hugepages"), "9\n").expect("write");
        let pool = Pool::reserve(root.path(), 2048, 8).expect("enough free");
        drop(pool);
        assert!(Pool::reserve(root.path(), 1 << 20, 1).is_err_and(|e| e.contains("no 1048576 KiB")));
    }
}
