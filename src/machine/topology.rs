//! The machine's NUMA topology and last-level cache, read from sysfs.
//!
//! Everything is read below one root (normally `/sys/devices/system`), so a
//! test can hand it a fixture directory that describes a 2-node machine.
//! Files read, as the kernel lays them out:
//! - `node/online`, `node/nodeN/cpulist`, `node/nodeN/distance` (one
//!   distance per online node, in node order);
//! - `cpu/online` (used when the kernel has no `node/` directory: one node 0);
//! - `cpu/cpu0/cache/indexK/{level,type,size}` for the last-level cache.

use std::fs;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The root every path is read under on a real machine.
pub const SYSFS_ROOT: &str = "/sys/devices/system";

/// A sysfs file could not be read or made sense of.
#[derive(Debug, Error)]
pub enum TopologyError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file did not hold what the kernel writes there.
    #[error("{path}: cannot parse {text:?}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What it held.
        text: String,
    },
}

/// One NUMA node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Node id (`nid`).
    pub id: u32,
    /// Its online CPUs.
    pub cpus: Vec<usize>,
}

/// Nodes, their CPUs and the distance matrix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    /// Online nodes, by id.
    pub nodes: Vec<Node>,
    /// `distance[i][j]`: SLIT distance from `nodes[i]` to `nodes[j]`
    /// (10 = local).
    pub distance: Vec<Vec<u32>>,
    /// Size of CPU 0's last-level cache in bytes, if sysfs tells.
    pub llc_bytes: Option<u64>,
}

fn read(path: &Path) -> Result<String, TopologyError> {
    fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|source| TopologyError::Io {
            path: path.to_path_buf(),
            source,
        })
}

fn parse_err(path: &Path, text: &str) -> TopologyError {
    TopologyError::Parse {
        path: path.to_path_buf(),
        text: text.to_string(),
    }
}

/// Parses a kernel cpulist/nodelist such as `0-3,8,10-11` (empty is empty).
pub fn parse_list(text: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// Parses a cache size such as `32768K` or `1M` into bytes.
fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let (num, mult) = match t.chars().last()? {
        'K' => (&t[..t.len() - 1], 1 << 10),
        'M' => (&t[..t.len() - 1], 1 << 20),
        'G' => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    num.parse::<u64>().ok().map(|n| n * mult)
}

fn read_list(path: &Path) -> Result<Vec<usize>, TopologyError> {
    let text = read(path)?;
    parse_list(&text).ok_or_else(|| parse_err(path, &text))
}

impl Topology {
    /// Reads the topology under `root` (normally [`SYSFS_ROOT`]).
    pub fn read(root: &Path) -> Result<Self, TopologyError> {
        let node_dir = root.join("node");
        let (nodes, distance) = if node_dir.join("online").exists() {
            let ids = read_list(&node_dir.join("online"))?;
            let mut nodes = Vec::new();
            let mut distance = Vec::new();
            for &id in &ids {
                let dir = node_dir.join(format!("node{id}"));
                let cpus = read_list(&dir.join("cpulist"))?;
                let dpath = dir.join("distance");
                let text = read(&dpath)?;
                let row: Option<Vec<u32>> =
                    text.split_whitespace().map(|d| d.parse().ok()).collect();
                let row = row
                    .filter(|r| r.len() == ids.len())
                    .ok_or_else(|| parse_err(&dpath, &text))?;
                nodes.push(Node {
                    id: id as u32,
                    cpus,
                });
                distance.push(row);
            }
            (nodes, distance)
        } else {
            // A kernel without CONFIG_NUMA: one node holding every CPU.
            let cpus = read_list(&root.join("cpu/online"))?;
            (vec![Node { id: 0, cpus }], vec![vec![10]])
        };
        Ok(Self {
            nodes,
            distance,
            llc_bytes: read_llc(root),
        })
    }

    /// The node with id `id`.
    pub fn node(&self, id: u32) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    fn index(&self, id: u32) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    /// SLIT distance between two nodes.
    #[cfg(test)]
    pub fn distance(&self, from: u32, to: u32) -> Option<u32> {
        Some(self.distance[self.index(from)?][self.index(to)?])
    }

    /// The nearest node other than `from` (lowest distance, then lowest id):
    /// where "remote" memory for threads on `from` is placed. `None` on a
    /// one-node machine.
    pub fn nearest_remote(&self, from: u32) -> Option<u32> {
        let i = self.index(from)?;
        self.nodes
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .min_by_key(|&(j, n)| (self.distance[i][j], n.id))
            .map(|(_, n)| n.id)
    }

    /// The first node that has CPUs: where threads run by default.
    pub fn first_cpu_node(&self) -> Option<u32> {
        self.nodes.iter().find(|n| !n.cpus.is_empty()).map(|n| n.id)
    }

    /// Every online CPU.
    pub fn cpus(&self) -> Vec<usize> {
        let mut all: Vec<usize> = self.nodes.iter().flat_map(|n| n.cpus.clone()).collect();
        all.sort_unstable();
        all
    }
}

/// The size of the highest-level data or unified cache of CPU 0.
fn read_llc(root: &Path) -> Option<u64> {
    let dir = root.join("cpu/cpu0/cache");
    let mut best: Option<(u32, u64)> = None;
    for entry in fs::read_dir(dir).ok()?.flatten() {
        let p = entry.path();
        if !entry.file_name().to_string_lossy().starts_with("index") {
            continue;
        }
        let level: u32 = read(&p.join("level")).ok()?.parse().ok()?;
        let kind = read(&p.join("type")).ok()?;
        if kind == "Instruction" {
            continue;
        }
        let size = parse_size(&read(&p.join("size")).ok()?)?;
        match best {
            Some((l, _)) if l >= level => {}
            _ => best = Some((level, size)),
        }
    }
    best.map(|(_, size)| size)
}

#[cfg(test)]
pub(crate) mod fixture {
    //! A 2-node sysfs tree: CPUs 0-1 on node 0, 2-3 on node 1, distance 21.
    use std::fs;
    use std::path::Path;

    fn put(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(p, text).expect("write");
    }

    /// Writes the fixture under `root`.
    pub fn two_nodes(root: &Path) {
        put(root, "node/online", "0-1\n");
        put(root, "node/node0/cpulist", "0-1\n");
        put(root, "node/node0/distance", "10 21\n");
        put(root, "node/node1/cpulist", "2-3\n");
        put(root, "node/node1/distance", "21 10\n");
        put(root, "cpu/online", "0-3\n");
        put(root, "cpu/cpu0/cache/index0/level", "1\n");
        put(root, "cpu/cpu0/cache/index0/type", "Data\n");
        put(root, "cpu/cpu0/cache/index0/size", "48K\n");
        put(root, "cpu/cpu0/cache/index1/level", "1\n");
        put(root, "cpu/cpu0/cache/index1/type", "Instruction\n");
        put(root, "cpu/cpu0/cache/index1/size", "32K\n");
        put(root, "cpu/cpu0/cache/index3/level", "3\n");
        put(root, "cpu/cpu0/cache/index3/type", "Unified\n");
        put(root, "cpu/cpu0/cache/index3/size", "32768K\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_like_the_kernel_prints_them() {
        assert_eq!(parse_list("0-3,8,10-11"), Some(vec![0, 1, 2, 3, 8, 10, 11]));
        assert_eq!(parse_list(""), Some(vec![]));
        assert_eq!(parse_list("3-1"), None);
        assert_eq!(parse_list("x"), None);
        assert_eq!(parse_size("32768K"), Some(32 << 20));
        assert_eq!(parse_size("1M"), Some(1 << 20));
    }

    #[test]
    fn a_two_node_fixture_reads_nodes_cpus_distances_and_llc() {
        let dir = tempfile::tempdir().expect("tempdir");
        fixture::two_nodes(dir.path());
        let topo = Topology::read(dir.path()).expect("topology");
        assert_eq!(topo.nodes.len(), 2);
        assert_eq!(topo.node(1).expect("node 1").cpus, vec![2, 3]);
        assert_eq!(topo.distance(0, 1), Some(21));
        assert_eq!(topo.distance(1, 1), Some(10));
        assert_eq!(topo.nearest_remote(0), Some(1));
        assert_eq!(topo.nearest_remote(1), Some(0));
        assert_eq!(topo.cpus(), vec![0, 1, 2, 3]);
        assert_eq!(topo.llc_bytes, Some(32 << 20));
    }

    #[test]
    fn a_bad_distance_row_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        fixture::two_nodes(dir.path());
        fs::write(dir.path().join("node/node1/distance"), "21\n").expect("write");
        let err = Topology::read(dir.path()).expect_err("short row");
        assert!(err.to_string().contains("node1/distance"), "{err}");
    }

    #[test]
    fn the_real_machine_has_a_node_with_cpus() {
        let topo = Topology::read(Path::new(SYSFS_ROOT)).expect("sysfs");
        assert!(topo.first_cpu_node().is_some());
        assert!(topo.nearest_remote(topo.nodes[0].id).is_none() || topo.nodes.len() > 1);
    }
}
