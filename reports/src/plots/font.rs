//! The font of the PNGs' text. plotters' bitmap backend draws text with
//! `ab_glyph` from a TrueType file registered at run time, so nothing links
//! against fontconfig or freetype; the file comes from a Debian package
//! (`fonts-dejavu-core`) or the path given. SVGs name the family
//! (`sans-serif`) and let the viewer pick, but plotters measures their text
//! with the same font, so both need it.

use crate::error::ReportError;
use plotters::style::{register_font, FontStyle};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where Debian (fonts-dejavu-core, fonts-liberation) and Fedora put a
/// sans-serif TrueType font.
pub const CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

/// The family plots ask for.
pub const FAMILY: &str = "sans-serif";

static LOADED: OnceLock<PathBuf> = OnceLock::new();

/// Finds and registers the font once per process: `path` if given, else
/// the first of [`CANDIDATES`] that exists. Returns the file used. Call
/// before drawing any plot.
pub fn load(path: Option<&Path>) -> Result<PathBuf, ReportError> {
    if let Some(p) = LOADED.get() {
        return Ok(p.clone());
    }
    let chosen = match path {
        Some(p) => p.to_path_buf(),
        None => CANDIDATES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or_else(|| ReportError::NoFont {
                tried: CANDIDATES.join(", "),
            })?,
    };
    register(&chosen)?;
    Ok(LOADED.get_or_init(|| chosen).clone())
}

/// Reads `path` and registers it as [`FAMILY`].
fn register(path: &Path) -> Result<(), ReportError> {
    let bad = |why: String| ReportError::BadFont {
        path: path.to_path_buf(),
        why,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    // Leaked once per process: plotters keeps fonts for its whole life.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    register_font(FAMILY, FontStyle::Normal, bytes)
        .map_err(|_| bad("not a TrueType/OpenType font".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_a_font_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("not.ttf");
        std::fs::write(&p, b"hello").expect("write");
        let e = register(&p).expect_err("not a font");
        assert!(e.to_string().contains("not.ttf"), "{e}");
        let e = register(&dir.path().join("missing.ttf")).expect_err("missing");
        assert!(e.to_string().contains("missing.ttf"), "{e}");
    }
}
