//! Students and scoring networks. Initialisation follows PyTorch's defaults (what the
//! reference evaluation code gets): conv/linear weights and biases U(-1/sqrt(fan_in),
//! 1/sqrt(fan_in)) (kaiming_uniform with a = sqrt(5)); ResNet convs kaiming_normal
//! (fan_out, ReLU) as in torchvision; norm layers weight 1, bias 0.

use crate::spec::{Arch, ModelSpec};
use tch::nn::{self, ConvConfig, Init, ModuleT};
use tch::Tensor;

/// A classifier whose penultimate features are also available (herding, k-center, DM...).
pub trait Network: ModuleT {
    /// Features before the final linear layer, flattened `[N, D]`.
    fn features_t(&self, xs: &Tensor, train: bool) -> Tensor;
    /// The final linear layer applied to features.
    fn classify(&self, features: &Tensor) -> Tensor;
    /// `D`, the width of [`Network::features_t`]'s output.
    fn feature_dim(&self) -> i64;
    /// The logits together with, for every BatchNorm layer in forward order, the tensor it
    /// normalises and its running statistics: what SRe2L's / DeepInversion's BN-matching loss
    /// compares. `None` for networks without BatchNorm, or that do not expose them.
    fn forward_with_bn_inputs(&self, _xs: &Tensor, _train: bool) -> Option<BnForward> {
        None
    }
}

/// One BatchNorm layer seen during a forward pass ([`Network::forward_with_bn_inputs`]).
#[derive(Debug)]
pub struct BnInput {
    /// The layer's input `[N, C, H, W]` (part of the graph: gradients flow through it).
    pub input: Tensor,
    /// The layer's running mean `[C]`.
    pub running_mean: Tensor,
    /// The layer's running variance `[C]` (biased update, as PyTorch keeps it).
    pub running_var: Tensor,
}

/// Logits and the inputs of every BatchNorm layer of one forward pass.
#[derive(Debug)]
pub struct BnForward {
    /// Logits `[N, K]`.
    pub logits: Tensor,
    /// Every BatchNorm layer in forward order.
    pub layers: Vec<BnInput>,
}

fn torch_default(fan_in: i64) -> Init {
    let b = 1.0 / (fan_in as f64).sqrt();
    Init::Uniform { lo: -b, up: b }
}

#[allow(clippy::too_many_arguments)] // mirrors nn.Conv2d's signature
fn conv(
    vs: nn::Path,
    cin: i64,
    cout: i64,
    k: i64,
    stride: i64,
    padding: i64,
    bias: bool,
    kaiming_out: bool,
) -> nn::Conv2D {
    let fan_in = cin * k * k;
    let ws_init = if kaiming_out {
        Init::Kaiming {
            dist: nn::init::NormalOrUniform::Normal,
            fan: nn::init::FanInOut::FanOut,
            non_linearity: nn::init::NonLinearity::ReLU,
        }
    } else {
        torch_default(fan_in)
    };
    let cfg = ConvConfig {
        stride,
        padding,
        bias,
        ws_init,
        bs_init: torch_default(fan_in),
        ..Default::default()
    };
    nn::conv2d(vs, cin, cout, k, cfg)
}

fn linear(vs: nn::Path, din: i64, dout: i64) -> nn::Linear {
    let cfg = nn::LinearConfig {
        ws_init: torch_default(din),
        bs_init: Some(torch_default(din)),
        bias: true,
    };
    nn::linear(vs, din, dout, cfg)
}

enum Norm {
    Group(nn::GroupNorm),
    Batch(nn::BatchNorm),
}

impl Norm {
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        match self {
            Norm::Group(g) => x.apply(g),
            Norm::Batch(b) => x.apply_t(b, train),
        }
    }
}

/// ConvNet-D of the DC/DSA/DM/MTT evaluation code.
pub struct ConvNet {
    convs: Vec<nn::Conv2D>,
    norms: Vec<Norm>,
    fc: nn::Linear,
    feat_dim: i64,
}

impl ConvNet {
    /// ConvNet-D of `spec` (width, depth) under `vs` for `in_shape` `[C, H, W]` images and
    /// `classes` outputs, initialised from libtorch's generator (PyTorch's default init).
    pub fn new(vs: &nn::Path, spec: &ModelSpec, in_shape: [i64; 3], classes: i64) -> Self {
        let [c, mut h, mut w] = in_shape;
        let width = spec.width;
        let (mut convs, mut norms) = (Vec::new(), Vec::new());
        let mut cin = c;
        for d in 0..spec.depth {
            // DC code: padding 3 on the first conv for single-channel input (28x28 -> 32x32).
            let pad = if c == 1 && d == 0 { 3 } else { 1 };
            convs.push(conv(
                vs / format!("conv{d}"),
                cin,
                width,
                3,
                1,
                pad,
                true,
                false,
            ));
            h += 2 * pad - 2;
            w += 2 * pad - 2;
            norms.push(match spec.arch {
                Arch::ConvnetBn => Norm::Batch(nn::batch_norm2d(
                    vs / format!("norm{d}"),
                    width,
                    Default::default(),
                )),
                _ => Norm::Group(nn::group_norm(
                    vs / format!("norm{d}"),
                    width,
                    width,
                    Default::default(),
                )),
            });
            h /= 2;
            w /= 2;
            cin = width;
        }
        let feat_dim = width * h * w;
        let fc = linear(vs / "fc", feat_dim, classes);
        Self {
            convs,
            norms,
            fc,
            feat_dim,
        }
    }
}

impl std::fmt::Debug for ConvNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ConvNet(depth {}, feat {})",
            self.convs.len(),
            self.feat_dim
        )
    }
}

impl ModuleT for ConvNet {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.classify(&self.features_t(xs, train))
    }
}

impl Network for ConvNet {
    fn features_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = xs.shallow_clone();
        for (c, n) in self.convs.iter().zip(&self.norms) {
            x = n.forward(&x.apply(c), train).relu_().avg_pool2d(
                [2, 2],
                [2, 2],
                [0, 0],
                false,
                true,
                None::<i64>,
            );
        }
        x.flatten(1, -1)
    }
    fn classify(&self, features: &Tensor) -> Tensor {
        features.apply(&self.fc)
    }
    fn feature_dim(&self) -> i64 {
        self.feat_dim
    }
    fn forward_with_bn_inputs(&self, xs: &Tensor, train: bool) -> Option<BnForward> {
        let mut layers = Vec::new();
        let mut x = xs.shallow_clone();
        for (c, n) in self.convs.iter().zip(&self.norms) {
            let pre = x.apply(c);
            let Norm::Batch(b) = n else { return None };
            layers.push(BnInput {
                input: pre.shallow_clone(),
                running_mean: b.running_mean.shallow_clone(),
                running_var: b.running_var.shallow_clone(),
            });
            x = n.forward(&pre, train).relu_().avg_pool2d(
                [2, 2],
                [2, 2],
                [0, 0],
                false,
                true,
                None::<i64>,
            );
        }
        Some(BnForward {
            logits: self.classify(&x.flatten(1, -1)),
            layers,
        })
    }
}

struct BasicBlock {
    c1: nn::Conv2D,
    b1: nn::BatchNorm,
    c2: nn::Conv2D,
    b2: nn::BatchNorm,
    down: Option<(nn::Conv2D, nn::BatchNorm)>,
}

impl BasicBlock {
    fn new(vs: nn::Path, cin: i64, cout: i64, stride: i64) -> Self {
        let down = (stride != 1 || cin != cout).then(|| {
            (
                conv(&vs / "down", cin, cout, 1, stride, 0, false, true),
                nn::batch_norm2d(&vs / "down_bn", cout, Default::default()),
            )
        });
        Self {
            c1: conv(&vs / "c1", cin, cout, 3, stride, 1, false, true),
            b1: nn::batch_norm2d(&vs / "b1", cout, Default::default()),
            c2: conv(&vs / "c2", cout, cout, 3, 1, 1, false, true),
            b2: nn::batch_norm2d(&vs / "b2", cout, Default::default()),
            down,
        }
    }
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let y = x
            .apply(&self.c1)
            .apply_t(&self.b1, train)
            .relu()
            .apply(&self.c2)
            .apply_t(&self.b2, train);
        let s = match &self.down {
            Some((c, b)) => x.apply(c).apply_t(b, train),
            None => x.shallow_clone(),
        };
        (y + s).relu()
    }
}

/// ResNet-18 (He et al. 2016) with a CIFAR (3x3, stride 1, no max-pool) or ImageNet stem, in
/// torchvision's layout (`torchvision.models.resnet18`; with the CIFAR stem, the
/// `conv1 = Conv2d(3, 64, 3, 1, 1)`, `maxpool = Identity()` variant SRe2L and RDED use for
/// small images). [`super::torchvision`] maps its variables to torchvision's names.
pub struct ResNet18 {
    stem: nn::Conv2D,
    stem_bn: nn::BatchNorm,
    imagenet_stem: bool,
    blocks: Vec<BasicBlock>,
    fc: nn::Linear,
    feat_dim: i64,
}

impl ResNet18 {
    /// ResNet-18 (He et al., CVPR 2016) with BatchNorm under `vs`: the ImageNet stem (7x7
    /// stride-2 conv and max-pool) when `imagenet_stem`, else the CIFAR stem (3x3 stride-1);
    /// `in_channels` input channels, `classes` outputs, `width` channels in the stem and the
    /// first stage (64 in torchvision; 2x, 4x, 8x in the later stages).
    pub fn new(
        vs: &nn::Path,
        imagenet_stem: bool,
        in_channels: i64,
        classes: i64,
        width: i64,
    ) -> Self {
        let stem = if imagenet_stem {
            conv(vs / "stem", in_channels, width, 7, 2, 3, false, true)
        } else {
            conv(vs / "stem", in_channels, width, 3, 1, 1, false, true)
        };
        let stem_bn = nn::batch_norm2d(vs / "stem_bn", width, Default::default());
        let mut blocks = Vec::new();
        let mut cin = width;
        for (i, (cout, stride)) in [(width, 1), (2 * width, 2), (4 * width, 2), (8 * width, 2)]
            .into_iter()
            .enumerate()
        {
            blocks.push(BasicBlock::new(
                vs / format!("layer{i}_0"),
                cin,
                cout,
                stride,
            ));
            blocks.push(BasicBlock::new(vs / format!("layer{i}_1"), cout, cout, 1));
            cin = cout;
        }
        let fc = linear(vs / "fc", 8 * width, classes);
        Self {
            stem,
            stem_bn,
            imagenet_stem,
            blocks,
            fc,
            feat_dim: 8 * width,
        }
    }
}

impl std::fmt::Debug for ResNet18 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ResNet18(imagenet_stem: {})", self.imagenet_stem)
    }
}

impl ModuleT for ResNet18 {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.classify(&self.features_t(xs, train))
    }
}

impl Network for ResNet18 {
    fn features_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = xs.apply(&self.stem).apply_t(&self.stem_bn, train).relu();
        if self.imagenet_stem {
            x = x.max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false);
        }
        for b in &self.blocks {
            x = b.forward(&x, train);
        }
        x.adaptive_avg_pool2d([1, 1]).flatten(1, -1)
    }
    fn classify(&self, features: &Tensor) -> Tensor {
        features.apply(&self.fc)
    }
    fn feature_dim(&self) -> i64 {
        self.feat_dim
    }
}

/// The smallest input `(H, W)` in pixels that the network [`build`] makes from `spec` for
/// `in_channels`-channel images can run a forward pass on; any smaller side makes libtorch
/// fail inside the forward pass (a panic, not an error).
///
/// * ConvNet-D ([`Arch::Convnet`], [`Arch::ConvnetBn`]): each block is a 3x3 conv (stride 1,
///   padding 1; padding 3 on the first block for single-channel input, as the DC code does)
///   and a 2x2 average pool (stride 2, floor), which needs at least 2 pixels. Working back from
///   a 1-pixel output: `need = 2 * need - (2 * padding - 2)` per block, at least 1, e.g.
///   ConvNet-3: 8x8 for RGB, 4x4 for grayscale (28x28 MNIST and 32x32 CIFAR are far above).
/// * ResNet-18, either stem: 1x1 (every stride-2 conv and the max-pool keep at least one
///   pixel, the head is an adaptive average pool).
///
/// Both sides obey the same rule, so the result is square. Saturates at `i64::MAX` for
/// absurd depths.
pub fn min_input_size(spec: &ModelSpec, in_channels: i64) -> (i64, i64) {
    let side = match spec.arch {
        Arch::Convnet | Arch::ConvnetBn => {
            let mut need: i64 = 1;
            for d in (0..spec.depth).rev() {
                let pad = if in_channels == 1 && d == 0 { 3 } else { 1 };
                need = need.saturating_mul(2).saturating_sub(2 * pad - 2).max(1);
            }
            need
        }
        Arch::Resnet18 | Arch::Resnet18Imagenet => 1,
    };
    (side, side)
}

/// Builds a network for inputs of shape `[C, H, W]` and `classes` outputs.
pub fn build(
    vs: &nn::Path,
    spec: &ModelSpec,
    in_shape: [i64; 3],
    classes: i64,
) -> Box<dyn Network> {
    match spec.arch {
        Arch::Convnet | Arch::ConvnetBn => Box::new(ConvNet::new(vs, spec, in_shape, classes)),
        Arch::Resnet18 => Box::new(ResNet18::new(vs, false, in_shape[0], classes, spec.width)),
        Arch::Resnet18Imagenet => {
            Box::new(ResNet18::new(vs, true, in_shape[0], classes, spec.width))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn convnet_shapes_and_parameter_count_match_the_reference() {
        let _rng = crate::rng::test_lock();
        let vs = nn::VarStore::new(Device::Cpu);
        let net = build(&vs.root(), &ModelSpec::convnet(), [1, 28, 28], 10);
        let x = Tensor::zeros([2, 1, 28, 28], (Kind::Float, Device::Cpu));
        assert_eq!(net.forward_t(&x, false).size(), vec![2, 10]);
        assert_eq!(net.feature_dim(), 2048);
        // PyTorch ConvNet(channel=1, num_classes=10, 128, 3, 'relu', 'instancenorm',
        // 'avgpooling', (28, 28)): sum(p.numel()) = 1280 + 256 + 147584 + 256 + 147584 + 256 + 20490.
        let n: i64 = vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as i64)
            .sum();
        assert_eq!(n, 317_706);
    }

    /// The BN-input forward gives the same logits as the plain forward, one entry per BN layer
    /// with the pre-norm activation and the layer's running statistics; none without BN.
    #[test]
    fn convnet_bn_exposes_the_inputs_of_its_batch_norms() {
        let _rng = crate::rng::test_lock();
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let spec = ModelSpec {
            arch: Arch::ConvnetBn,
            width: 4,
            depth: 2,
        };
        let net = build(&vs.root(), &spec, [3, 8, 8], 3);
        let x = Tensor::randn([5, 3, 8, 8], (Kind::Float, Device::Cpu));
        let f = net.forward_with_bn_inputs(&x, false).expect("a BN network");
        assert!(f
            .logits
            .allclose(&net.forward_t(&x, false), 1e-6, 1e-6, false));
        assert_eq!(f.layers.len(), 2);
        assert_eq!(f.layers[0].input.size(), vec![5, 4, 8, 8]);
        assert_eq!(f.layers[1].input.size(), vec![5, 4, 4, 4]);
        let v = vs.variables();
        assert!(f.layers[1].running_var.equal(&v["norm1.running_var"]));
        assert!(f.layers[0].running_mean.equal(&v["norm0.running_mean"]));
        let vs = nn::VarStore::new(Device::Cpu);
        let gn = build(&vs.root(), &ModelSpec::convnet(), [3, 8, 8], 3);
        assert!(gn.forward_with_bn_inputs(&x, false).is_none());
    }

    /// `min_input_size` is what the networks need: a forward pass at the minimum runs and
    /// gives `[N, classes]`, one pixel less panics inside libtorch.
    #[test]
    fn min_input_size_is_what_a_forward_pass_needs() {
        let _rng = crate::rng::test_lock();
        let specs = [
            (ModelSpec::convnet(), 3, 8),
            (ModelSpec::convnet(), 1, 4),
            (
                ModelSpec {
                    arch: Arch::ConvnetBn,
                    width: 4,
                    depth: 2,
                },
                3,
                4,
            ),
            (
                ModelSpec {
                    arch: Arch::Convnet,
                    width: 4,
                    depth: 5,
                },
                1,
                28,
            ),
            (
                ModelSpec {
                    arch: Arch::Convnet,
                    width: 4,
                    depth: 4,
                },
                3,
                16,
            ),
            (
                ModelSpec {
                    arch: Arch::Resnet18,
                    width: 4,
                    depth: 0,
                },
                3,
                1,
            ),
            (
                ModelSpec {
                    arch: Arch::Resnet18Imagenet,
                    width: 4,
                    depth: 0,
                },
                1,
                1,
            ),
        ];
        let forward = |spec: &ModelSpec, c: i64, h: i64, w: i64| {
            let spec = spec.clone();
            std::panic::catch_unwind(move || {
                let vs = nn::VarStore::new(Device::Cpu);
                let net = build(&vs.root(), &spec, [c, h, w], 3);
                let x = Tensor::zeros([2, c, h, w], (Kind::Float, Device::Cpu));
                net.forward_t(&x, false).size()
            })
        };
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {})); // the expected panics below, not printed
        for (spec, c, side) in &specs {
            assert_eq!(min_input_size(spec, *c), (*side, *side), "{spec:?} c={c}");
            let ok = forward(spec, *c, *side, *side);
            assert_eq!(ok.ok(), Some(vec![2, 3]), "{spec:?} c={c} at {side}x{side}");
            // One pixel less in either side fails.
            assert!(
                forward(spec, *c, side - 1, *side).is_err(),
                "{spec:?} c={c} h-1"
            );
            assert!(
                forward(spec, *c, *side, side - 1).is_err(),
                "{spec:?} c={c} w-1"
            );
            // A non-square input at the minimum in one side runs.
            assert!(forward(spec, *c, *side, side + 3).is_ok(), "{spec:?} c={c}");
        }
        std::panic::set_hook(hook);
    }

    #[test]
    fn convnet_cifar_and_resnets_build() {
        let _rng = crate::rng::test_lock();
        let vs = nn::VarStore::new(Device::Cpu);
        let net = build(&vs.root(), &ModelSpec::convnet(), [3, 32, 32], 10);
        assert_eq!(net.feature_dim(), 2048);
        let vs = nn::VarStore::new(Device::Cpu);
        let spec = ModelSpec {
            arch: Arch::Resnet18,
            width: 64,
            depth: 0,
        };
        let net = build(&vs.root(), &spec, [3, 32, 32], 10);
        let x = Tensor::zeros([2, 3, 32, 32], (Kind::Float, Device::Cpu));
        assert_eq!(net.forward_t(&x, false).size(), vec![2, 10]);
        let n: i64 = vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as i64)
            .sum();
        assert_eq!(n, 11_173_962); // torchvision-style ResNet-18, CIFAR stem, 10 classes
    }
}
