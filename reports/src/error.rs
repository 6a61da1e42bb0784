//! What can go wrong between results files and report files.

use std::path::PathBuf;
use thiserror::Error;

/// A report could not be made or written.
#[derive(Debug, Error)]
pub enum ReportError {
    /// No TrueType font for the PNG text was found.
    #[error(
        "no TrueType font for the plots' text: tried {tried}; install the Debian package \
         fonts-dejavu-core (apt-get install fonts-dejavu-core)"
    )]
    NoFont {
        /// The paths tried, comma-separated.
        tried: String,
    },
    /// A font file was found but could not be used.
    #[error("font {path}: {why}")]
    BadFont {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// Drawing a plot failed.
    #[error("drawing {plot}: {why}")]
    Plot {
        /// The plot's file stem.
        plot: String,
        /// Why.
        why: String,
    },
    /// The output directory cannot be used.
    #[error("-o {path}: {why}")]
    OutputDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// Writing a file failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}
