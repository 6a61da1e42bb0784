//! How a buffer is backed: 4 KiB pages, THP, or hugetlb pages of a size
//! (`MAP_HUGETLB`). The pools hugetlb backings draw from are grown and put
//! back by [`super::hugetlb_pool`].

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
}
