//! [`Split`]: one split of a dataset as tensors. A leaf module (no imports from this crate).

use tch::{Device, Kind, Tensor};

/// A split of the dataset: images `[N, C, H, W]` (uint8, pixel values 0–255) and labels `[N]`
/// (int64 class indices in `0..K`), on CPU as the harness passes them.
#[derive(Debug)]
pub struct Split {
    /// uint8 `[N, C, H, W]`.
    pub images: Tensor,
    /// int64 `[N]`, class indices.
    pub labels: Tensor,
}

impl Split {
    /// Number of images `N` (the first dimension of `labels`).
    pub fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }
    /// True when the split holds no image.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Labels as a Rust vector (length `N`).
    ///
    /// # Panics
    /// If `labels` cannot be converted to int64 `[N]` (the harness always passes int64 `[N]`).
    pub fn labels_vec(&self) -> Vec<i64> {
        Vec::<i64>::try_from(&self.labels.to_kind(Kind::Int64).to_device(Device::Cpu))
            .expect("labels tensor is int64 [N]")
    }
    /// Indices of each class, in ascending order: `num_classes` lists; labels outside
    /// `0..num_classes` are ignored.
    pub fn indices_by_class(&self, num_classes: usize) -> Vec<Vec<usize>> {
        let mut by = vec![Vec::new(); num_classes];
        for (i, l) in self.labels_vec().into_iter().enumerate() {
            if (l as usize) < num_classes {
                by[l as usize].push(i);
            }
        }
        by
    }
}
