//! Why a write to a time-series database failed.

/// Why a sink write failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The peer rejected the write; retrying the same data will not help.
    #[error("{url} returned {status}: {body}")]
    Rejected {
        /// The URL written to.
        url: String,
        /// HTTP status.
        status: u16,
        /// Response body.
        body: String,
    },
    /// The peer could not be reached or failed transiently; the write may be retried.
    #[error("{0}")]
    Unavailable(String),
    /// A local I/O error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
