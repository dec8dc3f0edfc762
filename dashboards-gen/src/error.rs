//! What can go wrong while generating.

use std::path::PathBuf;

/// A generation failure: invalid declarations, or a file that cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The panels or alerts are inconsistent; one line per problem.
    #[error("invalid dashboards or alerts: {}", .0.join("; "))]
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
