//! [`MethodError`]: the one error type a method returns. A leaf module: it imports nothing
//! from this crate, so every other module may use it.

/// An error a method reports. The harness shows it with the plugin's name, and `bench plugin
/// check` treats an [`Unsupported`](MethodError::Unsupported) budget as a skip, not a failure
/// (it recognises the `unsupported:` prefix of the message).
#[derive(Debug, thiserror::Error)]
pub enum MethodError {
    /// The method's `[methods.<name>]` table (or a value derived from it) is invalid. Shown as
    /// `invalid configuration: <message>`.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The method cannot handle this input (e.g. a byte budget for a class-balanced method).
    /// Shown as `unsupported: <message>`.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Anything else that went wrong; the message is shown as is.
    #[error("{0}")]
    Failed(String),
    /// An error raised by libtorch. Shown as `libtorch: <message>`.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}
