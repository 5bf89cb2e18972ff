//! The "combine" step: `factor × factor` real images, each downsampled to one tile, laid out
//! in a grid that fills one image of the dataset's resolution.
//!
//! Tile `t` (row-major: row `t / factor`, column `t % factor`) holds image `t`. Tile edges
//! are at `floor(i·H/factor)` (rows) and `floor(j·W/factor)` (columns), so tiles cover the
//! image exactly even when the size is not a multiple of the factor. Each image is
//! downsampled to its tile by area averaging (`adaptive_avg_pool2d`; for an exact multiple
//! this is the mean of each `factor × factor` block), then rounded to the nearest integer
//! (halves to even) when the input is uint8.

use tch::{Kind, Tensor};

/// Tile boundaries along one axis of length `len` split into `factor` parts.
pub fn edges(len: i64, factor: i64) -> Vec<i64> {
    (0..=factor).map(|i| i * len / factor).collect()
}

/// Combines `images` (`[factor², C, H, W]`, uint8 or float) into one image `[C, H, W]` of the
/// same kind. `factor = 1` returns the image unchanged.
pub fn combine(images: &Tensor, factor: i64) -> Tensor {
    let s = images.size();
    assert_eq!(s.len(), 4, "images must be [N, C, H, W]");
    assert_eq!(
        s[0],
        factor * factor,
        "combining needs factor² = {} images, got {}",
        factor * factor,
        s[0]
    );
    let (c, h, w) = (s[1], s[2], s[3]);
    let kind = images.kind();
    if factor == 1 {
        return images.get(0).copy();
    }
    let x = images.to_kind(Kind::Double);
    let (re, ce) = (edges(h, factor), edges(w, factor));
    let mut rows = Vec::new();
    for r in 0..factor as usize {
        let mut tiles = Vec::new();
        for col in 0..factor as usize {
            let t = (r * factor as usize + col) as i64;
            let (th, tw) = (re[r + 1] - re[r], ce[col + 1] - ce[col]);
            tiles.push(
                x.get(t)
                    .unsqueeze(0)
                    .adaptive_avg_pool2d([th, tw])
                    .squeeze_dim(0),
            );
        }
        rows.push(Tensor::cat(&tiles, 2));
    }
    let out = Tensor::cat(&rows, 1);
    debug_assert_eq!(out.size(), vec![c, h, w]);
    if kind == Kind::Uint8 {
        out.round().clamp(0.0, 255.0).to_kind(Kind::Uint8)
    } else {
        out.to_kind(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(values: &[u8], c: i64, h: i64, w: i64) -> Tensor {
        Tensor::from_slice(values).view([1, c, h, w])
    }

    /// Four 4×4 images made of constant 2×2 blocks: each tile is exactly the image's blocks,
    /// at its grid position.
    #[test]
    fn two_by_two_grid_lays_out_known_images_exactly() {
        // Image t has blocks (top-left, top-right, bottom-left, bottom-right) = 10t + (1,2,3,4).
        let mut imgs = Vec::new();
        for t in 0..4u8 {
            let b = [10 * t + 1, 10 * t + 2, 10 * t + 3, 10 * t + 4];
            let mut v = Vec::new();
            for r in 0..4 {
                for col in 0..4 {
                    v.push(b[(r / 2) * 2 + col / 2]);
                }
            }
            imgs.push(img(&v, 1, 4, 4));
        }
        let x = Tensor::cat(&imgs, 0);
        let out = combine(&x, 2);
        assert_eq!(out.size(), vec![1, 4, 4]);
        assert_eq!(out.kind(), Kind::Uint8);
        let got = Vec::<u8>::try_from(out.reshape([-1])).unwrap();
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
             1,  2, 11, 12,
             3,  4, 13, 14,
            21, 22, 31, 32,
            23, 24, 33, 34,
        ];
        assert_eq!(got, want);
    }

    /// Averages are taken over each 2×2 block and rounded half to even; channels are kept apart.
    #[test]
    fn area_average_rounding_and_channels() {
        // One 2-channel 2×2 image per tile; channel 1 is channel 0 + 100.
        let mut imgs = Vec::new();
        for t in 0..4u8 {
            let c0 = [t, t + 1, t + 2, t + 4]; // mean = t + 1.75
            let c1: Vec<u8> = c0.iter().map(|v| v + 100).collect();
            let v: Vec<u8> = c0.iter().copied().chain(c1).collect();
            imgs.push(img(&v, 2, 2, 2));
        }
        let out = combine(&Tensor::cat(&imgs, 0), 2);
        assert_eq!(out.size(), vec![2, 2, 2]);
        let got = Vec::<u8>::try_from(out.reshape([-1])).unwrap();
        // t + 1.75 rounds to t + 2.
        assert_eq!(got, vec![2, 3, 4, 5, 102, 103, 104, 105]);
        // A half rounds to even: mean 2.5 -> 2, mean 3.5 -> 4.
        let halves: Vec<Tensor> = [2u8, 3, 2, 3]
            .iter()
            .map(|&v| img(&[v, v + 1, v, v + 1], 1, 2, 2))
            .collect();
        let got = Vec::<u8>::try_from(combine(&Tensor::cat(&halves, 0), 2).reshape([-1])).unwrap();
        assert_eq!(got, vec![2, 4, 2, 4]);
    }

    /// A size that is not a multiple of the factor: 5×5 into 2×2 tiles of 2 and 3 pixels.
    #[test]
    fn uneven_tiles_cover_the_image() {
        assert_eq!(edges(5, 2), vec![0, 2, 5]);
        assert_eq!(edges(28, 2), vec![0, 14, 28]);
        assert_eq!(edges(28, 3), vec![0, 9, 18, 28]);
        let imgs: Vec<Tensor> = (0..4u8)
            .map(|t| {
                Tensor::full(
                    [1, 1, 5, 5],
                    (t as i64 + 1) * 50,
                    (Kind::Uint8, tch::Device::Cpu),
                )
            })
            .collect();
        let out = combine(&Tensor::cat(&imgs, 0), 2);
        let got = Vec::<u8>::try_from(out.reshape([-1])).unwrap();
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
             50,  50, 100, 100, 100,
             50,  50, 100, 100, 100,
            150, 150, 200, 200, 200,
            150, 150, 200, 200, 200,
            150, 150, 200, 200, 200,
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn factor_one_is_identity_and_floats_stay_floats() {
        let x = Tensor::from_slice(&[0.1f32, 0.2, 0.3, 0.4]).view([1, 1, 2, 2]);
        assert!(combine(&x, 1).equal(&x.get(0)));
        let four = x.repeat([4, 1, 1, 1]);
        let out = combine(&four, 2);
        assert_eq!(out.kind(), Kind::Float);
        assert!((out.double_value(&[0, 0, 0]) - 0.25).abs() < 1e-6);
    }
}
