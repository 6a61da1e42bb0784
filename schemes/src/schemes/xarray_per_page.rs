//! `xarray-per-page`: the `xarray` scheme with one `xa_lock` and one walk
//! from `xa_head` per folio run, on pin and on unpin, and (on the fast
//! path) one `smp_mb()` per folio run pinned: the first patch one would write, kept beside the
//! batched one so that both prices are shown. Everything else, and the
//! sources, are `xarray`'s (see [`super::xarray`]).

use super::xarray::XArrayScheme;
use super::{Registered, SchemeInfo};
use crate::error::BuildError;
use crate::memmap::MemMap;
use std::sync::Arc;

/// Registry entry.
pub const INFO: SchemeInfo = super::xarray::PER_PAGE_INFO;

/// `xarray` with a lock per run.
pub type XArrayPerPage = XArrayScheme<false>;

impl Registered for XArrayPerPage {
    fn build(memmap: Arc<MemMap>) -> Result<Self, BuildError> {
        Self::new(memmap)
    }
}
