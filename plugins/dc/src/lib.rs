//! `dc`: Dataset Condensation with Gradient Matching (Zhao, Mopuri & Bilen, ICLR 2021), as in
//! `main.py --method DC` of the reference code (VICO-UoE/DatasetCondensation): synthetic
//! images learn to make a network's weight gradients on them match those on real images of
//! their class, layer by layer, along the network's training on the synthetic set; no
//! augmentation. The algorithm is shared with `dsa` in
//! `distillery_distill_kit::gradient_matching`; see README.md for defaults and choices.

use distillery_api::prelude::*;
use distillery_distill_kit::gradient_matching::{self, DEFAULTS};

#[derive(Default)]
pub struct Dc;

impl Method for Dc {
    const NAME: &'static str = "dc";
    const FAMILY: Family = Family::Distillation;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str =
        "Zhao, Mopuri & Bilen, Dataset Condensation with Gradient Matching, ICLR 2021";
    const DESCRIPTION: &'static str =
        "gradient matching: layer-wise cosine distance of real vs synthetic weight gradients along training on the synthetic set";

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        gradient_matching::compress(Self::NAME, false, &DEFAULTS, input, ctx)
    }
}

export_plugin!(Dc);

#[cfg(test)]
mod tests {
    /// See `check_gradient_matching_plugin`: budget, labels, images moved from their real
    /// start, siamese setting false, determinism per seed, non-IPC budgets declined.
    #[test]
    fn compress_honours_the_budget_and_is_deterministic() {
        distillery_distill_kit::testing::check_gradient_matching_plugin::<super::Dc>(false);
    }
}
