//! The real images a distillation method learns from: the train split grouped by class, and
//! seeded per-class batches in the normalised space the student sees.

use distillery_api::rng::SplitMix64;
use distillery_api::{Context, Input, MethodError, Split};
use tch::{Device, Tensor};

/// The train split's images by class. Only the train split: the validation split stays for
/// decisions and the test split never reaches a plugin.
pub struct RealPool {
    /// The split's images as given (uint8 `[N, C, H, W]`), on the working device.
    images: Tensor,
    by_class: Vec<Vec<i64>>,
    shape: [i64; 3],
    mean: Vec<f64>,
    std: Vec<f64>,
    device: Device,
}

impl RealPool {
    /// The train split of `input`, normalised with the protocol's statistics on `ctx`'s device.
    pub fn from_input(ctx: &Context, input: &Input) -> Result<Self, MethodError> {
        Self::new(
            input.train,
            input.class_names,
            &ctx.protocol().mean,
            &ctx.protocol().std,
            ctx.device(),
        )
    }

    /// Groups `split` by class. Fails, naming the class, when a class has no image (nothing to
    /// initialise from or to match), or when the images are not `[N, C, H, W]`.
    pub fn new(
        split: &Split,
        class_names: &[String],
        mean: &[f64],
        std: &[f64],
        device: Device,
    ) -> Result<Self, MethodError> {
        let s = split.images.size();
        if s.len() != 4 {
            return Err(MethodError::Failed(format!(
                "train images must be [N, C, H, W], got shape {s:?}"
            )));
        }
        if mean.len() != s[1] as usize || std.len() != s[1] as usize {
            return Err(MethodError::Failed(format!(
                "the protocol's normalisation has {} means / {} stds for {}-channel images",
                mean.len(),
                std.len(),
                s[1]
            )));
        }
        let by_class: Vec<Vec<i64>> = split
            .indices_by_class(class_names.len())
            .into_iter()
            .map(|v| v.into_iter().map(|i| i as i64).collect())
            .collect();
        if let Some(c) = by_class.iter().position(Vec::is_empty) {
            return Err(MethodError::Failed(format!(
                "class {c} ('{}') has no image in the train split: nothing to synthesise it from",
                class_names[c]
            )));
        }
        Ok(Self {
            images: split.images.to_device(device),
            by_class,
            shape: [s[1], s[2], s[3]],
            mean: mean.to_vec(),
            std: std.to_vec(),
            device,
        })
    }

    pub fn num_classes(&self) -> usize {
        self.by_class.len()
    }

    /// Number of train images of class `c`.
    pub fn class_len(&self, c: usize) -> usize {
        self.by_class[c].len()
    }

    /// `[C, H, W]` of the images.
    pub fn shape(&self) -> [i64; 3] {
        self.shape
    }

    pub fn device(&self) -> Device {
        self.device
    }

    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    pub fn std(&self) -> &[f64] {
        &self.std
    }

    /// Indices into the train split of `n` distinct images of class `c` drawn uniformly with
    /// `rng` (all of the class, shuffled, when it has fewer than `n`: the reference code's
    /// `permutation(indices_class[c])[:n]`).
    pub fn sample_indices(&self, c: usize, n: usize, rng: &mut SplitMix64) -> Vec<i64> {
        let members = &self.by_class[c];
        rng.sample(members.len(), n.min(members.len()))
            .into_iter()
            .map(|j| members[j])
            .collect()
    }

    /// The normalised images at `indices` (float `[n, C, H, W]` on the device).
    pub fn images_at(&self, indices: &[i64]) -> Tensor {
        let idx = Tensor::from_slice(indices).to_device(self.device);
        distillery_api::nn::normalize(
            &self.images.index_select(0, &idx),
            &self.mean,
            &self.std,
            self.device,
        )
    }

    /// A real batch of class `c`: `n` distinct images (fewer if the class is smaller),
    /// normalised, on the device.
    pub fn sample(&self, c: usize, n: usize, rng: &mut SplitMix64) -> Tensor {
        self.images_at(&self.sample_indices(c, n, rng))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    fn split() -> Split {
        // 5 images of class 0 (value 10·i), 2 of class 1 (value 200 + i), interleaved.
        let labels = [0i64, 1, 0, 0, 1, 0, 0];
        let vals: Vec<u8> = labels
            .iter()
            .enumerate()
            .map(|(i, &l)| if l == 0 { 10 * i as u8 } else { 200 + i as u8 })
            .collect();
        let images = Tensor::from_slice(&vals)
            .view([7, 1, 1, 1])
            .expand([7, 1, 2, 2], false)
            .contiguous();
        Split {
            images,
            labels: Tensor::from_slice(&labels),
        }
    }

    fn names(k: usize) -> Vec<String> {
        (0..k).map(|i| format!("c{i}")).collect()
    }

    #[test]
    fn batches_are_distinct_members_of_the_class_and_normalised() {
        let pool = RealPool::new(&split(), &names(2), &[0.5], &[0.25], Device::Cpu).unwrap();
        assert_eq!((pool.class_len(0), pool.class_len(1)), (5, 2));
        let mut rng = SplitMix64::new(3);
        let idx = pool.sample_indices(0, 3, &mut rng);
        assert_eq!(idx.len(), 3);
        for i in &idx {
            assert!([0, 2, 3, 5, 6].contains(i), "{i} is not of class 0");
        }
        let mut d = idx.clone();
        d.sort();
        d.dedup();
        assert_eq!(d.len(), 3);
        // A class smaller than the batch gives all of its images.
        let mut all = pool.sample_indices(1, 256, &mut rng);
        all.sort();
        assert_eq!(all, vec![1, 4]);
        // Normalisation: (v/255 - 0.5) / 0.25.
        let x = pool.images_at(&[4]);
        let want = ((204.0 / 255.0) - 0.5) / 0.25;
        assert!((x.double_value(&[0, 0, 1, 1]) - want).abs() < 1e-6);
        assert_eq!(x.kind(), Kind::Float);
        // Same seed, same batch.
        let a = pool.sample_indices(0, 4, &mut SplitMix64::new(9));
        let b = pool.sample_indices(0, 4, &mut SplitMix64::new(9));
        assert_eq!(a, b);
    }

    #[test]
    fn an_empty_class_is_named() {
        let e = RealPool::new(&split(), &names(3), &[0.5], &[0.25], Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("class 2 ('c2')"), "{e}");
    }
}
