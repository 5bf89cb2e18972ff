//! # distillery-distill-kit
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
pub use synset::{pixel_scale, ImageSgd, Init, SynSet};

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

/// Under the native-label protocol, a method that relabels its set with its own model (SRe2L's
/// squeeze model, RDED's observer) stores that model's logits for every epoch and augmented
/// batch the student will see (FKD-style, `label_store::record_labels`). Returns the label
/// spec to declare and the metadata to record under `"relabel"` (`what` names the labels);
/// `None` under any other protocol, where the harness's own labels apply.
pub fn relabel_native(
    ctx: &distillery_api::Context,
    x: &tch::Tensor,
    net: &dyn distillery_api::nn::Network,
    classes: usize,
    temperature: f64,
    seed: u64,
    what: &str,
) -> Result<Option<(distillery_api::spec::LabelSpec, serde_json::Value)>, MethodError> {
    let p = ctx.protocol();
    if p.labels != "native" {
        return Ok(None);
    }
    let epochs: Vec<usize> = (0..p.train.epochs).collect();
    let (spec, bytes) = distillery_api::label_store::record_labels(
        ctx,
        x,
        net,
        classes,
        &epochs,
        temperature,
        distillery_api::rng::derive_seed(seed, "relabel"),
    )?;
    let meta = serde_json::json!({
        "labels": format!("{what} per epoch and augmented batch (stored, fp16)"),
        "temperature": temperature,
        "label_store_bytes": bytes,
    });
    Ok(Some((spec, meta)))
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
