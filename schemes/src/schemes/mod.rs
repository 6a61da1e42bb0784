//! The registry: every scheme by name. Adding a scheme is one new file in
//! this directory (defining `INFO`) and one line in the `registry!` list.

use crate::memmap::MemMap;
use crate::scheme::PinScheme;
use std::sync::Arc;

/// What the registry knows of a scheme before building it.
#[derive(Clone, Copy)]
pub struct SchemeInfo {
    /// Registry name, used on the command line and in results.
    pub name: &'static str,
    /// The kernel source or patch series it models.
    pub mirrors: &'static str,
    /// Builds it over a memmap.
    pub build: fn(Arc<MemMap>) -> Box<dyn PinScheme>,
}

impl std::fmt::Debug for SchemeInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemeInfo")
            .field("name", &self.name)
            .field("mirrors", &self.mirrors)
            .finish()
    }
}

macro_rules! registry {
    ($($module:ident),* $(,)?) => {
        $(pub mod $module;)*
        /// Every scheme, in the order tables list them.
        pub const SCHEMES: &[SchemeInfo] = &[$($module::INFO),*];
    };
}

registry! {
    plain,
    bias,
    hybrid,
    flag,
    side_tree_locked,
    side_tree_sharded,
    exact,
}

/// The scheme called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static SchemeInfo> {
    SCHEMES.iter().find(|s| s.name == name)
}
