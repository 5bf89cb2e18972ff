//! torchvision-layout state dicts: the pretrained teachers the field ships
//! (`torchvision.models.resnet18(weights=...)`, SRe2L / RDED / rethinkdc checkpoints), read
//! into (and written from) Distillery's [`ResNet18`](super::models::ResNet18).
//!
//! A `.pth` becomes the safetensors file read here with two lines of PyTorch:
//!
//! ```text
//! sd = torch.load("resnet18.pth", map_location="cpu"); sd = sd.get("state_dict", sd)
//! safetensors.torch.save_file({k.removeprefix("module."): v.contiguous() for k, v in sd.items()}, "resnet18.safetensors")
//! ```
//!
//! Names: Distillery's `stem` / `stem_bn` / `layer{i}_{j}.{c1,b1,c2,b2,down,down_bn}` / `fc`
//! are torchvision's `conv1` / `bn1` / `layer{i+1}.{j}.{conv1,bn1,conv2,bn2,downsample.0,
//! downsample.1}` / `fc`; BatchNorm's `weight`, `bias`, `running_mean`, `running_var` keep
//! their names, and torchvision's `num_batches_tracked` (used only when BatchNorm's momentum
//! is `None`, which torchvision's ResNets never set) is ignored.

use crate::spec::{Arch, ModelSpec};
use std::collections::BTreeMap;
use std::path::Path;
use tch::nn::VarStore;
use tch::{Kind, Tensor};

/// torchvision's name of a Distillery ResNet-18 variable (`layer1_0.down_bn.running_var` →
/// `layer2.0.downsample.1.running_var`); `None` for a name outside the ResNet-18 layout.
pub fn torchvision_name(ours: &str) -> Option<String> {
    let (module, leaf) = ours.rsplit_once('.')?;
    let mapped = match module {
        "stem" => "conv1".to_string(),
        "stem_bn" => "bn1".to_string(),
        "fc" => "fc".to_string(),
        _ => {
            let (block, part) = module.split_once('.')?;
            let (stage, index) = block.strip_prefix("layer")?.split_once('_')?;
            let stage: usize = stage.parse().ok()?;
            let index: usize = index.parse().ok()?;
            let part = match part {
                "c1" => "conv1",
                "b1" => "bn1",
                "c2" => "conv2",
                "b2" => "bn2",
                "down" => "downsample.0",
                "down_bn" => "downsample.1",
                _ => return None,
            };
            format!("layer{}.{index}.{part}", stage + 1)
        }
    };
    Some(format!("{mapped}.{leaf}"))
}

/// What [`load_state_dict`] read.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    /// Tensors copied into the network (parameters and BatchNorm buffers).
    pub tensors: usize,
    /// `num_batches_tracked` entries found and ignored.
    pub ignored: usize,
}

fn check_arch(spec: &ModelSpec) -> Result<(), String> {
    match spec.arch {
        Arch::Resnet18 | Arch::Resnet18Imagenet => Ok(()),
        _ => Err(format!(
            "a torchvision state dict can be read into a ResNet-18, not into {}",
            spec.describe()
        )),
    }
}

/// Copies a torchvision-layout ResNet-18 state dict (safetensors at `path`) into `vs`, whose
/// variables were made by [`super::build`] from `spec` (a ResNet-18, either stem). Every
/// variable must be in the file with the same shape (any float dtype; converted to the
/// variable's), and every tensor of the file must be used (`num_batches_tracked` aside).
///
/// # Errors
/// A message naming the file and the first missing, unexpected or mis-shaped tensor (with
/// both shapes), or why the file cannot be read.
pub fn load_state_dict(vs: &mut VarStore, spec: &ModelSpec, path: &Path) -> Result<Loaded, String> {
    check_arch(spec)?;
    let file: BTreeMap<String, Tensor> = Tensor::read_safetensors(path)
        .map_err(|e| format!("{}: cannot read as safetensors: {e}", path.display()))?
        .into_iter()
        .collect();
    let mut used = std::collections::BTreeSet::new();
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let _g = tch::no_grad_guard();
    for (ours, var) in &vars {
        let theirs = torchvision_name(ours)
            .ok_or_else(|| format!("variable {ours} has no torchvision name"))?;
        let t = file.get(&theirs).ok_or_else(|| {
            format!(
                "{}: no tensor '{theirs}' (a torchvision {} state dict has it; is this a {}?)",
                path.display(),
                spec.describe(),
                spec.describe()
            )
        })?;
        if t.size() != var.size() {
            return Err(format!(
                "{}: '{theirs}' has shape {:?}, the protocol's {} needs {:?} (wrong architecture, width or number of classes?)",
                path.display(),
                t.size(),
                spec.describe(),
                var.size()
            ));
        }
        if !matches!(
            t.kind(),
            Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16
        ) {
            return Err(format!(
                "{}: '{theirs}' is {:?}, expected a float tensor",
                path.display(),
                t.kind()
            ));
        }
        var.shallow_clone()
            .copy_(&t.to_kind(var.kind()).to_device(var.device()));
        used.insert(theirs);
    }
    let mut ignored = 0;
    let unexpected: Vec<&String> = file
        .keys()
        .filter(|k| !used.contains(*k))
        .filter(|k| {
            let skip = k.ends_with("num_batches_tracked");
            ignored += usize::from(skip);
            !skip
        })
        .collect();
    if let Some(first) = unexpected.first() {
        return Err(format!(
            "{}: {} tensor(s) that a torchvision {} does not have, e.g. '{first}' (a ResNet-50, or a checkpoint with a 'module.' prefix? see the conversion in the README)",
            path.display(),
            unexpected.len(),
            spec.describe()
        ));
    }
    Ok(Loaded {
        tensors: used.len(),
        ignored,
    })
}

/// Writes the variables of a Distillery ResNet-18 (`vs`, made from `spec`) as a
/// torchvision-layout state dict in safetensors (float32, without `num_batches_tracked`):
/// what [`load_state_dict`] reads and `torchvision.models.resnet18().load_state_dict(...,
/// strict=False)` accepts.
///
/// # Errors
/// A message when `spec` is not a ResNet-18 or the file cannot be written.
pub fn save_state_dict(vs: &VarStore, spec: &ModelSpec, path: &Path) -> Result<(), String> {
    check_arch(spec)?;
    let mut named: Vec<(String, Tensor)> = Vec::new();
    for (ours, t) in vs.variables() {
        let theirs = torchvision_name(&ours)
            .ok_or_else(|| format!("variable {ours} has no torchvision name"))?;
        named.push((
            theirs,
            t.detach().to_device(tch::Device::Cpu).to_kind(Kind::Float),
        ));
    }
    named.sort_by(|a, b| a.0.cmp(&b.0));
    Tensor::write_safetensors(&named, path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn names_map_to_torchvision() {
        for (ours, theirs) in [
            ("stem.weight", "conv1.weight"),
            ("stem_bn.running_mean", "bn1.running_mean"),
            ("layer0_0.c1.weight", "layer1.0.conv1.weight"),
            ("layer3_1.b2.bias", "layer4.1.bn2.bias"),
            ("layer1_0.down.weight", "layer2.0.downsample.0.weight"),
            (
                "layer1_0.down_bn.running_var",
                "layer2.0.downsample.1.running_var",
            ),
            ("fc.bias", "fc.bias"),
        ] {
            assert_eq!(torchvision_name(ours).as_deref(), Some(theirs), "{ours}");
        }
        assert_eq!(torchvision_name("conv0.weight"), None);
        assert_eq!(torchvision_name("layer0_0.c3.weight"), None);
    }

    /// Save then load into a fresh network: the same logits; a network of another width is
    /// refused with both shapes named; a ConvNet is refused.
    #[test]
    fn save_load_round_trip_and_shape_errors() {
        let _rng = crate::rng::test_lock();
        let spec = ModelSpec {
            arch: Arch::Resnet18,
            width: 4,
            depth: 0,
        };
        tch::manual_seed(0);
        let a = VarStore::new(Device::Cpu);
        let net_a = super::super::build(&a.root(), &spec, [3, 8, 8], 5);
        let dir = std::env::temp_dir().join(format!("distillery-tv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("r18.safetensors");
        save_state_dict(&a, &spec, &f).unwrap();
        tch::manual_seed(1);
        let mut b = VarStore::new(Device::Cpu);
        let net_b = super::super::build(&b.root(), &spec, [3, 8, 8], 5);
        let r = load_state_dict(&mut b, &spec, &f).unwrap();
        assert_eq!(r.tensors, a.variables().len());
        let x = Tensor::randn([2, 3, 8, 8], (Kind::Float, Device::Cpu));
        assert!(net_a
            .forward_t(&x, false)
            .equal(&net_b.forward_t(&x, false)));
        let wide = ModelSpec {
            width: 8,
            ..spec.clone()
        };
        let mut c = VarStore::new(Device::Cpu);
        let _ = super::super::build(&c.root(), &wide, [3, 8, 8], 5);
        let e = load_state_dict(&mut c, &wide, &f).unwrap_err();
        assert!(e.contains("has shape [") && e.contains("needs ["), "{e}");
        let conv = ModelSpec::convnet();
        assert!(load_state_dict(&mut c, &conv, &f)
            .unwrap_err()
            .contains("not into ConvNet-3"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
