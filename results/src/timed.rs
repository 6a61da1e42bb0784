//! Cells the kernel timed itself and pinbench only read: `pinbench import
//! gup-test` of the kernel's `gup_test` output, whose `*_BENCHMARK: Time:
//! get:N put:N us` lines are the gup call's and the release's own
//! microseconds, measured with no floor beside them. Such a cell has no
//! paired rounds (`pairs` empty, `x_floor.n` 0); its times, one unit per
//! log (a run of `gup_test`, each of its repeats a value), are here.

use serde::{Deserialize, Serialize};

/// What the kernel timed, unit by unit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KernelTimed {
    /// Where the times came from (`gup_test` and the log files).
    pub source: String,
    /// Pages of each call's buffer (`-m` MiB over the base page).
    pub pages: u64,
    /// Per unit (log), the get times of its lines, microseconds.
    pub get_us: Vec<Vec<f64>>,
    /// Per unit, the put times of the same lines.
    pub put_us: Vec<Vec<f64>>,
}

/// Which half of a gup_test benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Half {
    /// The gup call (`get`).
    Get,
    /// The release (`put`).
    Put,
}

impl Half {
    /// `get` or `put`.
    pub fn name(self) -> &'static str {
        match self {
            Half::Get => "get",
            Half::Put => "put",
        }
    }
}

impl KernelTimed {
    /// Each unit's median of `half`, microseconds (units with no line are
    /// left out).
    pub fn unit_medians(&self, half: Half) -> Vec<f64> {
        let units = match half {
            Half::Get => &self.get_us,
            Half::Put => &self.put_us,
        };
        units
            .iter()
            .filter_map(|u| crate::Estimate::of(u).map(|e| e.median))
            .collect()
    }

    /// Why these times cannot be believed, or `Ok`.
    pub fn check(&self) -> Result<(), String> {
        if self.get_us.len() != self.put_us.len()
            || self
                .get_us
                .iter()
                .zip(&self.put_us)
                .any(|(g, p)| g.len() != p.len())
        {
            return Err("kernel_timed: get_us and put_us differ in shape".into());
        }
        let all = self.get_us.iter().chain(&self.put_us).flatten();
        if let Some(bad) = all.into_iter().find(|x| !x.is_finite() || **x < 0.0) {
            return Err(format!("kernel_timed: a time of {bad} us"));
        }
        if self.pages == 0 {
            return Err("kernel_timed: pages 0".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timed(get: Vec<Vec<f64>>, put: Vec<Vec<f64>>) -> KernelTimed {
        KernelTimed {
            source: "gup_test".into(),
            pages: 32768,
            get_us: get,
            put_us: put,
        }
    }

    #[test]
    fn each_unit_gives_its_median_and_bad_times_are_named() {
        let t = timed(
            vec![vec![100.0, 300.0, 200.0], vec![], vec![50.0]],
            vec![vec![1.0, 2.0, 3.0], vec![], vec![4.0]],
        );
        assert_eq!(t.unit_medians(Half::Get), vec![200.0, 50.0]);
        assert_eq!(t.unit_medians(Half::Put), vec![2.0, 4.0]);
        assert_eq!(t.check(), Ok(()));
        let shape = timed(vec![vec![1.0]], vec![vec![1.0, 2.0]]);
        assert!(shape.check().is_err_and(|e| e.contains("shape")));
        let negative = timed(vec![vec![-1.0]], vec![vec![1.0]]);
        assert!(negative.check().is_err_and(|e| e.contains("-1 us")));
    }
}
