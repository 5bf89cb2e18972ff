//! Differentiable Siamese Augmentation (Zhao & Bilen, "Dataset Condensation with
//! Differentiable Siamese Augmentation", ICML 2021), as the DC/DSA/DM/MTT evaluation code
//! applies it: one operation group drawn per batch, parameters drawn per image.
//!
//! All randomness comes from libtorch's generator on the batch's device (seeded by the
//! harness with the cell's augmentation seed), never from `rand::thread_rng`, so the same
//! seed gives the same augmentation stream. Every op is differentiable w.r.t. the images
//! (DSA/DM backpropagate through it into synthetic images).
//!
//! Parameters (ParamDiffAug of the reference code): brightness U(-0.5, 0.5); saturation
//! x' = m_c + (x - m_c)·2u with m_c the per-pixel channel mean; contrast x' = m + (x - m)(u + 0.5)
//! with m the per-image mean; crop = integer translation up to round(0.125·side) with zero
//! fill; cutout = one zeroed square of side round(0.5·side); flip p = 0.5; scale = x/y factors
//! in [1/1.2, 1.2]; rotate = U(±15°). Scale and rotate use an affine grid with bilinear
//! sampling, zero padding, align_corners = true.

use tch::{Device, Kind, Tensor};

/// The operation groups a strategy may name.
pub const DSA_GROUPS: [&str; 6] = ["color", "crop", "cutout", "flip", "scale", "rotate"];

const RATIO_SCALE: f64 = 1.2;
const RATIO_ROTATE_DEG: f64 = 15.0;
const RATIO_CROP: f64 = 0.125;
const RATIO_CUTOUT: f64 = 0.5;
const PROB_FLIP: f64 = 0.5;
const BRIGHTNESS: f64 = 1.0;
const SATURATION: f64 = 2.0;
const CONTRAST: f64 = 0.5;

/// One draw of DSA parameters for up to `n` images. Sharing a draw between two batches is
/// the "siamese" part: the same transformation for real and synthetic images.
#[derive(Debug)]
pub struct DsaDraw {
    /// The DSA operation group drawn (one of [`DSA_GROUPS`]).
    pub group: &'static str,
    /// Per-image uniforms / integers, shaped for the group (see `apply`).
    params: Vec<Tensor>,
    n: i64,
}

/// A DSA augmenter for a strategy such as `color_crop_cutout_flip_scale_rotate`.
#[derive(Clone, Debug)]
pub struct Dsa {
    groups: Vec<&'static str>,
}

impl Dsa {
    /// `mirror_invariant = false` drops `flip` (digits), as the reference code does for MNIST.
    pub fn new(strategy: &str, mirror_invariant: bool) -> Self {
        let groups = strategy
            .split('_')
            .filter_map(|g| DSA_GROUPS.iter().copied().find(|k| *k == g))
            .filter(|g| mirror_invariant || *g != "flip")
            .collect();
        Self { groups }
    }

    /// The groups actually in use (for records).
    pub fn strategy(&self) -> String {
        self.groups.join("_")
    }

    /// Draws a group and its per-image parameters for `n` images of size `h x w`.
    pub fn draw(&self, n: i64, h: i64, w: i64, device: Device) -> Option<DsaDraw> {
        if self.groups.is_empty() {
            return None;
        }
        let pick = Tensor::randint(self.groups.len() as i64, [1], (Kind::Int64, Device::Cpu))
            .int64_value(&[0]);
        let group = self.groups[pick as usize];
        let u = |shape: &[i64]| Tensor::rand(shape, (Kind::Float, device));
        let params = match group {
            "color" => vec![u(&[n, 1, 1, 1]), u(&[n, 1, 1, 1]), u(&[n, 1, 1, 1])],
            "crop" => {
                let sx = (h as f64 * RATIO_CROP + 0.5) as i64;
                let sy = (w as f64 * RATIO_CROP + 0.5) as i64;
                vec![
                    Tensor::randint_low(-sx, sx + 1, [n, 1, 1], (Kind::Int64, device)),
                    Tensor::randint_low(-sy, sy + 1, [n, 1, 1], (Kind::Int64, device)),
                ]
            }
            "cutout" => {
                let cx = (h as f64 * RATIO_CUTOUT + 0.5) as i64;
                let cy = (w as f64 * RATIO_CUTOUT + 0.5) as i64;
                vec![
                    Tensor::randint(h + (1 - cx % 2), [n, 1, 1], (Kind::Int64, device)),
                    Tensor::randint(w + (1 - cy % 2), [n, 1, 1], (Kind::Int64, device)),
                ]
            }
            "flip" => vec![u(&[n, 1, 1, 1])],
            "scale" => vec![u(&[n]), u(&[n])],
            "rotate" => vec![u(&[n])],
            _ => unreachable!(),
        };
        Some(DsaDraw { group, params, n })
    }

    /// One transformation for every image of up to `n` images: the parameters drawn for a
    /// single image, repeated. This is the reference code's siamese mode (`DiffAugment` with a
    /// seed sets every image's parameters to the first image's), used when matching: applied
    /// to a real batch and a synthetic batch, it transforms all images of both identically.
    pub fn draw_shared(&self, n: i64, h: i64, w: i64, device: Device) -> Option<DsaDraw> {
        let one = self.draw(1, h, w, device)?;
        let params = one
            .params
            .iter()
            .map(|t| {
                let mut s = t.size();
                s[0] = n;
                t.expand(s.as_slice(), false)
            })
            .collect();
        Some(DsaDraw {
            group: one.group,
            params,
            n,
        })
    }

    /// Augments a batch with a fresh draw.
    pub fn augment(&self, x: &Tensor) -> Tensor {
        let s = x.size();
        match self.draw(s[0], s[2], s[3], x.device()) {
            Some(d) => apply(x, &d),
            None => x.shallow_clone(),
        }
    }
}

impl DsaDraw {
    /// The draw's parameters as plain numbers (for stored labels that must replay the exact
    /// augmentation the teacher saw): per parameter tensor, its shape and its values (int64
    /// groups `crop`/`cutout` as i64, the others as f32).
    pub fn to_record(&self) -> DrawRecord {
        let params = self
            .params
            .iter()
            .map(|t| {
                let t = t.to_device(Device::Cpu).contiguous();
                let shape = t.size();
                let flat = t.flatten(0, -1);
                let values = if t.kind() == Kind::Int64 {
                    ParamValues::I64(Vec::<i64>::try_from(&flat).expect("int64 params"))
                } else {
                    ParamValues::F32(
                        Vec::<f32>::try_from(&flat.to_kind(Kind::Float)).expect("float params"),
                    )
                };
                (shape, values)
            })
            .collect();
        DrawRecord {
            group: self.group.to_string(),
            n: self.n,
            params,
        }
    }

    /// Rebuilds a draw from its record; `Err` for an unknown group or inconsistent shapes.
    ///
    /// # Errors
    /// A message for an unknown group or parameters of the wrong shape or type.
    pub fn from_record(r: &DrawRecord, device: Device) -> Result<DsaDraw, String> {
        let group = DSA_GROUPS
            .iter()
            .copied()
            .find(|g| *g == r.group)
            .ok_or_else(|| format!("unknown DSA group {:?}", r.group))?;
        let params = r
            .params
            .iter()
            .map(|(shape, v)| {
                let numel: i64 = shape.iter().product();
                let t = match v {
                    ParamValues::I64(x) if x.len() as i64 == numel => Tensor::from_slice(x),
                    ParamValues::F32(x) if x.len() as i64 == numel => Tensor::from_slice(x),
                    _ => {
                        return Err(format!(
                        "DSA {group} parameter of shape {shape:?} has the wrong number of values"
                    ))
                    }
                };
                Ok(t.view(shape.as_slice()).to_device(device))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(DsaDraw {
            group,
            params,
            n: r.n,
        })
    }
}

/// Values of one DSA parameter tensor.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ParamValues {
    /// Float parameters (uniform draws, scales, angles), flattened row-major.
    F32(Vec<f32>),
    /// Integer parameters (shifts, crop offsets, flags), flattened row-major.
    I64(Vec<i64>),
}

/// A [`DsaDraw`] as plain data.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DrawRecord {
    /// The DSA operation group (one of [`DSA_GROUPS`]).
    pub group: String,
    /// Number of images the draw was made for.
    pub n: i64,
    /// Each parameter tensor as (shape, values).
    pub params: Vec<(Vec<i64>, ParamValues)>,
}

/// Applies a draw to a batch of at most `draw.n` images (uses the first `N` parameters).
pub fn apply(x: &Tensor, draw: &DsaDraw) -> Tensor {
    let s = x.size();
    let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
    assert!(n <= draw.n, "DSA draw for {} images applied to {n}", draw.n);
    let p: Vec<Tensor> = draw.params.iter().map(|t| t.narrow(0, 0, n)).collect();
    let dev = x.device();
    match draw.group {
        "color" => {
            let x = x + (&p[0] - 0.5) * BRIGHTNESS;
            let m = x.mean_dim(1, true, x.kind());
            let x = (&x - &m) * (&p[1] * SATURATION) + &m;
            let m = x.mean_dim([1i64, 2, 3].as_slice(), true, x.kind());
            (&x - &m) * (&p[2] + CONTRAST) + &m
        }
        "crop" => {
            // Translate by (tx, ty) pixels with zero fill: index a 1-pixel zero-padded copy.
            let rows = Tensor::arange(h, (Kind::Int64, dev)).view([1, h, 1]);
            let cols = Tensor::arange(w, (Kind::Int64, dev)).view([1, 1, w]);
            let gx = (rows + &p[0] + 1).clamp(0, h + 1).expand([n, h, w], false);
            let gy = (cols + &p[1] + 1).clamp(0, w + 1).expand([n, h, w], false);
            let gb = Tensor::arange(n, (Kind::Int64, dev))
                .view([n, 1, 1])
                .expand([n, h, w], false);
            let xp = x.constant_pad_nd([1, 1, 1, 1]).permute([0, 2, 3, 1]);
            let _ = c;
            xp.index(&[Some(gb), Some(gx), Some(gy)])
                .permute([0, 3, 1, 2])
        }
        "cutout" => {
            let cx = (h as f64 * RATIO_CUTOUT + 0.5) as i64;
            let cy = (w as f64 * RATIO_CUTOUT + 0.5) as i64;
            let lo_x = &p[0] - cx / 2;
            let lo_y = &p[1] - cy / 2;
            let rows = Tensor::arange(h, (Kind::Int64, dev)).view([1, h, 1]);
            let cols = Tensor::arange(w, (Kind::Int64, dev)).view([1, 1, w]);
            let in_x = rows
                .ge_tensor(&lo_x)
                .logical_and(&rows.lt_tensor(&(&lo_x + cx)));
            let in_y = cols
                .ge_tensor(&lo_y)
                .logical_and(&cols.lt_tensor(&(&lo_y + cy)));
            let mask = in_x
                .logical_and(&in_y)
                .logical_not()
                .to_kind(x.kind())
                .unsqueeze(1);
            x * mask
        }
        "flip" => {
            let flip = p[0].lt(PROB_FLIP);
            x.flip([3]).where_self(&flip, x)
        }
        "scale" => {
            let lo = 1.0 / RATIO_SCALE;
            let sx = &p[0] * (RATIO_SCALE - lo) + lo;
            let sy = &p[1] * (RATIO_SCALE - lo) + lo;
            let z = Tensor::zeros([n], (Kind::Float, dev));
            let theta = Tensor::stack(&[&sx, &z, &z, &z, &sy, &z], 1).view([n, 2, 3]);
            affine(x, &theta)
        }
        "rotate" => {
            let t = (&p[0] - 0.5) * 2.0 * RATIO_ROTATE_DEG / 180.0 * std::f64::consts::PI;
            let (cos, sin) = (t.cos(), t.sin());
            let z = Tensor::zeros([n], (Kind::Float, dev));
            let theta = Tensor::stack(&[&cos, &sin, &z, &(-&sin), &cos, &z], 1).view([n, 2, 3]);
            affine(x, &theta)
        }
        _ => unreachable!(),
    }
}

fn affine(x: &Tensor, theta: &Tensor) -> Tensor {
    let grid = Tensor::affine_grid_generator(&theta.to_kind(x.kind()), x.size(), true);
    // interpolation 0 = bilinear, padding 0 = zeros
    x.grid_sampler(&grid, 0, 0, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> Tensor {
        tch::manual_seed(0);
        Tensor::rand([4, 1, 8, 8], (Kind::Double, Device::Cpu))
    }

    #[test]
    fn flip_is_dropped_for_digits() {
        let _rng = crate::rng::test_lock();
        assert_eq!(
            Dsa::new("color_crop_cutout_flip_scale_rotate", false).strategy(),
            "color_crop_cutout_scale_rotate"
        );
        assert_eq!(Dsa::new("color_flip", true).strategy(), "color_flip");
    }

    #[test]
    fn same_seed_same_stream() {
        let _rng = crate::rng::test_lock();
        let x = batch();
        let d = Dsa::new("color_crop_cutout_scale_rotate", false);
        tch::manual_seed(42);
        let a: Vec<Tensor> = (0..6).map(|_| d.augment(&x)).collect();
        tch::manual_seed(42);
        let b: Vec<Tensor> = (0..6).map(|_| d.augment(&x)).collect();
        for (a, b) in a.iter().zip(&b) {
            assert!(a.equal(b));
        }
    }

    #[test]
    fn crop_translates_with_zero_fill() {
        let _rng = crate::rng::test_lock();
        let x = Tensor::arange(16, (Kind::Double, Device::Cpu)).view([1, 1, 4, 4]) + 1.0;
        let draw = DsaDraw {
            group: "crop",
            params: vec![
                Tensor::from_slice(&[1i64]).view([1, 1, 1]),
                Tensor::from_slice(&[0i64]).view([1, 1, 1]),
            ],
            n: 1,
        };
        let y = apply(&x, &draw);
        // Row i of the output is row i+1 of the input; the last row is zero.
        let expect = Tensor::from_slice(&[
            5.0, 6., 7., 8., 9., 10., 11., 12., 13., 14., 15., 16., 0., 0., 0., 0.,
        ])
        .view([1, 1, 4, 4]);
        assert!(y.equal(&expect), "{y}");
    }

    #[test]
    fn cutout_zeroes_one_half_side_square() {
        let _rng = crate::rng::test_lock();
        let x = Tensor::ones([1, 1, 8, 8], (Kind::Double, Device::Cpu));
        let draw = DsaDraw {
            group: "cutout",
            params: vec![
                Tensor::from_slice(&[4i64]).view([1, 1, 1]),
                Tensor::from_slice(&[4i64]).view([1, 1, 1]),
            ],
            n: 1,
        };
        let y = apply(&x, &draw);
        // side 4 centred at (4, 4): rows/cols 2..6 are zero => 16 zeros.
        assert_eq!(y.eq(0.0).sum(Kind::Int64).int64_value(&[]), 16);
        assert_eq!(y.double_value(&[0, 0, 2, 2]), 0.0);
        assert_eq!(y.double_value(&[0, 0, 1, 1]), 1.0);
    }

    #[test]
    fn identity_affine_is_identity() {
        let _rng = crate::rng::test_lock();
        let x = batch();
        let theta = Tensor::from_slice(&[1.0f64, 0., 0., 0., 1., 0.])
            .view([1, 2, 3])
            .repeat([4, 1, 1]);
        let y = affine(&x, &theta);
        assert!(y.allclose(&x, 1e-9, 1e-9, false));
    }

    /// A shared (siamese) draw transforms every image of any batch identically: copies of one
    /// image stay equal to each other and to the same image in another batch; a per-image draw
    /// of the same group does not keep them equal.
    #[test]
    fn shared_draw_applies_one_transformation_to_every_image() {
        let _rng = crate::rng::test_lock();
        tch::manual_seed(5);
        let one = Tensor::rand([1, 1, 8, 8], (Kind::Double, Device::Cpu));
        let copies = one.repeat([6, 1, 1, 1]);
        for g in ["color", "crop", "cutout", "flip", "scale", "rotate"] {
            let d = Dsa::new(g, true);
            let mut differs = false;
            for _ in 0..4 {
                let shared = d.draw_shared(6, 8, 8, Device::Cpu).unwrap();
                let y = apply(&copies, &shared);
                let single = apply(&one, &shared);
                for i in 0..6 {
                    assert!(y.get(i).equal(&single.get(0)), "{g}: image {i} differs");
                }
                let per_image = d.draw(6, 8, 8, Device::Cpu).unwrap();
                let z = apply(&copies, &per_image);
                differs |= (1..6).any(|i| !z.get(i).equal(&z.get(0)));
            }
            assert!(differs, "{g}: per-image draws never differed");
        }
    }

    /// Finite-difference check: every DSA group is differentiable w.r.t. the images.
    #[test]
    fn every_group_is_differentiable() {
        let _rng = crate::rng::test_lock();
        for g in ["color", "crop", "cutout", "flip", "scale", "rotate"] {
            let d = Dsa::new(g, true);
            tch::manual_seed(3);
            let x = batch().set_requires_grad(true);
            let draw = d.draw(4, 8, 8, Device::Cpu).unwrap();
            let w = Tensor::rand([4, 1, 8, 8], (Kind::Double, Device::Cpu));
            let f = |x: &Tensor| (apply(x, &draw) * &w).sum(Kind::Double);
            let y = f(&x);
            let grad = Tensor::run_backward(&[&y], &[&x], false, false)
                .pop()
                .unwrap();
            let eps = 1e-6;
            for &(i, r, c) in &[(0i64, 3i64, 4i64), (2, 5, 2), (3, 0, 7)] {
                let e = Tensor::zeros([4, 1, 8, 8], (Kind::Double, Device::Cpu));
                let _ = e.get(i).get(0).get(r).get(c).fill_(eps);
                let num = (f(&(&x.detach() + &e)).double_value(&[])
                    - f(&(&x.detach() - &e)).double_value(&[]))
                    / (2.0 * eps);
                let ana = grad.double_value(&[i, 0, r, c]);
                assert!(
                    (num - ana).abs() < 1e-5,
                    "{g}: numeric {num} vs analytic {ana} at {i},{r},{c}"
                );
            }
        }
    }
}
