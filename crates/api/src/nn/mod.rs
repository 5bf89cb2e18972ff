//! The training toolkit shared by the harness (which evaluates every method with it) and by
//! plugins (which may train scoring models or experts with it): students, DSA augmentation,
//! the fit loop and evaluation. One implementation, so a method that trains "the protocol's
//! student" trains exactly what the harness evaluates.

pub mod augment;
pub mod fit;
pub mod losses;
pub mod mix;
pub mod models;
pub mod torchvision;

pub use fit::{evaluate, fit, FitOptions, FitReport, Targets, TeacherLoss};
pub use models::{build, BnForward, BnInput, Network};

use tch::{Device, Kind, Tensor};

/// uint8 `[N,C,H,W]` (or float already in [0,1]) -> float32 `(x/255 - mean)/std` on `device`.
pub fn normalize(images: &Tensor, mean: &[f64], std: &[f64], device: Device) -> Tensor {
    let x = images.to_device(device);
    let x = if x.kind() == Kind::Uint8 {
        x.to_kind(Kind::Float) / 255.0
    } else {
        x.to_kind(Kind::Float)
    };
    let c = x.size()[1];
    let m = Tensor::from_slice(&mean.iter().map(|&v| v as f32).collect::<Vec<_>>())
        .to_device(device)
        .view([1, c, 1, 1]);
    let s = Tensor::from_slice(&std.iter().map(|&v| v as f32).collect::<Vec<_>>())
        .to_device(device)
        .view([1, c, 1, 1]);
    (x - m) / s
}
