//! The registry: what a workload's file gives ([`Info`], `layout`,
//! `worker`) and the macro that turns the one-line-per-workload list in
//! `lib.rs` into the [`crate::Workload`] enum, [`crate::WORKLOADS`] and
//! the dispatch to each file.

/// What the registry knows of a workload besides its layout and worker.
#[derive(Clone, Copy, Debug)]
pub struct Info {
    /// The name on the command line and in results.
    pub name: &'static str,
    /// One line on what it measures, for `--help` and `pinbench list`.
    pub description: &'static str,
    /// Folio orders it runs at, one cell each.
    pub orders: &'static [u8],
    /// Its large folios are mapped by PTEs, not by PMD/PUD leaves.
    pub pte_mapped: bool,
}

/// What a cell asks of a workload's layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// Folio order of the cell.
    pub order: u8,
    /// Simulated pages per thread asked for.
    pub pages_per_thread: usize,
    /// Pages per batch call asked for.
    pub pages_per_call: usize,
}

/// Declares each workload's file and builds the enum and dispatch over
/// them: `Variant => file,` per workload.
macro_rules! workloads {
    ($($variant:ident => $file:ident,)*) => {
        $(mod $file;)*

        /// A workload, by name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Workload {
            $(
                #[doc = concat!("`", stringify!($file), ".rs`.")]
                $variant,
            )*
        }

        /// Every workload, in table order.
        pub const WORKLOADS: &[Workload] = &[$(Workload::$variant),*];

        impl Workload {
            /// Its [`Info`].
            pub fn info(self) -> &'static Info {
                match self {
                    $(Workload::$variant => &$file::INFO,)*
                }
            }

            /// The name used on the command line and in results.
            pub fn name(self) -> &'static str {
                self.info().name
            }

            /// The workload called `name`.
            pub fn from_name(name: &str) -> Option<Self> {
                WORKLOADS.iter().copied().find(|w| w.name() == name)
            }

            /// One line on what it measures.
            pub fn description(self) -> &'static str {
                self.info().description
            }

            /// Folio orders it runs at, one cell each.
            pub fn orders(self) -> &'static [u8] {
                self.info().orders
            }

            /// Its large folios are mapped by PTEs, not by PMD/PUD leaves.
            pub fn pte_mapped(self) -> bool {
                self.info().pte_mapped
            }

            /// Its memmap layout for folios of `order`, `pages_per_thread`
            /// simulated pages per thread and `pages_per_call` pages per
            /// call.
            pub fn layout(self, order: u8, pages_per_thread: usize, pages_per_call: usize) -> Layout {
                let s = Sizes {
                    order,
                    pages_per_thread,
                    pages_per_call,
                };
                match self {
                    $(Workload::$variant => $file::layout(s),)*
                }
            }

            /// Thread `slot`'s worker; its setup (pins held, references
            /// taken) is done here, before the runner's first barrier. A
            /// long-term pin the scheme refused is an error, not a panic.
            pub fn worker<'a, S: Gup + ?Sized>(
                self,
                scheme: &'a S,
                slot: &Slot,
            ) -> Result<Box<dyn Worker + 'a>, SetupError> {
                match self {
                    $(Workload::$variant => $file::worker(scheme, slot),)*
                }
            }
        }
    };
}
