//! `random`: a class-balanced random subset of the train split, drawn from the cell's
//! selection seed. The baseline every other method is compared against. The drawing rules
//! (IPC, fraction and byte budgets) are in `distillery_api::select`, shared with the KD
//! methods that train on the same subset.

use distillery_api::prelude::*;
use serde::Deserialize;

#[derive(Default)]
pub struct Random;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {}

impl Method for Random {
    const NAME: &'static str = "random";
    const FAMILY: Family = Family::Pruning;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str = "baseline (class-balanced uniform random subset)";
    const DESCRIPTION: &'static str = "class-balanced random subset drawn from the selection seed";

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        let _: Config = ctx.config()?;
        Ok(Compressed::indices(distillery_api::select::random_subset(
            input,
            ctx.seeds().selection,
        )))
    }
}

export_plugin!(Random);
