//! The training toolkit shared by the harness (which evaluates every method with it) and by
//! plugins (which may train scoring models or experts with it): students, DSA augmentation,
//! the fit loop and evaluation. One implementation, so a method that trains "the protocol's
//! student" trains exactly what the harness evaluates.

pub mod augment;
pub mod fit;
pub mod grouped;
pub mod losses;
pub mod mix;
pub mod models;
pub mod torchvision;

pub use fit::{evaluate, fit, FitOptions, FitReport, Targets, TeacherLoss};
pub use models::{build, BnForward, BnInput, Network};

use tch::{Device, Kind, Tensor};

/// uint8 `[N,C,H,W]` (or float already in [0,1]) -> float32 `(x/255 - mean)/std` on `device`.
pub fn normalize(images: &Tensor, mean: &[f64], std: &[f64], device: Device) -> Tensor {
    let (m, s) = channel_stats(mean, std, device);
    normalize_with(&images.to_device(device), &m, &s)
}

/// `mean` and `std` as float32 `[1, C, 1, 1]` tensors on `device`, for [`normalize_with`]
/// (made once, so that normalising batch after batch copies nothing to the device).
pub fn channel_stats(mean: &[f64], std: &[f64], device: Device) -> (Tensor, Tensor) {
    let c = mean.len() as i64;
    let m = Tensor::from_slice(&mean.iter().map(|&v| v as f32).collect::<Vec<_>>())
        .to_device(device)
        .view([1, c, 1, 1]);
    let s = Tensor::from_slice(&std.iter().map(|&v| v as f32).collect::<Vec<_>>())
        .to_device(device)
        .view([1, c, 1, 1]);
    (m, s)
}

/// [`normalize`] with the statistics of [`channel_stats`], on `images`' device: the same
/// numbers, bit for bit (an elementwise map).
pub fn normalize_with(images: &Tensor, mean: &Tensor, std: &Tensor) -> Tensor {
    let x = if images.kind() == Kind::Uint8 {
        images.to_kind(Kind::Float) / 255.0
    } else {
        images.to_kind(Kind::Float)
    };
    (x - mean) / std
}
