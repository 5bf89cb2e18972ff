//! The one check that needs the test split: no image of an imported set may be a verbatim copy
//! of a test image (unless the same image is also in the train or validation split). Runs once,
//! when the run is planned, in the harness; the cell's importer never sees the test split.

use super::error::{ImportError, ImportErrorKind};
use super::view::DatasetView;
use distillery_api::Split;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::Path;
use tch::{Kind, Tensor};

/// Refuses a set holding a verbatim copy of a test image that is not also a train image.
/// Float images are compared after quantising to 0..=255 (only when they are quantised pixels:
/// every value within 0.25/255 of a step; otherwise they cannot be copies). Does nothing when
/// `view` has no test split.
///
/// # Errors
/// [`ImportErrorKind::TestImage`] naming the first copied image.
pub(crate) fn check(
    file: &Path,
    images: &Tensor,
    labels: &[i64],
    view: &DatasetView,
) -> Result<(), ImportError> {
    let Some(test) = view.test else {
        return Ok(());
    };
    let Some(mine) = image_bytes_u8(images) else {
        return Ok(());
    };
    let d: usize = view.shape.iter().product::<i64>() as usize;
    let flat =
        |s: &Split| Vec::<u8>::try_from(&s.images.contiguous().view([-1])).unwrap_or_default();
    let test_px = flat(test);
    let test_idx = hash_images(&test_px, d);
    let mut train_px = flat(view.train);
    if let Some(v) = view.val {
        train_px.extend(flat(v));
    }
    let train_idx = hash_images(&train_px, d);
    for (i, img) in mine.chunks_exact(d).enumerate() {
        if let Some(j) = find_image(&test_idx, &test_px, d, img) {
            if find_image(&train_idx, &train_px, d, img).is_none() {
                let kind = ImportErrorKind::TestImage {
                    image: i,
                    label: labels.get(i).copied().unwrap_or(-1),
                    test_image: j,
                    dataset: view.name.to_string(),
                };
                return Err(ImportError::new(file, kind));
            }
        }
    }
    Ok(())
}

/// The images as uint8 bytes, or `None` for float images that are not quantised pixels.
fn image_bytes_u8(images: &Tensor) -> Option<Vec<u8>> {
    let x = if images.kind() == Kind::Uint8 {
        images.shallow_clone()
    } else {
        let s = images.to_kind(Kind::Double) * 255.0;
        let q = s.round();
        let off = (&s - &q).abs().max().double_value(&[]);
        let lo = q.min().double_value(&[]);
        let hi = q.max().double_value(&[]);
        if off > 0.25 || lo < 0.0 || hi > 255.0 {
            return None; // not quantised pixels: cannot be a verbatim copy
        }
        q.to_kind(Kind::Uint8)
    };
    Vec::<u8>::try_from(&x.contiguous().view([-1])).ok()
}

/// Hash of each `d`-byte image -> the indices of the images with that hash.
fn hash_images(bytes: &[u8], d: usize) -> HashMap<u64, Vec<usize>> {
    let mut m: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, img) in bytes.chunks_exact(d).enumerate() {
        let mut h = DefaultHasher::new();
        img.hash(&mut h);
        m.entry(h.finish()).or_default().push(i);
    }
    m
}

/// The index of an image in `all` equal to `img`, if any.
fn find_image(index: &HashMap<u64, Vec<usize>>, all: &[u8], d: usize, img: &[u8]) -> Option<usize> {
    let mut h = DefaultHasher::new();
    img.hash(&mut h);
    index
        .get(&h.finish())?
        .iter()
        .copied()
        .find(|&j| &all[j * d..(j + 1) * d] == img)
}
