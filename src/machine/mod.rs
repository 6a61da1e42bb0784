//! The machine pinbench runs on: NUMA placement of threads and memory
//! ([`numa`]), the topology read from sysfs ([`topology`]) and the host's
//! metadata for the results file ([`host`]).

pub mod host;
pub mod mapping;
pub mod numa;
pub mod smaps;
pub mod topology;

/// What a plan needs to know of the machine.
#[derive(Clone, Debug)]
pub struct Machine {
    /// NUMA topology.
    pub topology: topology::Topology,
    /// CPUs this process may run on.
    pub allowed_cpus: Vec<usize>,
    /// `MemAvailable`, bytes.
    pub mem_available: Option<u64>,
    /// Each node's vmstat threshold, from /proc/zoneinfo.
    pub vmstat_thresholds: std::collections::BTreeMap<u32, i8>,
    /// `MemTotal`, bytes.
    pub mem_total: Option<u64>,
}

impl Machine {
    /// This host: its NUMA topology from sysfs, the CPUs this process may
    /// use, and MemAvailable.
    pub fn this_host() -> anyhow::Result<Self> {
        use anyhow::Context;
        Ok(Self {
            topology: topology::Topology::read(std::path::Path::new(topology::SYSFS_ROOT))
                .context("reading the NUMA topology")?,
            allowed_cpus: numa::allowed_cpus().context("sched_getaffinity")?,
            mem_available: host::mem_available(),
            vmstat_thresholds: host::vmstat_thresholds(),
            mem_total: host::mem_total(),
        })
    }

    /// The threshold at which node `nid`'s per-CPU vmstat diffs fold, as
    /// this kernel set it (/proc/zoneinfo), or else as
    /// `calculate_normal_threshold()` would for this machine's CPUs and its
    /// memory split evenly over its nodes.
    pub fn vmstat_threshold(&self, nid: u32) -> i8 {
        if let Some(&t) = self.vmstat_thresholds.get(&nid) {
            return t;
        }
        let cpus: usize = self.topology.nodes.iter().map(|n| n.cpus.len()).sum();
        let nodes = self.topology.nodes.len().max(1) as u64;
        let node_pages = self.mem_total.unwrap_or(1 << 30) / nodes / pin_schemes::PAGE_SIZE as u64;
        pin_schemes::stat_threshold(cpus, node_pages as usize)
    }

    /// A machine of two nodes of two CPUs each (the sysfs fixture of
    /// [`topology::fixture`]), 24 GiB available: what plans are tested on.
    #[cfg(test)]
    pub fn two_node_fixture() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        topology::fixture::two_nodes(dir.path());
        Self {
            topology: topology::Topology::read(dir.path()).expect("fixture"),
            allowed_cpus: vec![0, 1, 2, 3],
            mem_available: Some(24 << 30),
            vmstat_thresholds: std::collections::BTreeMap::new(),
            mem_total: Some(32 << 30),
        }
    }

    /// The CPUs of `node` this process may use; `None` for no such node.
    pub fn node_cpus(&self, node: u32) -> Option<Vec<usize>> {
        let n = self.topology.node(node)?;
        Some(
            n.cpus
                .iter()
                .copied()
                .filter(|c| self.allowed_cpus.contains(c))
                .collect(),
        )
    }
}
