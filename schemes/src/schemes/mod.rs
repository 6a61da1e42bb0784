//! The registry: every scheme, one line each in [`for_each_scheme!`]. Adding
//! a scheme is one new file in this directory (the type, its `INFO` and its
//! [`Registered`] impl) plus one line there; the name table, the
//! monomorphised dispatch ([`with_scheme`]), `build` and the conformance
//! suite's list all come from that line.

use crate::error::BuildError;
use crate::gup::Gup;
use crate::memmap::MemMap;
pub use crate::scheme::SchemeInfo;
use std::sync::Arc;

/// A scheme the registry can build.
pub trait Registered: Gup + Sized {
    /// Builds it over `memmap`; fails only when its side structures cannot
    /// be allocated.
    fn build(memmap: Arc<MemMap>) -> Result<Self, BuildError>;
}

/// Something to do with a scheme of a concrete type, so that the hot loops
/// are monomorphised per scheme: inside a batch call every per-page
/// `grab_folio`/`maybe_dma_pinned` is then a direct, inlinable call, as in
/// the kernel, instead of a virtual one (about a nanosecond per page).
pub trait SchemeVisitor {
    /// What it produces.
    type Output;
    /// Runs with the scheme.
    fn visit<S: Gup>(self, scheme: &S) -> Self::Output;
}

/// The registry, one line per scheme: `module::Type`, in table order.
/// Calls `$callback! { plain::Plain, bias::Bias, ... }`; modules are under
/// `pin_schemes::schemes`.
#[macro_export]
macro_rules! for_each_scheme {
    ($callback:ident) => {
        $callback! {
            plain::Plain,
            bias::Bias,
            hybrid::Hybrid,
            flag::Flag,
            xarray::XArrayScheme,
            xarray_per_page::XArrayPerPage,
            side_tree_sharded::SideTreeSharded,
            exact::Exact,
            memdesc::Memdesc,
        }
    };
}

macro_rules! registry {
    ($($module:ident :: $ty:ident),* $(,)?) => {
        $(pub mod $module;)*

        /// Every scheme, in the order tables list them.
        pub const SCHEMES: &[SchemeInfo] = &[$($module::INFO),*];

        /// Builds scheme `name` over `memmap` and hands it, as its own
        /// type, to `v`.
        pub fn with_scheme<V: SchemeVisitor>(
            name: &str,
            memmap: Arc<MemMap>,
            v: V,
        ) -> Result<V::Output, BuildError> {
            $(if name == $module::INFO.name {
                return Ok(v.visit(&<$module::$ty as Registered>::build(memmap)?));
            })*
            Err(BuildError::Unknown(name.to_string()))
        }

        /// Builds scheme `name` over `memmap`, behind the trait.
        pub fn build(name: &str, memmap: Arc<MemMap>) -> Result<Box<dyn Gup>, BuildError> {
            $(if name == $module::INFO.name {
                return Ok(Box::new(<$module::$ty as Registered>::build(memmap)?));
            })*
            Err(BuildError::Unknown(name.to_string()))
        }
    };
}

for_each_scheme!(registry);

/// The scheme called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static SchemeInfo> {
    SCHEMES.iter().find(|s| s.name == name)
}

/// The README's scheme table, rendered from the registry.
pub fn markdown_table() -> String {
    let mut t = String::from(
        "| scheme | mirrors (kernel source) | struct page, B | added B/page | exactness | max pins/page |\n\
         |---|---|---|---|---|---|\n",
    );
    for s in SCHEMES {
        t.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            s.name,
            s.source,
            s.struct_page_bytes,
            s.bytes_per_page,
            s.exactness.describe(),
            thousands(s.max_pins_per_page)
        ));
    }
    t
}

fn thousands(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    struct Probe;

    impl SchemeVisitor for Probe {
        type Output = (&'static str, &'static str);
        fn visit<S: Gup>(self, scheme: &S) -> Self::Output {
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
            assert_eq!(
                build(info.name, Arc::clone(&mm)).expect("boxed").name(),
                info.name
            );
        }
        assert!(matches!(
            with_scheme("nope", Arc::clone(&mm), Probe),
            Err(BuildError::Unknown(_))
        ));
        assert!(matches!(build("nope", mm), Err(BuildError::Unknown(_))));
    }

    #[test]
    fn names_are_unique_and_thousands_are_grouped() {
        let mut names: Vec<_> = SCHEMES.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SCHEMES.len());
        assert_eq!(thousands(2_097_151), "2,097,151");
        assert_eq!(thousands(999), "999");
    }
}
