//! `dsa`: Dataset Condensation with Differentiable Siamese Augmentation (Zhao & Bilen, ICML
//! 2021), as in `main.py --method DSA --init real` of the reference code
//! (VICO-UoE/DatasetCondensation): DC's gradient matching with the real and the synthetic
//! batch of a class transformed by one shared DSA draw in every matching step, and per-image
//! DSA while the network trains on the synthetic set. The algorithm is shared with `dc` in
//! `distillery_distill_common::gradient_matching`; see README.md for defaults and choices.

use distillery_api::prelude::*;
use distillery_distill_common::gradient_matching::{self, DEFAULTS};

#[derive(Default)]
pub struct Dsa;

impl Method for Dsa {
    const NAME: &'static str = "dsa";
    const FAMILY: Family = Family::Distillation;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str =
        "Zhao & Bilen, Dataset Condensation with Differentiable Siamese Augmentation, ICML 2021";
    const DESCRIPTION: &'static str =
        "gradient matching with differentiable siamese augmentation of real and synthetic batches";

    fn compress(&mut self, input: &Input, ctx: &mut Context) -> Result<Compressed, MethodError> {
        gradient_matching::compress(Self::NAME, true, &DEFAULTS, input, ctx)
    }
}

export_plugin!(Dsa);

#[cfg(test)]
mod tests {
    use super::*;
    use distillery_distill_common::testing;

    /// The plugin end to end on real digits with a tiny configuration: the IPC budget gives
    /// that many images per class with their class labels and no soft labels, the images moved
    /// from the real digits they started as, the same seed gives the same set and another seed
    /// another one, and non-IPC budgets are declined as unsupported.
    #[test]
    fn compress_honours_the_budget_and_is_deterministic() {
        let _rng = testing::rng_lock();
        let cfg = serde_json::json!({
            "iterations": 2, "batch_real": 8, "outer_loop": 2, "inner_loop": 1
        });
        let out = testing::compress::<Dsa>(cfg.clone(), Budget::Ipc(2), 12, 1).unwrap();
        let (images, labels) = testing::images_of(&out);
        assert_eq!(images.size(), vec![6, 1, 28, 28]);
        assert_eq!(images.kind(), Kind::Float);
        assert_eq!(
            Vec::<i64>::try_from(labels).unwrap(),
            vec![0, 0, 1, 1, 2, 2]
        );
        assert_eq!(out.metadata["image_updates"], 4);
        assert_eq!(out.metadata["settings"]["siamese_dsa"], true);
        let init: Vec<i64> = serde_json::from_value(out.metadata["init_indices"].clone()).unwrap();
        let start = testing::mnist_split(&[0, 1, 2], 12)
            .images
            .index_select(0, &Tensor::from_slice(&init))
            .to_kind(Kind::Float)
            / 255.0;
        let moved = (images - &start).abs().max().double_value(&[]);
        assert!(moved > 1e-4, "images did not move ({moved})");
        let again = testing::compress::<Dsa>(cfg.clone(), Budget::Ipc(2), 12, 1).unwrap();
        assert!(images.equal(testing::images_of(&again).0));
        let other = testing::compress::<Dsa>(cfg.clone(), Budget::Ipc(2), 12, 2).unwrap();
        assert!(!images.equal(testing::images_of(&other).0));
        let e = testing::compress::<Dsa>(cfg, Budget::Fraction(0.05), 12, 1).unwrap_err();
        assert!(matches!(e, MethodError::Unsupported(_)), "{e}");
    }
}
