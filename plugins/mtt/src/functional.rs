//! A functional ConvNet-D: the forward pass of `distillery_api::nn::models::ConvNet` with its
//! parameters given as one flat tensor, so gradients flow through simulated student updates
//! (`θ ← θ − α ∇ℓ(θ)`) back into the synthetic images and the learnable step size α.
//!
//! Layout (the order [`ParamLayout`] flattens and slices): for each block `d` in `0..depth`,
//! `conv{d}.weight [W, Cin, 3, 3]`, `conv{d}.bias [W]`, `norm{d}.weight [W]`, `norm{d}.bias [W]`;
//! then `fc.weight [K, F]`, `fc.bias [K]`. The names are the api ConvNet's variable names when
//! it is built on a VarStore's root, so a trained network's variables map onto the layout by
//! name. Block: conv3x3 (padding 3 on the first conv for single-channel input, else 1) →
//! GroupNorm(W groups, W channels, eps 1e-5, affine) → ReLU → AvgPool2x2; then a linear layer.

use distillery_api::spec::{Arch, ModelSpec};
use distillery_api::MethodError;
use tch::nn::VarStore;
use tch::{Kind, Tensor};

/// Names, shapes and offsets of a ConvNet's parameters in the flat vector.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamLayout {
    pub entries: Vec<(String, Vec<i64>)>,
    pub depth: i64,
    pub width: i64,
    pub in_channels: i64,
    pub num_params: i64,
}

impl ParamLayout {
    /// The layout of `spec` (a ConvNet with instance norm) for `[C, H, W]` inputs and `classes`
    /// outputs. Other architectures are declined: the functional forward exists for ConvNet only.
    pub fn convnet(
        spec: &ModelSpec,
        in_shape: [i64; 3],
        classes: i64,
    ) -> Result<Self, MethodError> {
        if spec.arch != Arch::Convnet {
            return Err(MethodError::Unsupported(format!(
                "MTT's functional student supports the instance-norm ConvNet (arch = \"convnet\"), \
                 the protocol's student is {}",
                spec.describe()
            )));
        }
        if spec.width < 1 || spec.depth < 1 {
            return Err(MethodError::Config(format!(
                "ConvNet width and depth must be >= 1, got width {} depth {}",
                spec.width, spec.depth
            )));
        }
        let [c, mut h, mut w] = in_shape;
        let width = spec.width;
        let mut entries = Vec::new();
        let mut cin = c;
        for d in 0..spec.depth {
            let pad = if c == 1 && d == 0 { 3 } else { 1 };
            entries.push((format!("conv{d}.weight"), vec![width, cin, 3, 3]));
            entries.push((format!("conv{d}.bias"), vec![width]));
            entries.push((format!("norm{d}.weight"), vec![width]));
            entries.push((format!("norm{d}.bias"), vec![width]));
            h = (h + 2 * pad - 2) / 2;
            w = (w + 2 * pad - 2) / 2;
            cin = width;
        }
        let feat = width * h * w;
        entries.push(("fc.weight".into(), vec![classes, feat]));
        entries.push(("fc.bias".into(), vec![classes]));
        let num_params = entries.iter().map(|(_, s)| s.iter().product::<i64>()).sum();
        Ok(Self {
            entries,
            depth: spec.depth,
            width,
            in_channels: c,
            num_params,
        })
    }

    /// The variables of a VarStore holding an api ConvNet built on its root, in layout order.
    /// Shallow clones: they share storage with the store (an optimizer step shows through).
    pub fn tensors_of(&self, vs: &VarStore) -> Result<Vec<Tensor>, MethodError> {
        let vars = vs.variables();
        self.entries
            .iter()
            .map(|(name, shape)| {
                let t = vars.get(name).ok_or_else(|| {
                    MethodError::Failed(format!(
                        "the network has no variable {name} (has: {:?})",
                        vars.keys().collect::<Vec<_>>()
                    ))
                })?;
                if &t.size() != shape {
                    return Err(MethodError::Failed(format!(
                        "variable {name} has shape {:?}, the layout expects {shape:?}",
                        t.size()
                    )));
                }
                Ok(t.shallow_clone())
            })
            .collect()
    }

    /// Concatenates tensors in layout order into one detached flat float tensor (a copy).
    pub fn flatten(&self, tensors: &[Tensor]) -> Tensor {
        let _guard = tch::no_grad_guard();
        Tensor::cat(
            &tensors
                .iter()
                .map(|t| t.detach().to_kind(Kind::Float).reshape([-1]))
                .collect::<Vec<_>>(),
            0,
        )
    }

    /// Views of the flat vector, one per entry (differentiable slices).
    pub fn unflatten(&self, flat: &Tensor) -> Vec<Tensor> {
        let mut off = 0;
        self.entries
            .iter()
            .map(|(_, shape)| {
                let n: i64 = shape.iter().product();
                let t = flat.narrow(0, off, n).view(shape.as_slice());
                off += n;
                t
            })
            .collect()
    }

    /// Logits of the ConvNet with flat parameters `flat` on normalised images `x` `[N,C,H,W]`.
    pub fn forward(&self, flat: &Tensor, x: &Tensor) -> Tensor {
        let p = self.unflatten(flat);
        let mut h = x.shallow_clone();
        for d in 0..self.depth as usize {
            let pad = if self.in_channels == 1 && d == 0 {
                3
            } else {
                1
            };
            let (cw, cb, nw, nb) = (&p[4 * d], &p[4 * d + 1], &p[4 * d + 2], &p[4 * d + 3]);
            h = h
                .conv2d(cw, Some(cb), [1, 1], [pad, pad], [1, 1], 1)
                .group_norm(self.width, Some(nw), Some(nb), 1e-5, true)
                .relu()
                .avg_pool2d([2, 2], [2, 2], [0, 0], false, true, None::<i64>);
        }
        let n = p.len();
        h.flatten(1, -1).linear(&p[n - 2], Some(&p[n - 1]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use distillery_api::nn;
    use tch::Device;

    /// The functional forward equals the api's ConvNet on the same parameters, for 1- and
    /// 3-channel inputs and two depths, and the layout's parameter count is the network's.
    #[test]
    fn functional_forward_equals_the_api_convnet() {
        let _rng = crate::test_lock();
        for (in_shape, depth, width) in [([1i64, 28, 28], 3i64, 16i64), ([3, 32, 32], 2, 8)] {
            tch::manual_seed(5);
            let spec = ModelSpec {
                arch: Arch::Convnet,
                width,
                depth,
            };
            let vs = VarStore::new(Device::Cpu);
            let net = nn::build(&vs.root(), &spec, in_shape, 10);
            // Non-trivial norm parameters (they start at 1 / 0).
            tch::no_grad(|| {
                for (name, mut t) in vs.variables() {
                    if name.starts_with("norm") {
                        t.copy_(&(Tensor::rand_like(&t) + 0.5));
                    }
                }
            });
            let layout = ParamLayout::convnet(&spec, in_shape, 10).unwrap();
            let n_vs: i64 = vs
                .trainable_variables()
                .iter()
                .map(|t| t.numel() as i64)
                .sum();
            assert_eq!(layout.num_params, n_vs);
            assert_eq!(layout.entries.len(), vs.trainable_variables().len());
            let flat = layout.flatten(&layout.tensors_of(&vs).unwrap());
            assert_eq!(flat.size(), vec![n_vs]);
            let x = Tensor::randn(
                [5, in_shape[0], in_shape[1], in_shape[2]],
                (Kind::Float, Device::Cpu),
            );
            let a = tch::no_grad(|| net.forward_t(&x, true));
            let b = tch::no_grad(|| layout.forward(&flat, &x));
            assert_eq!(a.size(), vec![5, 10]);
            let diff = (&a - &b).abs().max().double_value(&[]);
            assert!(diff < 1e-5, "{in_shape:?}: max |api - functional| = {diff}");
            // A different parameter vector gives a different output (the layout is used).
            let c = tch::no_grad(|| layout.forward(&(&flat * 1.1), &x));
            assert!((&a - &c).abs().max().double_value(&[]) > 1e-3);
        }
    }

    #[test]
    fn other_architectures_are_declined_by_name() {
        let spec = ModelSpec {
            arch: Arch::ConvnetBn,
            width: 8,
            depth: 2,
        };
        let e = ParamLayout::convnet(&spec, [1, 28, 28], 10).unwrap_err();
        assert!(matches!(e, MethodError::Unsupported(_)));
        assert!(e.to_string().contains("batch norm"), "{e}");
    }

    /// Gradients reach the images and the flat parameters through a simulated SGD step.
    #[test]
    fn gradients_flow_through_an_unrolled_step() {
        let _rng = crate::test_lock();
        tch::manual_seed(1);
        let spec = ModelSpec {
            arch: Arch::Convnet,
            width: 4,
            depth: 2,
        };
        let layout = ParamLayout::convnet(&spec, [1, 12, 12], 3).unwrap();
        let theta = (Tensor::randn([layout.num_params], (Kind::Float, Device::Cpu)) * 0.1)
            .set_requires_grad(true);
        let x = Tensor::randn([6, 1, 12, 12], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let y = Tensor::from_slice(&[0i64, 1, 2, 0, 1, 2]);
        let lr = Tensor::from(0.1f32).set_requires_grad(true);
        let ce = layout.forward(&theta, &x).cross_entropy_for_logits(&y);
        let g = Tensor::run_backward(&[&ce], &[&theta], true, true)
            .pop()
            .unwrap();
        let theta1 = &theta - &lr * g;
        let loss = theta1.square().sum(Kind::Float);
        let grads = Tensor::run_backward(&[&loss], &[&x, &lr], false, false);
        assert!(grads[0].abs().sum(Kind::Float).double_value(&[]) > 0.0);
        assert!(grads[1].abs().double_value(&[]) > 0.0);
    }
}
