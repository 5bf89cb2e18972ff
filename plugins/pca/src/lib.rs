//! `pca`: Prune, Combine, and Augment (Xiao, Liu, He & Wang, "Rethinking Large-scale Dataset
//! Compression: Shifting Focus From Labels to Images", arXiv 2502.06434, 2025).
//!
//! - **Prune**: score every train image with a pruning metric from scoring ConvNets trained
//!   through the harness ([`Score`]: EL2N, forgetting events or AUM) and keep, per class, the
//!   `ipc × factor²` *easiest* images.
//! - **Combine**: per output slot, `factor × factor` of them downsampled into one image
//!   ([`combine`]), so each stored image carries several real samples.
//! - **Augment**: the student's training-time augmentation; in Distillery the protocol owns
//!   it, so the plugin does not change it (README.md explains).
//!
//! Hard labels only: the class of the combined images. The paper's code is unreleased; every
//! choice made here is listed in README.md.

pub mod combine;

use distillery_api::prelude::*;
use distillery_api::rng::derive_seed;
use distillery_pruning_kit::scores::{self as sc_, AumTracker, ForgettingTracker};
use distillery_pruning_kit::scoring::{self, ScoringDefaults, ScoringOverrides};
use distillery_pruning_kit::select::{self, Order, TieBreak};
use serde::{Deserialize, Serialize};

#[derive(Default)]
pub struct Pca;

/// The pruning metric that ranks easiness.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Score {
    /// EL2N `||softmax(f(x)) − onehot(y)||` after the scoring run: easy = lowest.
    #[default]
    El2n,
    /// Forgetting events during the scoring run: easy = fewest (never-learned = hardest).
    Forgetting,
    /// Area under the margin during the scoring run: easy = highest.
    Aum,
}

impl Score {
    /// The ranking order that puts the easiest first.
    pub fn easiest_first(self) -> Order {
        match self {
            Score::El2n | Score::Forgetting => Order::LowestFirst,
            Score::Aum => Order::HighestFirst,
        }
    }
}

/// The `[methods.pca]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Pruning metric: "el2n" (default), "forgetting" or "aum".
    pub score: Score,
    /// Combine factor: `factor × factor` images per output image (1 = no combining).
    pub factor: i64,
    /// Independently initialised scoring models the score is averaged over.
    pub models: usize,
    /// The scoring networks' recipe (overrides of [`defaults`]).
    pub scoring: ScoringOverrides,
    /// After building the set, train the protocol's student on it and record its accuracy on
    /// the validation split (a diagnostic; costs one student training).
    pub val_check: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            score: Score::El2n,
            factor: 2,
            models: 1,
            scoring: ScoringOverrides::default(),
            val_check: false,
        }
    }
}

/// ConvNet-3 width 32, 4 epochs, batch 64, SGD lr 0.01 (protocol momentum / weight decay),
/// constant lr, no augmentation.
pub fn defaults() -> ScoringDefaults {
    ScoringDefaults::convnet(32, 4)
}

/// Per class (in label order), the `take` easiest indices by `scores` under `order`; when a
/// class has fewer than `take` images its ranking is repeated (wrapped) to fill the slots.
/// Returns, per class, the indices in rank order (easiest first).
pub fn easiest_per_class(
    scores: &[f64],
    labels: &[i64],
    num_classes: usize,
    take: usize,
    order: Order,
    tie: &TieBreak,
) -> Vec<Vec<usize>> {
    select::by_class(labels, num_classes)
        .iter()
        .map(|members| {
            let ranked = select::rank(scores, members, order, tie);
            if ranked.is_empty() {
                return Vec::new();
            }
            (0..take).map(|j| ranked[j % ranked.len()]).collect()
        })
        .collect()
}

impl Method for Pca {
    const NAME: &'static str = "pca";
    const FAMILY: Family = Family::Distillation;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str = "Xiao, Liu, He & Wang, Rethinking Large-scale Dataset Compression: Shifting Focus From Labels to Images (Prune, Combine, and Augment), arXiv 2502.06434, 2025";
    const DESCRIPTION: &'static str =
        "easiest real images by a pruning score (EL2N / forgetting / AUM), factor x factor combined per image, hard labels";

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        let ipc = distillery_distill_kit::ipc_budget("pca", &input.budget)?;
        let cfg: Config = ctx.config()?;
        if !(1..=8).contains(&cfg.factor) {
            return Err(MethodError::Config(format!(
                "[methods.pca] factor: must be in 1..=8, found {}",
                cfg.factor
            )));
        }
        if cfg.models == 0 {
            return Err(MethodError::Config(
                "[methods.pca] models: must be at least 1".into(),
            ));
        }
        let s = input.train.images.size();
        let (h, w) = (s[2], s[3]);
        if h < cfg.factor || w < cfg.factor {
            return Err(MethodError::Config(format!(
                "[methods.pca] factor {} is larger than the images ({h}x{w})",
                cfg.factor
            )));
        }
        let sc = cfg
            .scoring
            .resolve(&defaults(), &ctx.protocol().train, false)?;
        let labels = input.train.labels_vec();
        let n = labels.len();
        let sel = ctx.seeds().selection;

        // Prune: scores from `models` scoring runs, averaged.
        let mut runs = Vec::new();
        let mut val_acc = Vec::new();
        for m in 0..cfg.models {
            let (lo, hi) = (
                0.9 * m as f64 / cfg.models as f64,
                0.9 * (m + 1) as f64 / cfg.models as f64,
            );
            let seed = derive_seed(sel, &format!("pca/model{m}"));
            let mut forgetting = ForgettingTracker::new(n);
            let mut aum = AumTracker::new(n);
            let mut cb = |_e: usize, idx: &[i64], logits: &Tensor| {
                let r = sc_::rows(logits);
                forgetting.record_batch(idx, &r, &labels);
                aum.record_batch(idx, &r, &labels);
            };
            let what = format!("scoring net {}/{}", m + 1, cfg.models);
            let (_vs, net) =
                scoring::train(ctx, input.train, &sc, seed, Some(&mut cb), (lo, hi), &what)?;
            val_acc.push(scoring::val_accuracy(ctx, net.as_ref(), input.val));
            runs.push(match cfg.score {
                Score::El2n => {
                    let z = sc_::rows(&scoring::logits(ctx, net.as_ref(), &input.train.images));
                    z.iter()
                        .zip(&labels)
                        .map(|(r, &y)| sc_::el2n(r, y as usize))
                        .collect()
                }
                Score::Forgetting => forgetting.scores(),
                Score::Aum => aum.scores(),
            });
        }
        let scores = sc_::mean_scores(&runs);

        // Select the ipc × factor² easiest of each class.
        ctx.progress(0.92, "selecting and combining");
        let per_slot = (cfg.factor * cfg.factor) as usize;
        let tie = TieBreak::Seeded(derive_seed(sel, "pca/ties"));
        let chosen = easiest_per_class(
            &scores,
            &labels,
            input.num_classes(),
            ipc * per_slot,
            cfg.score.easiest_first(),
            &tie,
        );

        // Combine: slot j of class c gets that class's ranks j·f² .. (j+1)·f² − 1.
        let mut out_imgs = Vec::new();
        let mut out_labels = Vec::new();
        let mut slots = Vec::new();
        for (c, ranked) in chosen.iter().enumerate() {
            if ranked.is_empty() {
                return Err(MethodError::Failed(format!(
                    "class {c} ({}) has no train image to select from",
                    input.class_names[c]
                )));
            }
            for j in 0..ipc {
                let group: Vec<i64> = ranked[j * per_slot..(j + 1) * per_slot]
                    .iter()
                    .map(|&i| i as i64)
                    .collect();
                let imgs = input
                    .train
                    .images
                    .index_select(0, &Tensor::from_slice(&group));
                out_imgs.push(combine::combine(&imgs, cfg.factor));
                out_labels.push(c as i64);
                slots.push(group);
            }
        }
        let images = Tensor::stack(&out_imgs, 0);
        let labels_t = Tensor::from_slice(&out_labels);
        let distinct = {
            let mut all: Vec<i64> = slots.iter().flatten().copied().collect();
            all.sort_unstable();
            all.dedup();
            all.len()
        };

        let student_val_accuracy = if cfg.val_check && !input.val.is_empty() {
            ctx.progress(
                0.95,
                "val_check: training the protocol's student on the set",
            );
            let (_vs, net) = ctx.train_model(
                &images,
                &labels_t,
                None,
                None,
                derive_seed(sel, "pca/val_check"),
                FitOptions::default(),
            )?;
            let xv = ctx.normalize(&input.val.images);
            Some(nn::evaluate(net.as_ref(), &xv, &input.val.labels, 500).0)
        } else {
            None
        };
        let slot_scores: Vec<Vec<f64>> = slots
            .iter()
            .map(|g| g.iter().map(|&i| scores[i as usize]).collect())
            .collect();
        Ok(
            Compressed::images(images, labels_t).with_metadata(serde_json::json!({
                "score": cfg.score,
                "factor": cfg.factor,
                "images_per_slot": per_slot,
                "models": cfg.models,
                "scoring": sc,
                "scoring_val_accuracy": val_acc,
                "slots": slots,
                "slot_scores": slot_scores,
                "distinct_source_images": distinct,
                "student_val_accuracy": student_val_accuracy,
                "labels": "hard (the class of the combined images); the paper evaluates PCA with hard labels only",
            })),
        )
    }
}

export_plugin!(Pca);

#[cfg(test)]
mod tests;
