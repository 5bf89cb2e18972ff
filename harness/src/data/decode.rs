//! Decoding image files into one split's CHW uint8 buffer: in parallel (rayon), into one
//! preallocated buffer, with a progress bar, and with the preprocessing of the protocol's
//! `[data]` table ([`Preprocess`]).
//!
//! **Memory bound.** A split of `n` images at `c x s x s` takes exactly `n * c * s * s` bytes
//! (the output buffer, allocated once), plus, per decoding thread (rayon's pool: one per CPU),
//! one encoded file and its decoded full-size image (`3 * width * height` bytes, plus the
//! resized copy) at a time. Nothing else grows with `n` except the per-file sizes (8 bytes
//! each). The encoded files are never all in memory.
//!
//! **Resampling.** `image::imageops::resize` with `FilterType::Triangle`: a bilinear kernel
//! whose support is widened by the scale factor when downscaling (antialiased), the same
//! construction as PIL's `Image.resize(..., BILINEAR)` that torchvision's `Resize` uses on PIL
//! images (`antialias=True`). It differs from PIL in arithmetic only: `image` accumulates in
//! `f32` and rounds, PIL in fixed point (22 fractional bits); pixels may differ by one level.
//! JPEG decoding is `zune-jpeg` (through `image`), PIL uses libjpeg-turbo: their IDCT and
//! chroma upsampling round differently, again by a level or two on some pixels.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use super::{disp, read_file, DataError, Result};

/// How the images of one split are brought to one size (`s x s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Preprocess {
    /// Stretch to `s x s` (aspect not kept; no crop, no padding), bilinear; not resampled when
    /// already `s x s`. torchvision: `Resize((s, s))`. The train split, and every split when
    /// the protocol's `[data]` table has no `eval_*` key.
    Stretch(u32),
    /// The evaluation transform of the large-image protocols, torchvision's
    /// `Resize(resize)` then `CenterCrop(crop)`: the shorter side scaled to `resize` (the
    /// longer to `floor(resize * long / short)`; not resampled when the shorter side already
    /// is `resize`; `None`: no resize), then the centre `crop x crop` (offsets
    /// `round((side - crop) / 2)`, ties to even as Python's `round`). An image smaller than
    /// `crop` after the resize is an error naming the file (torchvision would pad it with
    /// zeros).
    ResizeCrop {
        /// Target of the shorter side, pixels.
        resize: Option<u32>,
        /// Side of the centre crop, pixels.
        crop: u32,
    },
}

impl Preprocess {
    /// The side of the square images it produces.
    pub fn side(self) -> u32 {
        match self {
            Preprocess::Stretch(s) => s,
            Preprocess::ResizeCrop { crop, .. } => crop,
        }
    }

    /// In words, for `dataset.source.resize` and messages.
    pub fn describe(self) -> String {
        match self {
            Preprocess::Stretch(s) => format!(
                "stretched to {s}x{s} (no crop, no padding; bilinear, image::imageops Triangle; not resampled when already {s}x{s})"
            ),
            Preprocess::ResizeCrop {
                resize: Some(r),
                crop,
            } => format!(
                "shorter side resized to {r} (bilinear, image::imageops Triangle, aspect kept), then centre-cropped to {crop}x{crop} (torchvision Resize({r}) + CenterCrop({crop}))"
            ),
            Preprocess::ResizeCrop { resize: None, crop } => {
                format!("centre-cropped to {crop}x{crop}, no resize (torchvision CenterCrop({crop}))")
            }
        }
    }
}

/// An image buffer of pixel type `P`.
type Buffer<P> = image::ImageBuffer<P, Vec<<P as image::Pixel>::Subpixel>>;

/// One split's pixels (`n * c * s * s` bytes, NCHW) and its images' sizes before
/// preprocessing, `(width, height)`.
pub type Decoded = (Vec<u8>, Vec<(u32, u32)>);

/// Python's `round(x / 2)` for a non-negative integer `d`: halves go to the even neighbour.
fn half_round_even(d: u32) -> u32 {
    let q = d / 2;
    if d.is_multiple_of(2) || q.is_multiple_of(2) {
        q
    } else {
        q + 1
    }
}

/// torchvision's `Resize(size)` output for an image of `(w, h)`: the shorter side becomes
/// `size`, the longer `floor(size * long / short)`.
pub fn shorter_side_size(w: u32, h: u32, size: u32) -> (u32, u32) {
    let scale = |long: u32, short: u32| ((size as u64 * long as u64) / short as u64) as u32;
    if w <= h {
        (size, scale(h, w))
    } else {
        (scale(w, h), size)
    }
}

/// Applies `pre` to a decoded image buffer (any pixel type). Returns the `s x s` result, or
/// what went wrong (an image smaller than the crop).
fn apply<P: image::Pixel + 'static>(
    img: Buffer<P>,
    pre: Preprocess,
) -> std::result::Result<Buffer<P>, (String, String)> {
    match pre {
        Preprocess::Stretch(s) => Ok(if img.dimensions() == (s, s) {
            img
        } else {
            image::imageops::resize(&img, s, s, FilterType::Triangle)
        }),
        Preprocess::ResizeCrop { resize, crop } => {
            let (w, h) = img.dimensions();
            let img = match resize {
                Some(r) if w.min(h) != r => {
                    let (nw, nh) = shorter_side_size(w, h, r);
                    image::imageops::resize(&img, nw, nh, FilterType::Triangle)
                }
                _ => img,
            };
            let (w, h) = img.dimensions();
            if w < crop || h < crop {
                return Err((
                    format!(
                        "an image of at least {crop}x{crop} for the centre crop{}",
                        resize.map_or(String::new(), |r| format!(" after resizing to {r}"))
                    ),
                    format!("{w}x{h}"),
                ));
            }
            let (left, top) = (half_round_even(w - crop), half_round_even(h - crop));
            Ok(image::imageops::crop_imm(&img, left, top, crop, crop).to_image())
        }
    }
}

/// Decodes one image file's bytes, converts it to `channels` (3: RGB, 1: luma), applies
/// `pre` and writes the CHW result into `out` (`channels * s * s` bytes). Returns the size
/// before preprocessing, `(width, height)`.
pub fn decode_into(
    path: &Path,
    bytes: &[u8],
    channels: usize,
    pre: Preprocess,
    out: &mut [u8],
) -> Result<(u32, u32)> {
    let img = image::load_from_memory(bytes).map_err(|e| DataError::ImageDecode {
        path: disp(path),
        source: e,
    })?;
    let size = (img.width(), img.height());
    let bad = |(expected, found): (String, String)| DataError::invalid(disp(path), expected, found);
    if channels == 3 {
        let rgb = apply(img.to_rgb8(), pre).map_err(bad)?;
        let hw = (rgb.width() * rgb.height()) as usize;
        debug_assert_eq!(out.len(), 3 * hw);
        let (r, rest) = out.split_at_mut(hw);
        let (g, b) = rest.split_at_mut(hw);
        for (i, px) in rgb.as_raw().chunks_exact(3).enumerate() {
            r[i] = px[0];
            g[i] = px[1];
            b[i] = px[2];
        }
    } else {
        let luma = apply(img.to_luma8(), pre).map_err(bad)?;
        out.copy_from_slice(luma.as_raw());
    }
    Ok(size)
}

/// Reads and decodes one file into a new buffer (the importer's ImageFolder sets).
pub fn decode_file(path: &Path, channels: usize, pre: Preprocess) -> Result<(Vec<u8>, (u32, u32))> {
    let bytes = read_file(path, "an image file")?;
    let s = pre.side() as usize;
    let mut out = vec![0u8; channels * s * s];
    let size = decode_into(path, &bytes, channels, pre, &mut out)?;
    Ok((out, size))
}

/// A progress bar on standard error for `n` items, hidden when standard error is not a
/// terminal (indicatif's default) or when there are few items.
pub fn progress(n: usize, what: &str) -> ProgressBar {
    if n < 256 {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(n as u64);
    pb.set_style(
        ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_message(what.to_string());
    pb
}

/// Decodes `files` in parallel into one `n * channels * s * s` buffer (file order), with a
/// progress bar labelled `what`. The error of the first failing file in file order is
/// returned. Also returns every image's size before preprocessing, in file order.
pub fn decode_files(
    files: &[PathBuf],
    channels: usize,
    pre: Preprocess,
    what: &str,
) -> Result<Decoded> {
    let s = pre.side() as usize;
    let len = channels * s * s;
    let mut images = vec![0u8; files.len() * len];
    let pb = progress(files.len(), what);
    let sizes: Vec<Result<(u32, u32)>> = images
        .par_chunks_mut(len.max(1))
        .zip(files.par_iter())
        .map(|(out, path)| {
            let bytes = read_file(path, "an image file")?;
            let r = decode_into(path, &bytes, channels, pre, out);
            pb.inc(1);
            r
        })
        .collect();
    pb.finish_and_clear();
    let sizes = sizes.into_iter().collect::<Result<Vec<_>>>()?;
    Ok((images, sizes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torchvision_sizes_and_offsets() {
        // Resize(256) of a 500x375 ImageNet photo: 341x256 (floor(256 * 500 / 375) = 341).
        assert_eq!(shorter_side_size(500, 375, 256), (341, 256));
        assert_eq!(shorter_side_size(375, 500, 256), (256, 341));
        assert_eq!(shorter_side_size(64, 64, 72), (72, 72));
        // CenterCrop offsets: int(round((side - crop) / 2.0)), Python rounds halves to even.
        let offsets: Vec<u32> = (0..8).map(half_round_even).collect();
        assert_eq!(offsets, vec![0, 0, 1, 2, 2, 2, 3, 4]);
    }

    #[test]
    fn resize_crop_takes_the_centre() {
        // A 6x4 image whose column x has value 10 * x; crop 2 of it (no resize): columns
        // round((6 - 2) / 2) = 2 and 3, rows 1 and 2.
        let img = image::GrayImage::from_fn(6, 4, |x, y| image::Luma([(10 * x + y) as u8]));
        let out = apply(
            img,
            Preprocess::ResizeCrop {
                resize: None,
                crop: 2,
            },
        )
        .unwrap();
        assert_eq!(out.as_raw(), &vec![21, 31, 22, 32]);
        // Shorter side 4 -> 2: 3x2, then crop 2 at column round(0.5) = 0.
        let img = image::GrayImage::from_fn(6, 4, |x, _| image::Luma([(40 * x) as u8]));
        let out = apply(
            img,
            Preprocess::ResizeCrop {
                resize: Some(2),
                crop: 2,
            },
        )
        .unwrap();
        assert_eq!(out.dimensions(), (2, 2));
        let small = image::GrayImage::new(3, 3);
        let e = apply(
            small,
            Preprocess::ResizeCrop {
                resize: None,
                crop: 4,
            },
        )
        .unwrap_err();
        assert_eq!(
            e,
            (
                "an image of at least 4x4 for the centre crop".into(),
                "3x3".into()
            )
        );
    }
}
