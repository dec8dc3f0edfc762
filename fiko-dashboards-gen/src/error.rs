//! What can go wrong while generating.

use std::path::PathBuf;

/// A generation failure: invalid declarations, or a file that cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The sets, panels, alerts or settings are inconsistent: every problem found, each
    /// naming the set, panel or alert at fault; displayed one per line.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
    /// A file or directory could not be written or read.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}
