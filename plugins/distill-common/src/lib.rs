//! # distillery-distill-common
//!
//! Shared, unit-tested pieces of the dataset-distillation plugins (`dm`, `dc`, `dsa`):
//!
//! - [`real`]: the train split's images grouped by class, and seeded per-class real batches
//!   (`get_images(c, n)` of the reference code: `n` distinct images of class `c`);
//! - [`synset`]: the synthetic set — `IPC` images per class, parameterised in the
//!   normalised space the student sees, initialised from seeded real images (or noise), with
//!   its SGD optimiser and the conversion back to the dataset's [0, 1] pixel scale;
//! - [`matching`]: the DC paper's layer-wise gradient distance ("ours") and DM's mean-embedding
//!   distance;
//! - [`gradient_matching`]: the DC / DSA outer loop (fresh networks, per-class gradient matching
//!   updates of the images, a few epochs of training the network on the synthetic set);
//! - [`settings`]: the `preset = "default" | "paper"` switch, matching-network and DSA options
//!   shared by the plugins' `[methods.<name>]` tables, the loss trace recorded with each cell.
//!
//! Randomness: everything derives from the cell's selection seed through labelled sub-seeds
//! ([`distillery_api::rng::derive_seed`]); libtorch's generator is re-seeded from a derived
//! seed before every block of random libtorch ops (network initialisation, DSA draws, noise),
//! so the same seed gives bit-identical output on CPU.

pub mod gradient_matching;
pub mod matching;
pub mod real;
pub mod settings;
pub mod synset;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use real::RealPool;
pub use settings::{LossTrace, Preset};
pub use synset::{ImageSgd, Init, SynSet};

use distillery_api::{Budget, MethodError};

/// Images per class of an IPC budget; any other budget is declined with a message naming the
/// method (distillation methods synthesise a fixed number of images for every class).
pub fn ipc_budget(method: &str, budget: &Budget) -> Result<usize, MethodError> {
    match *budget {
        Budget::Ipc(0) => Err(MethodError::Config(format!(
            "{method}: an IPC budget of 0 leaves nothing to synthesise"
        ))),
        Budget::Ipc(k) => Ok(k),
        other => Err(MethodError::Unsupported(format!(
            "{method} synthesises a fixed number of images per class and needs an IPC budget \
             (--ipc K); got {}",
            other.header()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ipc_budgets_are_unsupported_with_the_method_name() {
        assert_eq!(ipc_budget("dm", &Budget::Ipc(10)).unwrap(), 10);
        let e = ipc_budget("dm", &Budget::Fraction(0.05)).unwrap_err();
        assert!(matches!(e, MethodError::Unsupported(_)), "{e}");
        let msg = e.to_string();
        assert!(msg.contains("dm") && msg.contains("5%"), "{msg}");
        assert!(matches!(
            ipc_budget("dc", &Budget::Bytes(100)).unwrap_err(),
            MethodError::Unsupported(_)
        ));
        assert!(matches!(
            ipc_budget("dc", &Budget::Ipc(0)).unwrap_err(),
            MethodError::Config(_)
        ));
    }
}
