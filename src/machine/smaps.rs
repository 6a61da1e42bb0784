//! `/proc/PID/smaps`, read by address range: what the kernel says it did
//! with a mapping (how much of it is THP, how much a child got as its own
//! copy at `fork()`).

/// Sums the `kB` values of the `fields` (`"AnonHugePages:"`, ...) of the
/// smaps entries whose address range overlaps `[lo, hi)`. A value that
/// does not parse counts 0.
pub fn kib_in(smaps: &str, lo: usize, hi: usize, fields: &[&str]) -> u64 {
    let mut inside = false;
    let mut kib = 0;
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { continue };
        if let Some((a, b)) = first.split_once('-') {
            if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                inside = a < hi && lo < b;
                continue;
            }
        }
        if inside && fields.contains(&first) {
            kib += words
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    kib
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
7f0000000000-7f0000400000 rw-p 00000000 00:00 0
Private_Clean:         4 kB
Private_Dirty:      4092 kB
AnonHugePages:      4096 kB
7f0000400000-7f0000600000 rw-p 00000000 00:00 0
Private_Dirty:      2048 kB
AnonHugePages:      2048 kB
7f0000600000-7f0000601000 r--p 00000000 08:01 42  /usr/lib/x
Private_Clean:      junk kB
";

    #[test]
    fn only_the_entries_overlapping_the_range_count() {
        let huge = ["AnonHugePages:"];
        assert_eq!(kib_in(SMAPS, 0x7f0000000000, 0x7f0000400000, &huge), 4096);
        assert_eq!(kib_in(SMAPS, 0x7f00003ff000, 0x7f0000400001, &huge), 6144);
        assert_eq!(kib_in(SMAPS, 0x7f0000600000, 0x7f0000700000, &huge), 0);
        // Ranges that only touch an entry's ends do not overlap it.
        assert_eq!(kib_in(SMAPS, 0x7eff00000000, 0x7f0000000000, &huge), 0);
    }

    #[test]
    fn several_fields_sum_and_junk_counts_nothing() {
        let private = ["Private_Clean:", "Private_Dirty:"];
        assert_eq!(
            kib_in(SMAPS, 0x7f0000000000, 0x7f0000601000, &private),
            6144
        );
        assert_eq!(kib_in(SMAPS, 0x7f0000600000, 0x7f0000601000, &private), 0);
    }
}
