//! Readiness as each component judges it; the binary serves `/readyz` from it.

/// A component that may not be ready to serve yet.
pub trait Readiness: Send + Sync + 'static {
    /// `Err` says, for an operator, what the component is waiting for.
    fn readiness(&self) -> Result<(), String>;
}
