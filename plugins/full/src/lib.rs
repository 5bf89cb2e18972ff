//! `full`: the whole train split — the upper reference line of every table, not a
//! competitor. The harness trains it with the protocol's `[reference]` recipe (the IPC recipe's
//! epoch count on thousands of images would cost ~100x a cell) and caches it per
//! (dataset, protocol, seed).

use distillery_api::prelude::*;

#[derive(Default)]
pub struct Full;

impl Method for Full {
    const NAME: &'static str = "full";
    const FAMILY: Family = Family::Reference;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str = "reference (whole train split)";
    const DESCRIPTION: &'static str =
        "the whole train split, trained with the protocol's [reference] recipe";

    fn compress(&mut self, input: &Input, _ctx: &Context) -> Result<Compressed, MethodError> {
        Ok(Compressed::indices((0..input.train.len() as i64).collect()))
    }
}

export_plugin!(Full);
