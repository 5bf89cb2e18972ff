//! `dsa`: Dataset Condensation with Differentiable Siamese Augmentation (Zhao & Bilen, ICML
//! 2021), as in `main.py --method DSA --init real` of the reference code
//! (VICO-UoE/DatasetCondensation): DC's gradient matching with the real and the synthetic
//! batch of a class transformed by one shared DSA draw in every matching step, and per-image
//! DSA while the network trains on the synthetic set. The algorithm is shared with `dc` in
//! `distillery_distill_kit::gradient_matching`; see README.md for defaults and choices.

use distillery_api::prelude::*;
use distillery_distill_kit::gradient_matching::{self, DEFAULTS};

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

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        gradient_matching::compress(Self::NAME, true, &DEFAULTS, input, ctx)
    }
}

export_plugin!(Dsa);

#[cfg(test)]
mod tests {
    /// See `check_gradient_matching_plugin`: budget, labels, images moved from their real
    /// start, siamese setting true, determinism per seed, non-IPC budgets declined.
    #[test]
    fn compress_honours_the_budget_and_is_deterministic() {
        distillery_distill_kit::testing::check_gradient_matching_plugin::<super::Dsa>(true);
    }
}
