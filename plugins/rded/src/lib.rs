//! `rded`: Realistic and Diverse Efficient Dataset distillation (Sun, Shi, Yu & Lin, "On the
//! Diversity and Realism of Distilled Dataset: An Efficient Dataset Distillation Paradigm",
//! CVPR 2024), following the reference code (LINs-lab/RDED, `synthesize/`).
//!
//! For every class: `mipc` real train images of the class (seeded); `num_crop`
//! RandomResizedCrop patches of each (square, scale `crop_scale`, resized to `H/factor ×
//! W/factor`); each patch scored by the observer's realism score, `−CE(observer(patch), y)`
//! (patches smaller than the image are zero-padded in normalised space to the input size, as
//! the reference code does); per image the best patch is kept, then the `IPC·factor²` best
//! images' patches; they are stitched `factor × factor` per image, grid position `k` of image
//! `i` holding the `(k·IPC + i)`-th best patch. No optimisation.
//!
//! The observer is the protocol's `[teacher]` when it has one, otherwise the method's own model
//! (default: the protocol's student, a short recipe) trained through the harness's teacher
//! service. Relabelling (the observer's soft labels per augmented view) is stored FKD-style and
//! declared as `LabelSpec::Stored` under the native-label protocol. See README.md.

use distillery_api::prelude::*;
use distillery_api::rng::derive_seed;
use distillery_api::spec::TeacherSpec;
use distillery_api::teacher::Teacher;
use distillery_distill_kit::ipc_budget;
use distillery_distill_kit::settings::{self, OwnModel, OwnModelDefaults, Preset};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

#[cfg(test)]
mod tests;

#[derive(Default)]
pub struct Rded;

/// `[methods.rded]`. Every key left out takes the preset's value (README.md lists both).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `default` or `paper`.
    pub preset: Preset,
    /// Patches per side of a stitched image (`factor²` patches per image; 1: whole crops).
    pub factor: Option<i64>,
    /// Real images drawn per class (reference scripts: 300).
    pub mipc: Option<usize>,
    /// Random crops scored per real image (reference scripts: 5).
    pub num_crop: Option<usize>,
    /// Area fraction range of the crops (reference code: [0.08, 1]).
    pub crop_scale: Option<[f64; 2]>,
    /// Use the protocol's `[teacher]` as the observer when the protocol has one.
    pub use_protocol_teacher: Option<bool>,
    /// The method's own observer (when the protocol's teacher is not used).
    pub observer: OwnModel,
    /// Temperature of the relabelling KL under the native-label protocol (reference: 20).
    pub temperature: Option<f64>,
}

pub const DEFAULT_OBSERVER_EPOCHS: usize = 3;
pub const PAPER_OBSERVER_EPOCHS: usize = 20;

/// Resolved settings, recorded with the cell.
#[derive(Clone, Debug, Serialize)]
pub struct Settings {
    pub preset: Preset,
    pub factor: i64,
    pub mipc: usize,
    pub num_crop: usize,
    pub crop_scale: [f64; 2],
    pub use_protocol_teacher: bool,
    pub observer: TeacherSpec,
    pub temperature: f64,
}

impl Config {
    pub fn resolve(&self, student: &ModelSpec, base: &TrainSpec) -> Result<Settings, MethodError> {
        let paper = self.preset == Preset::Paper;
        let observer = self.observer.resolve(
            "observer",
            &OwnModelDefaults {
                model: student.clone(),
                epochs: if paper {
                    PAPER_OBSERVER_EPOCHS
                } else {
                    DEFAULT_OBSERVER_EPOCHS
                },
                batch_size: 64,
                patience: if paper { 5 } else { 0 },
            },
            base,
        )?;
        let factor = self.factor.unwrap_or(1);
        if factor < 1 {
            return Err(MethodError::Config(format!(
                "factor must be at least 1, got {factor}"
            )));
        }
        let crop_scale = self.crop_scale.unwrap_or([0.08, 1.0]);
        if !(0.0 < crop_scale[0] && crop_scale[0] <= crop_scale[1] && crop_scale[1] <= 1.0) {
            return Err(MethodError::Config(format!(
                "crop_scale must be [lo, hi] with 0 < lo <= hi <= 1, got {crop_scale:?}"
            )));
        }
        Ok(Settings {
            preset: self.preset,
            factor,
            mipc: settings::at_least_one("mipc", self.mipc.unwrap_or(300))?,
            num_crop: settings::at_least_one("num_crop", self.num_crop.unwrap_or(5))?,
            crop_scale,
            use_protocol_teacher: self.use_protocol_teacher.unwrap_or(true),
            observer,
            temperature: settings::positive("temperature", self.temperature.unwrap_or(20.0))?,
        })
    }
}

/// A square crop box in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CropBox {
    pub top: i64,
    pub left: i64,
    pub size: i64,
}

/// torchvision's `RandomResizedCrop.get_params` with `ratio = (1, 1)` (RDED's
/// `MultiRandomCrop`): target area `U(scale)·H·W`, side `round(√area)`, position uniform; after
/// 10 misses the central largest square.
pub fn sample_box(h: i64, w: i64, scale: [f64; 2], rng: &mut SplitMix64) -> CropBox {
    let area = (h * w) as f64;
    for _ in 0..10 {
        let target = area * (scale[0] + rng.next_f64() * (scale[1] - scale[0]));
        let side = target.sqrt().round() as i64;
        if side > 0 && side <= h && side <= w {
            let top = rng.below((h - side + 1) as u64) as i64;
            let left = rng.below((w - side + 1) as u64) as i64;
            return CropBox {
                top,
                left,
                size: side,
            };
        }
    }
    let side = h.min(w);
    CropBox {
        top: (h - side) / 2,
        left: (w - side) / 2,
        size: side,
    }
}

/// The crop `b` of images `x` (`[n, C, H, W]`, float), resized to `out × out` (bilinear with
/// antialiasing, torchvision's `antialias=True`).
pub fn crop_resize(x: &Tensor, b: CropBox, out: i64) -> Tensor {
    let c = x.narrow(2, b.top, b.size).narrow(3, b.left, b.size);
    if b.size == out {
        c.contiguous()
    } else {
        c.internal_upsample_bilinear2d_aa([out, out], false, None, None)
    }
}

/// Zero-pads `x` (`[n, C, h, w]`) centrally to `H × W` (the reference code's `pad`).
pub fn pad_to(x: &Tensor, h: i64, w: i64) -> Tensor {
    let s = x.size();
    let (v, hz) = (h - s[2], w - s[3]);
    if v == 0 && hz == 0 {
        return x.shallow_clone();
    }
    x.constant_pad_nd([hz / 2, hz - hz / 2, v / 2, v - v / 2])
}

/// RDED's selection from `scores[i][j]` = the CE of crop `j` of image `i` (lower is more
/// realistic): per image its best crop (first on ties), then the `n` images whose best crop
/// scores best, in ascending order (stable). When `n` exceeds the number of images, the
/// remaining crops follow, best first. Returns `(image, crop)` pairs.
pub fn select_crops(scores: &[Vec<f64>], n: usize) -> Vec<(usize, usize)> {
    let mut best: Vec<(f64, usize, usize)> = Vec::new();
    let mut rest: Vec<(f64, usize, usize)> = Vec::new();
    for (i, row) in scores.iter().enumerate() {
        let mut bj = 0;
        for (j, &v) in row.iter().enumerate() {
            if v < row[bj] {
                bj = j;
            }
        }
        best.push((row[bj], i, bj));
        for (j, &v) in row.iter().enumerate() {
            if j != bj {
                rest.push((v, i, j));
            }
        }
    }
    let by_score = |a: &(f64, usize, usize), b: &(f64, usize, usize)| a.0.total_cmp(&b.0);
    best.sort_by(by_score);
    rest.sort_by(by_score);
    best.into_iter()
        .chain(rest)
        .take(n)
        .map(|(_, i, j)| (i, j))
        .collect()
}

/// Stitches `patches` (`[ipc·factor², C, p, p]`, best first) into `ipc` images of `h × w`:
/// grid position `k` (row-major) of image `i` holds patch `k·ipc + i`; rows / columns take
/// `h / factor` pixels, the first `h % factor` one more (patches resized nearest to fit), as
/// the reference code's `mix_images`.
pub fn stitch(patches: &Tensor, ipc: i64, factor: i64, h: i64, w: i64) -> Tensor {
    let s = patches.size();
    let c = s[1];
    let out = Tensor::zeros([ipc, c, h, w], (patches.kind(), patches.device()));
    let sizes = |total: i64| -> Vec<i64> {
        (0..factor)
            .map(|i| total / factor + i64::from(i < total % factor))
            .collect()
    };
    let (hs, ws) = (sizes(h), sizes(w));
    let mut k = 0;
    let mut top = 0;
    for &hr in &hs {
        let mut left = 0;
        for &wr in &ws {
            let mut part = patches.narrow(0, k * ipc, ipc);
            if part.size()[2] != hr || part.size()[3] != wr {
                part = part.upsample_nearest2d([hr, wr], None, None);
            }
            out.narrow(2, top, hr).narrow(3, left, wr).copy_(&part);
            left += wr;
            k += 1;
        }
        top += hr;
    }
    out
}

/// The observer in use and where it came from.
pub fn observer(
    ctx: &Context,
    input: &Input,
    s: &Settings,
) -> Result<(Teacher, &'static str), MethodError> {
    if s.use_protocol_teacher && ctx.protocol().teacher.is_some() {
        return Ok((ctx.teacher(input)?, "protocol teacher"));
    }
    Ok((ctx.teacher_for(&s.observer, input)?, "own observer model"))
}

/// Per-class outcome, recorded with the cell.
#[derive(Debug, Serialize)]
pub struct ClassReport {
    /// Train-split indices of the selected patches' images, best first.
    pub images: Vec<i64>,
    pub boxes: Vec<CropBox>,
    /// Their CE under the observer.
    pub ce: Vec<f64>,
}

/// Builds the `ipc` images of class `c` from the uint8 train images `train` (indices `members`
/// of the class): pixel scale [0, 1], `[ipc, C, H, W]` on CPU.
#[allow(clippy::too_many_arguments)]
pub fn class_images(
    net: &dyn Network,
    train: &Tensor,
    members: &[i64],
    c: i64,
    ipc: usize,
    s: &Settings,
    mean: &[f64],
    std: &[f64],
    device: Device,
    rng: &mut SplitMix64,
) -> (Tensor, ClassReport) {
    let shape = train.size();
    let (h, w) = (shape[2], shape[3]);
    let p = h.min(w) / s.factor;
    let chosen: Vec<i64> = rng
        .sample(members.len(), s.mipc.min(members.len()))
        .into_iter()
        .map(|j| members[j])
        .collect();
    let x = train
        .index_select(0, &Tensor::from_slice(&chosen))
        .to_kind(Kind::Float)
        / 255.0;
    // Crops: [image][crop] boxes, drawn image by image.
    let boxes: Vec<Vec<CropBox>> = (0..chosen.len())
        .map(|_| {
            (0..s.num_crop)
                .map(|_| sample_box(h, w, s.crop_scale, rng))
                .collect()
        })
        .collect();
    let mut patches = Vec::with_capacity(chosen.len());
    for (i, bs) in boxes.iter().enumerate() {
        let xi = x.narrow(0, i as i64, 1);
        let ps: Vec<Tensor> = bs.iter().map(|&b| crop_resize(&xi, b, p)).collect();
        patches.push(Tensor::cat(&ps, 0));
    }
    // [images · crops, C, p, p] in pixel scale.
    let patches = Tensor::cat(&patches, 0);
    let scored = {
        let xn = distillery_api::nn::normalize(&patches, mean, std, device);
        pad_to(&xn, h, w)
    };
    let ce: Vec<f64> = {
        let logits = distillery_api::teacher::batched_logits(net, &scored, 500);
        let y = Tensor::full([logits.size()[0], 1], c, (Kind::Int64, device));
        let l = logits
            .log_softmax(-1, Kind::Float)
            .gather(1, &y, false)
            .squeeze_dim(1)
            .neg();
        Vec::<f64>::try_from(l.to_kind(Kind::Double).to_device(Device::Cpu)).unwrap()
    };
    let scores: Vec<Vec<f64>> = ce.chunks(s.num_crop).map(|r| r.to_vec()).collect();
    let n = ipc * (s.factor * s.factor) as usize;
    let picks = select_crops(&scores, n);
    let rows: Vec<i64> = picks
        .iter()
        .map(|&(i, j)| (i * s.num_crop + j) as i64)
        .collect();
    let mut sel = patches.index_select(0, &Tensor::from_slice(&rows));
    if picks.len() < n {
        // Fewer crops than slots (a class with very few images): repeat the best ones.
        let extra: Vec<i64> = (0..(n - picks.len()) as i64)
            .map(|i| i % picks.len() as i64)
            .collect();
        sel = Tensor::cat(
            &[&sel, &sel.index_select(0, &Tensor::from_slice(&extra))],
            0,
        );
    }
    let images = stitch(&sel, ipc as i64, s.factor, h, w);
    let report = ClassReport {
        images: picks.iter().map(|&(i, _)| chosen[i]).collect(),
        boxes: picks.iter().map(|&(i, j)| boxes[i][j]).collect(),
        ce: picks.iter().map(|&(i, j)| scores[i][j]).collect(),
    };
    (images, report)
}

impl Method for Rded {
    const NAME: &'static str = "rded";
    const FAMILY: Family = Family::Distillation;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const PAPER: &'static str = "Sun, Shi, Yu & Lin, On the Diversity and Realism of Distilled Dataset: An Efficient Dataset Distillation Paradigm, CVPR 2024";
    const DESCRIPTION: &'static str =
        "most realistic random crops of real images under an observer (lowest CE), stitched factor x factor per image, observer relabelling";

    fn compress(&mut self, input: &Input, ctx: &Context) -> Result<Compressed, MethodError> {
        let started = std::time::Instant::now();
        let ipc = ipc_budget(Self::NAME, &input.budget)?;
        let cfg: Config = ctx.config()?;
        let p = ctx.protocol().clone();
        let s = cfg.resolve(&p.student, &p.train)?;
        let seed = ctx.seeds().selection;
        let (obs, source) = observer(ctx, input, &s)?;
        let observer_seconds = started.elapsed().as_secs_f64();
        let k = input.num_classes();
        let by_class = input.train.indices_by_class(k);
        if let Some(c) = by_class.iter().position(Vec::is_empty) {
            return Err(MethodError::Failed(format!(
                "class {c} ('{}') has no image in the train split",
                input.class_names[c]
            )));
        }
        let shape = input.train.images.size();
        if shape[2].min(shape[3]) < s.factor {
            return Err(MethodError::Config(format!(
                "factor {} is larger than the images ({}x{})",
                s.factor, shape[2], shape[3]
            )));
        }
        let device = ctx.device();
        let train = input.train.images.to_device(device);
        let (mut images, mut reports) = (Vec::new(), Vec::new());
        for (c, members) in by_class.iter().enumerate() {
            let members: Vec<i64> = members.iter().map(|&i| i as i64).collect();
            let mut rng = SplitMix64::new(derive_seed(seed, &format!("rded/class/{c}")));
            let (img, rep) = class_images(
                obs.net.as_ref(),
                &train,
                &members,
                c as i64,
                ipc,
                &s,
                &p.mean,
                &p.std,
                device,
                &mut rng,
            );
            images.push(img);
            reports.push(rep);
            ctx.progress(
                (c + 1) as f64 / k as f64,
                &format!("class {}/{k}: {} crops scored", c + 1, {
                    s.mipc.min(members.len()) * s.num_crop
                }),
            );
        }
        let images = Tensor::cat(&images, 0)
            .to_device(Device::Cpu)
            .clamp(0.0, 1.0);
        let labels: Vec<i64> = (0..k as i64)
            .flat_map(|l| std::iter::repeat_n(l, ipc))
            .collect();
        let labels = Tensor::from_slice(&labels);
        let mean_ce: f64 = reports.iter().flat_map(|r| r.ce.iter()).sum::<f64>()
            / reports.iter().map(|r| r.ce.len()).sum::<usize>().max(1) as f64;
        let mut meta = serde_json::json!({
            "settings": s,
            "seed": seed,
            "observer": {
                "source": source,
                "key": obs.info.key,
                "spec": obs.info.spec,
                "val_acc": obs.info.val_acc,
                "best_epoch": obs.info.best_epoch,
                "from_cache": obs.from_cache,
                "train_seconds": obs.info.train_seconds,
            },
            "selected_mean_ce": mean_ce,
            "classes": reports,
            "observer_seconds": observer_seconds,
        });
        let relabel = distillery_distill_kit::relabel_native(
            ctx,
            &ctx.normalize(&images),
            obs.net.as_ref(),
            k,
            s.temperature,
            seed,
            "observer's logits",
        )?;
        meta["seconds"] = serde_json::json!(started.elapsed().as_secs_f64());
        let out = Compressed::images(images.contiguous(), labels);
        Ok(match relabel {
            Some((spec, m)) => {
                meta["relabel"] = m;
                out.with_metadata(meta).with_label_spec(spec)
            }
            None => out.with_metadata(meta),
        })
    }
}

export_plugin!(Rded);
