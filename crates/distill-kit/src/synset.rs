//! The synthetic set: `IPC` images per class, class-major (`[0,0,…,1,1,…]` as in the reference
//! code), learnt in the normalised space the student sees and returned in the dataset's
//! [0, 1] pixel scale.

use crate::real::RealPool;
use distillery_api::rng::{derive_seed, SplitMix64};
use distillery_api::MethodError;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// How the synthetic images start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// `IPC` distinct real images of each class, drawn from the selection seed (`--init real`
    /// of the reference code).
    #[default]
    Real,
    /// Standard Gaussian noise in normalised space (`--init noise`, DC's Table 1 default).
    Noise,
}

/// The learnable synthetic images with their labels.
pub struct SynSet {
    /// A leaf tensor that requires grad, updated in place by [`ImageSgd`].
    images: Tensor,
    labels: Tensor,
    ipc: usize,
    classes: usize,
    init_indices: Vec<i64>,
}

impl SynSet {
    /// `ipc` images for each class of `pool`, initialised as `init` says from `seed` (its
    /// sub-seeds `init/real` and `init/noise`).
    pub fn init(pool: &RealPool, ipc: usize, init: Init, seed: u64) -> Result<Self, MethodError> {
        let [c, h, w] = pool.shape();
        let k = pool.num_classes();
        let device = pool.device();
        let (data, init_indices) = match init {
            Init::Real => {
                let mut rng = SplitMix64::new(derive_seed(seed, "init/real"));
                let mut idx = Vec::with_capacity(k * ipc);
                for class in 0..k {
                    let have = pool.class_len(class);
                    if have < ipc {
                        return Err(MethodError::Failed(format!(
                            "class {class} has {have} train image(s), fewer than IPC {ipc}: \
                             initialising from real images needs {ipc} distinct images per \
                             class (init = \"noise\" starts from Gaussian noise instead)"
                        )));
                    }
                    idx.extend(pool.sample_indices(class, ipc, &mut rng));
                }
                (pool.images_at(&idx), idx)
            }
            Init::Noise => {
                tch::manual_seed(derive_seed(seed, "init/noise") as i64);
                (
                    Tensor::randn([(k * ipc) as i64, c, h, w], (Kind::Float, device)),
                    Vec::new(),
                )
            }
        };
        let images = data.detach().copy().set_requires_grad(true);
        let labels: Vec<i64> = (0..k as i64)
            .flat_map(|l| std::iter::repeat_n(l, ipc))
            .collect();
        Ok(Self {
            images,
            labels: Tensor::from_slice(&labels).to_device(device),
            ipc,
            classes: k,
            init_indices,
        })
    }

    pub fn ipc(&self) -> usize {
        self.ipc
    }

    pub fn num_classes(&self) -> usize {
        self.classes
    }

    /// All synthetic images (the learnable tensor: gradients flow into it).
    pub fn images(&self) -> &Tensor {
        &self.images
    }

    /// Class labels `[K·IPC]`, int64, on the working device.
    pub fn labels(&self) -> &Tensor {
        &self.labels
    }

    /// The images of class `c` (a view of the learnable tensor: gradients flow into it).
    pub fn class_images(&self, c: usize) -> Tensor {
        self.images
            .narrow(0, (c * self.ipc) as i64, self.ipc as i64)
    }

    /// Train-split indices the images were initialised from (empty for noise).
    pub fn init_indices(&self) -> &[i64] {
        &self.init_indices
    }

    /// The gradient of `loss` with respect to the synthetic images (`[K·IPC, C, H, W]`),
    /// without touching any other tensor's `.grad`.
    pub fn grad_of(&self, loss: &Tensor) -> Tensor {
        Tensor::run_backward(&[loss], &[&self.images], false, false)
            .pop()
            .expect("one gradient per input")
    }

    /// The images mapped back to the dataset's pixel scale (`x·std + mean` per channel, float
    /// on CPU) and their labels (int64 on CPU). Values are not clamped: the reference code
    /// evaluates the optimised tensors as they are, and the harness normalises them back to
    /// exactly what was learnt.
    pub fn to_pixels(&self, mean: &[f64], std: &[f64]) -> (Tensor, Tensor) {
        (
            pixel_scale(&self.images, mean, std),
            self.labels.to_device(Device::Cpu),
        )
    }
}

/// Normalised images `[N, C, H, W]` mapped back to the dataset's pixel scale, `x·std + mean`
/// per channel: float, contiguous, on CPU, detached, not clamped.
pub fn pixel_scale(x: &Tensor, mean: &[f64], std: &[f64]) -> Tensor {
    let _g = tch::no_grad_guard();
    let x = x.detach().to_device(Device::Cpu);
    let c = x.size()[1];
    let m =
        Tensor::from_slice(&mean.iter().map(|&v| v as f32).collect::<Vec<_>>()).view([1, c, 1, 1]);
    let s =
        Tensor::from_slice(&std.iter().map(|&v| v as f32).collect::<Vec<_>>()).view([1, c, 1, 1]);
    (x * s + m).contiguous()
}

/// `torch.optim.SGD([image_syn], lr, momentum)` of the reference code (dampening 0, no weight
/// decay, no Nesterov): `buf ← g` on the first step, then `buf ← momentum·buf + g`;
/// `x ← x − lr·buf`. Gradients are passed in explicitly, so no `.grad` state is shared with
/// the matching network.
pub struct ImageSgd {
    lr: f64,
    momentum: f64,
    buf: Option<Tensor>,
}

impl ImageSgd {
    pub fn new(lr: f64, momentum: f64) -> Self {
        Self {
            lr,
            momentum,
            buf: None,
        }
    }

    /// One step on the synthetic images with gradient `grad`.
    pub fn step(&mut self, syn: &mut SynSet, grad: &Tensor) {
        let _g = tch::no_grad_guard();
        let buf = match self.buf.take() {
            None => grad.detach().copy(),
            Some(b) => b * self.momentum + grad,
        };
        let _ = syn
            .images
            .f_sub_(&(&buf * self.lr))
            .expect("in-place image update");
        self.buf = Some(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use distillery_api::Split;

    fn pool(per_class: &[usize]) -> RealPool {
        let mut labels = Vec::new();
        for (c, &n) in per_class.iter().enumerate() {
            labels.extend(std::iter::repeat_n(c as i64, n));
        }
        let n = labels.len() as i64;
        let images = Tensor::arange(n, (Kind::Uint8, Device::Cpu))
            .view([n, 1, 1, 1])
            .expand([n, 1, 3, 3], false)
            .contiguous();
        let split = Split {
            images,
            labels: Tensor::from_slice(&labels),
        };
        let names: Vec<String> = (0..per_class.len()).map(|c| c.to_string()).collect();
        RealPool::new(&split, &names, &[0.2], &[0.5], Device::Cpu).unwrap()
    }

    #[test]
    fn real_init_takes_distinct_images_of_each_class_and_round_trips_to_pixels() {
        let p = pool(&[4, 5, 3]);
        let s = SynSet::init(&p, 2, Init::Real, 7).unwrap();
        assert_eq!(s.images().size(), vec![6, 1, 3, 3]);
        assert_eq!(
            Vec::<i64>::try_from(s.labels()).unwrap(),
            vec![0, 0, 1, 1, 2, 2]
        );
        let idx = s.init_indices().to_vec();
        // Class 0 = images 0..4, class 1 = 4..9, class 2 = 9..12.
        for (j, &i) in idx.iter().enumerate() {
            let class = j / 2;
            let range = [0..4, 4..9, 9..12][class].clone();
            assert!(
                range.contains(&i),
                "slot {j}: index {i} not of class {class}"
            );
        }
        assert_ne!(idx[0], idx[1]);
        // Back to pixels: exactly the chosen images' values / 255.
        let (px, labels) = s.to_pixels(&[0.2], &[0.5]);
        assert_eq!(labels.size(), vec![6]);
        for (j, &i) in idx.iter().enumerate() {
            let v = px.double_value(&[j as i64, 0, 1, 2]);
            assert!((v - i as f64 / 255.0).abs() < 1e-6, "slot {j}: {v}");
        }
        // Same seed, same choice; another seed, another one.
        let again = SynSet::init(&p, 2, Init::Real, 7).unwrap();
        assert_eq!(again.init_indices(), s.init_indices());
        let other: Vec<Vec<i64>> = (8..14)
            .map(|seed| {
                SynSet::init(&p, 2, Init::Real, seed)
                    .unwrap()
                    .init_indices()
                    .to_vec()
            })
            .collect();
        assert!(other.iter().any(|o| o != s.init_indices()));
    }

    #[test]
    fn too_few_real_images_for_the_ipc_is_an_error_naming_the_class() {
        let e = SynSet::init(&pool(&[4, 2, 3]), 3, Init::Real, 0)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("class 1 has 2 train image(s)"), "{e}");
        // Noise needs no real images.
        let s = SynSet::init(&pool(&[4, 2, 3]), 3, Init::Noise, 0).unwrap();
        assert_eq!(s.images().size(), vec![9, 1, 3, 3]);
        assert!(s.init_indices().is_empty());
    }

    #[test]
    fn image_sgd_is_torch_sgd_with_momentum() {
        let p = pool(&[2, 2]);
        let mut s = SynSet::init(&p, 1, Init::Real, 1).unwrap();
        let before = s.images().detach().copy();
        let mut opt = ImageSgd::new(0.5, 0.5);
        // loss = sum(x) -> grad 1 everywhere; two steps of SGD with momentum 0.5:
        // buf1 = 1, x1 = x0 - 0.5; buf2 = 0.5 + 1 = 1.5, x2 = x1 - 0.75.
        for _ in 0..2 {
            let g = s.grad_of(&s.images().sum(Kind::Float));
            assert!(g.equal(&Tensor::ones_like(&g)));
            opt.step(&mut s, &g);
        }
        let moved = (&before - s.images().detach())
            .mean(Kind::Float)
            .double_value(&[]);
        assert!((moved - 1.25).abs() < 1e-6, "{moved}");
        assert!(s.images().requires_grad());
    }
}
