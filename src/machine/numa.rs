//! NUMA placement: memmap memory on a chosen node, threads on chosen CPUs,
//! and a check of where the memory really landed.
//!
//! The memmap's pages live in an anonymous `mmap` region ([`MmapPages`],
//! our `PageStorage`). To put it on node N we `mbind(MPOL_BIND, N)` the
//! region and then let a thread bound to node N's CPUs build the memmap, so
//! the first touch happens there too (the fallback when `mbind` is refused,
//! e.g. on a kernel without CONFIG_NUMA). Afterwards `move_pages(…, NULL
//! nodes, status)` asks the kernel which node holds sampled pages of the
//! region; that answer, not the request, is what the results record.

use super::mapping::{Mapping, PAGE_SIZE};
use pin_schemes::{MemMap, MemMapError, NodeSpan, Page, PageStorage};
use std::io;
use thiserror::Error;

/// Pages sampled by [`verify_node`].
const VERIFY_SAMPLES: usize = 256;

/// The memmap memory could not be set up.
#[derive(Debug, Error)]
pub enum NumaError {
    /// `mmap` of the memmap region failed.
    #[error("mmap of {bytes} bytes for the memmap failed: {source}")]
    Mmap {
        /// Size asked for.
        bytes: usize,
        /// Why.
        source: io::Error,
    },
    /// The memmap could not be built over the region.
    #[error("building the memmap: {0}")]
    MemMap(#[from] MemMapError),
    /// The setup thread died.
    #[error("the memmap setup thread panicked")]
    SetupThread,
}

/// An anonymous private mapping holding `len` pages; unmapped on drop.
pub struct MmapPages {
    map: Mapping,
    len: usize,
}

impl MmapPages {
    /// Maps room for `len` pages (zero-filled, so every `Page` is valid).
    pub fn new(len: usize) -> Result<Self, NumaError> {
        let bytes = len.saturating_mul(std::mem::size_of::<Page>());
        let map = Mapping::new(bytes).map_err(|source| NumaError::Mmap { bytes, source })?;
        // In 4 KiB pages, though the kernel maps its own vmemmap in 2 MiB
        // ones (docs/schemes.md says why and what it costs), on every host:
        // THP `always` would otherwise back it with 2 MiB pages, and its
        // cells would not compare with others'. `memmap_thp_bytes` checks.
        // SAFETY: advice over our own fresh mapping; it changes no data.
        unsafe {
            libc::madvise(
                map.ptr().as_ptr() as *mut libc::c_void,
                map.bytes(),
                libc::MADV_NOHUGEPAGE,
            )
        };
        Ok(Self { map, len })
    }

    /// `mbind(MPOL_BIND)` of the whole region to `node`.
    pub fn bind(&self, node: u32) -> io::Result<()> {
        mbind(
            self.map.ptr().as_ptr() as *mut libc::c_void,
            self.map.bytes(),
            node,
        )
    }
}

// SAFETY: the mapping is never moved or remapped while `self` lives, so
// `pages()` returns the same slice at the same address every time; `Page`
// is made of atomics, so sharing `&[Page]` between threads is sound.
unsafe impl PageStorage for MmapPages {
    fn pages(&self) -> &[Page] {
        // SAFETY: `len` pages fit in the mapping, which is readable,
        // writable, page aligned (>= align_of::<Page>) and zero-filled,
        // and all-zero bytes are a valid `Page`.
        unsafe { std::slice::from_raw_parts(self.map.ptr().as_ptr() as *const Page, self.len) }
    }
}

/// `mbind(addr, len, MPOL_BIND, {node})`.
pub fn mbind(addr: *mut libc::c_void, len: usize, node: u32) -> io::Result<()> {
    const MASK_WORDS: usize = 16; // 1024 nodes
    let mut mask = [0u64; MASK_WORDS];
    let word = node as usize / 64;
    if word >= MASK_WORDS {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    mask[word] |= 1 << (node % 64);
    // SAFETY: `addr..addr+len` is a mapping we own; the mask outlives the
    // call and holds MASK_WORDS * 64 bits, passed as maxnode.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mbind,
            addr,
            len,
            libc::MPOL_BIND,
            mask.as_ptr(),
            (MASK_WORDS * 64) as libc::c_ulong,
            0u32,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Binds the calling thread to `cpus` (`sched_setaffinity`).
pub fn bind_thread(cpus: &[usize]) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // SAFETY: `cpu` is below CPU_SETSIZE, checked above.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: pid 0 is the calling thread; `set` is a valid cpu_set_t.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// CPUs the calling thread may run on (`sched_getaffinity`).
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: as in `bind_thread`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is the calling thread; `set` is writable.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((0..libc::CPU_SETSIZE as usize)
        // SAFETY: `c` is below CPU_SETSIZE.
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect())
}

/// Where the memmap was asked to go and where it went.
#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    /// The node asked for.
    pub requested: u32,
    /// `"mbind"` or `"first-touch"`.
    pub method: &'static str,
    /// The node `move_pages` reports for most sampled pages.
    pub verified: Option<u32>,
    /// Fraction of sampled pages on `verified`.
    pub fraction: f64,
}

/// Builds a memmap of `nr_pages` on `node` from a thread bound to `cpus`
/// (the node's CPUs; empty = leave the thread unbound), lets `form` make
/// folios while it is still private, and reports where it landed.
pub fn build_memmap(
    nr_pages: usize,
    node: u32,
    cpus: &[usize],
    form: impl FnOnce(&mut MemMap) -> Result<(), MemMapError> + Send,
) -> Result<(MemMap, Placement), NumaError> {
    std::thread::scope(|s| {
        s.spawn(|| {
            // A failed bind only weakens first touch; mbind still places.
            let _ = bind_thread(cpus);
            let storage = MmapPages::new(nr_pages)?;
            let method = if storage.bind(node).is_ok() {
                "mbind"
            } else {
                "first-touch"
            };
            // MemMap::new writes every page: the first touch.
            let mut memmap = MemMap::new(
                Box::new(storage),
                &[NodeSpan {
                    nid: node,
                    nr_pages,
                }],
            )?;
            form(&mut memmap)?;
            let (verified, fraction) = verify_node(&memmap);
            Ok((
                memmap,
                Placement {
                    requested: node,
                    method,
                    verified,
                    fraction,
                },
            ))
        })
        .join()
        .map_err(|_| NumaError::SetupThread)?
    })
}

/// The host pages backing the memmap's `struct page` array.
fn region(memmap: &MemMap) -> (usize, usize) {
    let pages = memmap.pages();
    let start = pages.as_ptr() as usize;
    let bytes = std::mem::size_of_val(pages).div_ceil(PAGE_SIZE) * PAGE_SIZE;
    (start, bytes)
}

/// Asks `move_pages(0, n, pages, NULL, status, 0)` which node holds sampled
/// pages of the memmap; returns the most common node and its share.
pub fn verify_node(memmap: &MemMap) -> (Option<u32>, f64) {
    let (start, bytes) = region(memmap);
    region_node(start, bytes)
}

/// [`verify_node`] for any mapped region `start..start + bytes`.
pub fn region_node(start: usize, bytes: usize) -> (Option<u32>, f64) {
    let host_pages = bytes / PAGE_SIZE;
    let n = host_pages.min(VERIFY_SAMPLES);
    let addrs: Vec<*mut libc::c_void> = (0..n)
        .map(|i| (start + (i * host_pages / n) * PAGE_SIZE) as *mut libc::c_void)
        .collect();
    let mut status = vec![-1i32; n];
    // SAFETY: `addrs` and `status` hold `n` entries; nodes = NULL asks only
    // for the current node of each page, moving nothing.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_pages,
            0,
            n as libc::c_ulong,
            addrs.as_ptr(),
            std::ptr::null::<i32>(),
            status.as_mut_ptr(),
            0,
        )
    };
    if r != 0 {
        return (None, 0.0);
    }
    let mut counts = std::collections::BTreeMap::new();
    for &s in status.iter().filter(|&&s| s >= 0) {
        *counts.entry(s as u32).or_insert(0usize) += 1;
    }
    match counts
        .into_iter()
        .max_by_key(|&(node, c)| (c, u32::MAX - node))
    {
        Some((node, c)) => (Some(node), c as f64 / n as f64),
        None => (None, 0.0),
    }
}

/// Bytes of the memmap region the kernel backs with THP.
pub fn thp_bytes(memmap: &MemMap) -> Option<u64> {
    let (start, bytes) = region(memmap);
    super::mapping::thp_bytes(start, start + bytes)
}

/// Bytes of the memmap region resident in RAM (`mincore`).
pub fn resident_bytes(memmap: &MemMap) -> Option<u64> {
    let (start, bytes) = region(memmap);
    let mut vec = vec![0u8; bytes / PAGE_SIZE];
    // SAFETY: the region is mapped and `vec` has one byte per host page.
    let r = unsafe { libc::mincore(start as *mut libc::c_void, bytes, vec.as_mut_ptr()) };
    (r == 0).then(|| vec.iter().filter(|&&b| b & 1 != 0).count() as u64 * PAGE_SIZE as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::topology::{Topology, SYSFS_ROOT};
    use pin_schemes::Pfn;
    use std::path::Path;

    #[test]
    fn an_mmap_memmap_is_placed_verified_and_resident() {
        let topo = Topology::read(Path::new(SYSFS_ROOT)).expect("sysfs");
        let node = topo.first_cpu_node().expect("a node with CPUs");
        let cpus = topo.node(node).expect("node").cpus.clone();
        let (mm, placement) = build_memmap(4096, node, &cpus, |mm| {
            mm.make_folio(Pfn(512), 9).map(|_| ())
        })
        .expect("memmap");
        assert_eq!(mm.nr_pages(), 4096);
        assert_eq!(mm.folio(Pfn(600)).expect("pfn").head, Pfn(512));
        assert_eq!(placement.requested, node);
        assert_eq!(placement.verified, Some(node));
        assert!(placement.fraction > 0.99);
        assert_eq!(resident_bytes(&mm), Some(4096 * 64));
    }

    #[test]
    fn a_memmap_is_in_base_pages_whatever_the_host_s_thp_setting() {
        // 16 MiB of struct page, the huge/18 cell's.
        let topo = Topology::read(Path::new(SYSFS_ROOT)).expect("sysfs");
        let node = topo.first_cpu_node().expect("a node with CPUs");
        let pages = 1 << 18;
        let (mm, _) = build_memmap(pages, node, &[], |_| Ok(())).expect("memmap");
        // It asks for none, whatever the host's THP setting.
        assert_eq!(thp_bytes(&mm), Some(0));
    }

    #[test]
    fn threads_can_be_bound_to_an_allowed_cpu() {
        let cpus = allowed_cpus().expect("affinity");
        assert!(!cpus.is_empty());
        let cpu = cpus[cpus.len() - 1];
        std::thread::spawn(move || {
            bind_thread(&[cpu]).expect("bind");
            assert_eq!(allowed_cpus().expect("affinity"), vec![cpu]);
        })
        .join()
        .expect("thread");
    }
}
