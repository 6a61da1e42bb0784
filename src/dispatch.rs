//! Scheme name to concrete type, so the runner's hot loops are
//! monomorphized per scheme: inside a batch call every per-page
//! `grab_folio`/`maybe_dma_pinned` is then a direct, inlinable call, as in
//! the kernel, instead of a virtual one (which would add about a
//! nanosecond per page to a few-nanosecond operation).
//!
//! A scheme the registry knows but this table does not still runs, through
//! `&dyn PinScheme` (only the per-page dispatch differs); a test keeps the
//! table complete.

use pin_schemes::schemes::{bias, exact, flag, hybrid, plain, side_tree_locked, side_tree_sharded};
use pin_schemes::{MemMap, PinScheme};
use std::sync::Arc;

/// Something to do with a scheme of a concrete type.
pub trait SchemeVisitor {
    /// What it produces.
    type Output;
    /// Runs with the scheme.
    fn visit<S: PinScheme + ?Sized>(self, scheme: &S) -> Self::Output;
}

/// Why a scheme could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The registry does not know the name.
    #[error("unknown scheme {0:?}")]
    Unknown(String),
    /// Its side structures could not be allocated.
    #[error("{0}: cannot allocate its side structures: {1}")]
    Alloc(String, std::collections::TryReserveError),
}

/// Builds scheme `name` over `memmap` and hands it to `v`.
pub fn with_scheme<V: SchemeVisitor>(
    name: &str,
    memmap: Arc<MemMap>,
    v: V,
) -> Result<V::Output, BuildError> {
    Ok(match name {
        "plain" => v.visit(&plain::Plain::new(memmap)),
        "bias" => v.visit(&bias::Bias::new(memmap)),
        "hybrid" => v.visit(&hybrid::Hybrid::new(memmap)),
        "flag" => v.visit(&flag::Flag::new(memmap)),
        "side-tree-locked" => v.visit(&side_tree_locked::SideTreeLocked::new(memmap)),
        "side-tree-sharded" => v.visit(&side_tree_sharded::SideTreeSharded::new(memmap)),
        "exact" => v.visit(
            &exact::Exact::try_new(memmap).map_err(|e| BuildError::Alloc(name.to_string(), e))?,
        ),
        other => v.visit(
            &*pin_schemes::build(other, memmap).ok_or_else(|| BuildError::Unknown(other.into()))?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pin_schemes::SCHEMES;

    struct Probe;

    impl SchemeVisitor for Probe {
        type Output = (&'static str, &'static str);
        fn visit<S: PinScheme + ?Sized>(self, scheme: &S) -> Self::Output {
            (scheme.name(), std::any::type_name::<S>())
        }
    }

    #[test]
    fn every_registered_scheme_is_dispatched_statically_under_its_name() {
        let mm = Arc::new(MemMap::with_pages(64).expect("memmap"));
        for info in SCHEMES {
            let (name, ty) = with_scheme(info.name, Arc::clone(&mm), Probe).expect("built");
            assert_eq!(name, info.name);
            assert!(!ty.contains("dyn "), "{} runs through {ty}", info.name);
        }
        assert!(matches!(
            with_scheme("nope", mm, Probe),
            Err(BuildError::Unknown(_))
        ));
    }
}
