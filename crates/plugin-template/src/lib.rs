//! Template method plugin: copy it with `bench new-plugin NAME` and replace `compress`.
//!
//! As shipped it is a small, real pruning method: per class, keep the `k` images closest (L2,
//! in pixel space) to the class's mean image ("nearest-to-mean"), ties broken by index.

use distillery_api::prelude::*;
use serde::Deserialize;

/// The method. It is built with `Default` once per cell, in a fresh process.
#[derive(Default)]
pub struct Template;

/// Settings from the protocol's `[methods.template]` table. `deny_unknown_fields` makes a
/// misspelt key an error that names it; `default` lets the table be absent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Config {
    /// Pixel-space distance: "l2" (default) or "l1".
    distance: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            distance: "l2".into(),
        }
    }
}

impl Method for Template {
    const NAME: &'static str = "template";
    const FAMILY: Family = Family::Pruning;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str = "template (nearest-to-class-mean baseline)";
    const DESCRIPTION: &'static str =
        "per class, the k images closest to the class mean in pixel space";

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        let cfg: Config = ctx.config()?;
        let p = match cfg.distance.as_str() {
            "l2" => 2.0,
            "l1" => 1.0,
            other => {
                return Err(MethodError::Config(format!(
                    "[methods.template] distance: expected \"l2\" or \"l1\", got {other:?}"
                )))
            }
        };
        // Budgets: images per class. Fractions and bytes are declined (the harness skips them).
        let k = input.budget.images_per_class()?;
        let x = input.train.images.to_kind(Kind::Float).flatten(1, -1); // [N, C*H*W]
        let mut chosen = Vec::new();
        for (c, members) in input
            .train
            .indices_by_class(input.num_classes())
            .iter()
            .enumerate()
        {
            ctx.progress(c as f64 / input.num_classes() as f64, "scoring classes");
            if members.is_empty() {
                continue;
            }
            let idx = Tensor::from_slice(&members.iter().map(|&i| i as i64).collect::<Vec<_>>());
            let xc = x.index_select(0, &idx);
            let mean = xc.mean_dim(0, true, Kind::Float);
            let d = Vec::<f32>::try_from((&xc - &mean).norm_scalaropt_dim(
                p,
                [1i64].as_slice(),
                false,
            ))?;
            let mut order: Vec<usize> = (0..members.len()).collect();
            order.sort_by(|&a, &b| d[a].total_cmp(&d[b]).then(a.cmp(&b)));
            chosen.extend(order.into_iter().take(k).map(|j| members[j] as i64));
        }
        Ok(Compressed::indices(chosen)
            .with_metadata(serde_json::json!({ "distance": cfg.distance })))
    }
}

distillery_api::export_plugin!(Template);
