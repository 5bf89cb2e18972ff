//! The stored-label file format: FKD-style stored labels are, for each training epoch and
//! batch, which images, the exact augmentation parameters, and the teacher's logits on the
//! augmented batch (fp16). The fit loop replays them (the student sees exactly the augmented
//! images the teacher labelled); their file is what the labels cost to store.
//!
//! This module only reads and writes the format (it depends on `nn::augment` and `fsio`);
//! recording labels with a teacher is the job of `crate::label_store`, which re-exports these
//! types under their old paths.
//!
//! File layout (little-endian): `b"DSTLLBL1"`, a u64 header length, a JSON [`Header`], then for
//! every stored batch in order: its indices (u32, positions in the compressed set), each DSA
//! parameter (i32 for integer groups, f32 otherwise) and the logits (`[n, classes]` fp16 bits).
//! The header says how many bytes follow; a shorter file is reported as truncated.

use crate::nn::augment::{apply, DrawRecord, DsaDraw, ParamValues};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use tch::{Device, Kind, Tensor};

const MAGIC: &[u8; 8] = b"DSTLLBL1";

/// One stored batch.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredBatch {
    /// Positions in the compressed set (`0..M`).
    pub indices: Vec<u32>,
    /// The DSA draw applied to the batch (`None`: no augmentation).
    pub draw: Option<DrawRecord>,
    /// Teacher logits `[n * classes]`, fp16 bit patterns.
    pub logits: Vec<u16>,
}

/// A label store: per stored epoch, its batches. The replay cycles through the stored epochs
/// (epoch `e` uses stored epoch `e mod len`): one per training epoch for FKD, fewer for LPLD.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelStore {
    /// Number of classes `K` (columns of every batch's logits).
    pub classes: usize,
    /// Temperature of the KL against these logits.
    pub temperature: f64,
    /// Size of the compressed set the indices point into.
    pub set_size: usize,
    /// Training epochs these labels were made for (the protocol's).
    pub epochs_total: usize,
    /// The stored epochs, each a list of batches in training order.
    pub epochs: Vec<Vec<StoredBatch>>,
}

#[derive(Serialize, Deserialize)]
struct BatchHeader {
    n: usize,
    group: Option<String>,
    draw_n: i64,
    /// Shapes of the DSA parameters, and whether they are integers.
    params: Vec<(Vec<i64>, bool)>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: u32,
    classes: usize,
    temperature: f64,
    set_size: usize,
    epochs_total: usize,
    epochs: Vec<Vec<BatchHeader>>,
    body_bytes: u64,
}

fn batch_bytes(b: &BatchHeader, classes: usize) -> u64 {
    let params: i64 = b
        .params
        .iter()
        .map(|(s, _)| s.iter().product::<i64>())
        .sum();
    (b.n * 4 + params as usize * 4 + b.n * classes * 2) as u64
}

impl LabelStore {
    /// Bytes of the stored labels once written (what storage accounting counts).
    ///
    /// Returns the file's hex SHA-256. Written atomically and durably
    /// ([`crate::fsio::write_atomic`]).
    ///
    /// # Errors
    /// Any I/O error; the target is then unchanged.
    pub fn write(&self, path: &Path) -> std::io::Result<String> {
        let mut body = Vec::new();
        let mut headers = Vec::new();
        for epoch in &self.epochs {
            let mut hs = Vec::new();
            for b in epoch {
                for i in &b.indices {
                    body.extend_from_slice(&i.to_le_bytes());
                }
                let mut params = Vec::new();
                if let Some(d) = &b.draw {
                    for (shape, v) in &d.params {
                        match v {
                            ParamValues::I64(x) => {
                                for &i in x {
                                    body.extend_from_slice(&(i as i32).to_le_bytes());
                                }
                                params.push((shape.clone(), true));
                            }
                            ParamValues::F32(x) => {
                                for f in x {
                                    body.extend_from_slice(&f.to_le_bytes());
                                }
                                params.push((shape.clone(), false));
                            }
                        }
                    }
                }
                for l in &b.logits {
                    body.extend_from_slice(&l.to_le_bytes());
                }
                hs.push(BatchHeader {
                    n: b.indices.len(),
                    group: b.draw.as_ref().map(|d| d.group.clone()),
                    draw_n: b.draw.as_ref().map_or(0, |d| d.n),
                    params,
                });
            }
            headers.push(hs);
        }
        let header = serde_json::to_vec(&Header {
            format: 1,
            classes: self.classes,
            temperature: self.temperature,
            set_size: self.set_size,
            epochs_total: self.epochs_total,
            epochs: headers,
            body_bytes: body.len() as u64,
        })
        .expect("header serialises");
        let mut out = Vec::with_capacity(16 + header.len() + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&body);
        crate::fsio::write_atomic(path, &out)?;
        Ok(hex::encode(Sha256::digest(&out)))
    }

    /// Reads and checks a store. With `sha256`, the file must match it (a changed or truncated
    /// file is refused before anything else); then the layout is checked against the header.
    ///
    /// # Errors
    /// A message naming the file: unreadable, SHA-256 mismatch, bad magic, unsupported
    /// format, truncated or corrupt body, or an index outside the compressed set.
    pub fn read(path: &Path, sha256: Option<&str>) -> Result<LabelStore, String> {
        let name = path.display();
        let bytes = std::fs::read(path).map_err(|e| format!("label store {name}: {e}"))?;
        if let Some(want) = sha256 {
            let got = hex::encode(Sha256::digest(&bytes));
            if got != want {
                return Err(format!(
                    "label store {name} has SHA-256 {got}, the method declared {want}: the file changed or is truncated"
                ));
            }
        }
        if bytes.len() < 16 || &bytes[..8] != MAGIC {
            return Err(format!(
                "label store {name}: not a Distillery label store (bad magic)"
            ));
        }
        let hlen = u64::from_le_bytes(bytes[8..16].try_into().unwrap()) as usize;
        if bytes.len() < 16 + hlen {
            return Err(format!(
                "label store {name} is truncated: its header needs {hlen} bytes, the file has {}",
                bytes.len() - 16
            ));
        }
        let h: Header = serde_json::from_slice(&bytes[16..16 + hlen])
            .map_err(|e| format!("label store {name}: header: {e}"))?;
        if h.format != 1 {
            return Err(format!(
                "label store {name}: format {} is not supported",
                h.format
            ));
        }
        let body = &bytes[16 + hlen..];
        let expected: u64 = h
            .epochs
            .iter()
            .flatten()
            .map(|b| batch_bytes(b, h.classes))
            .sum();
        if expected != h.body_bytes || (body.len() as u64) != expected {
            return Err(format!(
                "label store {name} is truncated or corrupt: {} epochs of labels need {expected} bytes of data, the file has {}",
                h.epochs.len(),
                body.len()
            ));
        }
        let mut at = 0usize;
        let mut take = |bytes_n: usize| {
            let s = &body[at..at + bytes_n];
            at += bytes_n;
            s
        };
        let mut epochs = Vec::new();
        for eh in &h.epochs {
            let mut batches = Vec::new();
            for b in eh {
                let indices: Vec<u32> = take(4 * b.n)
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
                    .collect();
                if let Some(bad) = indices.iter().find(|&&i| i as usize >= h.set_size) {
                    return Err(format!(
                        "label store {name}: index {bad} outside the compressed set of {}",
                        h.set_size
                    ));
                }
                let mut params = Vec::new();
                for (shape, int) in &b.params {
                    let k = shape.iter().product::<i64>() as usize;
                    let raw = take(4 * k)
                        .chunks_exact(4)
                        .map(|c| <[u8; 4]>::try_from(c).unwrap());
                    params.push((
                        shape.clone(),
                        if *int {
                            ParamValues::I64(raw.map(|c| i32::from_le_bytes(c) as i64).collect())
                        } else {
                            ParamValues::F32(raw.map(f32::from_le_bytes).collect())
                        },
                    ));
                }
                let logits = take(2 * b.n * h.classes)
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                batches.push(StoredBatch {
                    indices,
                    draw: b.group.as_ref().map(|g| DrawRecord {
                        group: g.clone(),
                        n: b.draw_n,
                        params,
                    }),
                    logits,
                });
            }
            epochs.push(batches);
        }
        Ok(LabelStore {
            classes: h.classes,
            temperature: h.temperature,
            set_size: h.set_size,
            epochs_total: h.epochs_total,
            epochs,
        })
    }

    /// The batches of training epoch `e` (cycling through the stored epochs).
    pub fn epoch(&self, e: usize) -> &[StoredBatch] {
        &self.epochs[e % self.epochs.len()]
    }
}

impl StoredBatch {
    /// `(indices [n] int64, augmented batch of `x`, teacher logits [n, K] float)` on `x`'s device.
    ///
    /// # Errors
    /// A message when the stored DSA draw cannot be rebuilt (unknown group, bad shapes).
    pub fn replay(&self, x: &Tensor, classes: usize) -> Result<(Tensor, Tensor, Tensor), String> {
        let device = x.device();
        let idx = Tensor::from_slice(&self.indices.iter().map(|&i| i as i64).collect::<Vec<_>>())
            .to_device(device);
        let mut xb = x.index_select(0, &idx);
        if let Some(d) = &self.draw {
            xb = apply(&xb, &DsaDraw::from_record(d, device)?);
        }
        let logits = Tensor::from_slice(&self.logits.iter().map(|&b| b as i16).collect::<Vec<_>>())
            .view_dtype(Kind::Half)
            .to_kind(Kind::Float)
            .view([self.indices.len() as i64, classes as i64])
            .to_device(device);
        Ok((idx, xb, logits))
    }
}

/// fp16 bit patterns of a float tensor (any shape, flattened in row-major order).
pub(crate) fn f16_bits(t: &Tensor) -> Vec<u16> {
    let h = t
        .to_device(Device::Cpu)
        .to_kind(Kind::Half)
        .contiguous()
        .view_dtype(Kind::Int16)
        .flatten(0, -1);
    Vec::<i16>::try_from(&h)
        .expect("int16")
        .into_iter()
        .map(|v| v as u16)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::augment::Dsa;

    fn store() -> LabelStore {
        let _rng = crate::rng::test_lock();
        tch::manual_seed(5);
        let dsa = Dsa::new("color_crop_cutout_scale_rotate", false);
        let mut epochs = Vec::new();
        for e in 0..3 {
            let mut batches = Vec::new();
            for b in 0..2u32 {
                let draw = dsa.draw(2, 8, 8, Device::Cpu).unwrap();
                let logits = Tensor::randn([2, 3], (Kind::Float, Device::Cpu)) * 5.0;
                batches.push(StoredBatch {
                    indices: vec![b * 2, b * 2 + 1 + (e % 2) as u32],
                    draw: Some(draw.to_record()),
                    logits: f16_bits(&logits),
                });
            }
            epochs.push(batches);
        }
        LabelStore {
            classes: 3,
            temperature: 4.0,
            set_size: 5,
            epochs_total: 3,
            epochs,
        }
    }

    #[test]
    fn a_store_round_trips_and_replays_the_exact_augmentation() {
        let s = store();
        let dir = tempfile_dir("roundtrip");
        let path = dir.join("labels.dstl");
        let sha = s.write(&path).unwrap();
        let back = LabelStore::read(&path, Some(&sha)).unwrap();
        assert_eq!(
            back, s,
            "indices, draws and fp16 logits come back bit for bit"
        );
        // Replaying a stored draw transforms the images exactly as the original draw did.
        let _rng = crate::rng::test_lock();
        tch::manual_seed(9);
        let x = Tensor::rand([5, 1, 8, 8], (Kind::Float, Device::Cpu));
        let dsa = Dsa::new("color_crop_cutout_scale_rotate", false);
        for _ in 0..10 {
            let d = dsa.draw(2, 8, 8, Device::Cpu).unwrap();
            let rec = d.to_record();
            let xb = x.narrow(0, 0, 2);
            let again = DsaDraw::from_record(&rec, Device::Cpu).unwrap();
            assert!(
                apply(&xb, &d).equal(&apply(&xb, &again)),
                "group {}",
                rec.group
            );
        }
        let (idx, xb, logits) = back.epochs[1][0].replay(&x, 3).unwrap();
        assert_eq!(Vec::<i64>::try_from(&idx).unwrap(), vec![0, 2]);
        assert_eq!(xb.size(), vec![2, 1, 8, 8]);
        assert_eq!(f16_bits(&logits), s.epochs[1][0].logits);
        // Epochs cycle when fewer are stored than trained.
        assert_eq!(back.epoch(4), back.epoch(1));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_truncated_or_changed_store_is_rejected() {
        let s = store();
        let dir = tempfile_dir("truncated");
        let path = dir.join("labels.dstl");
        let sha = s.write(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        let e = LabelStore::read(&path, Some(&sha)).unwrap_err();
        assert!(e.contains("the file changed or is truncated"), "{e}");
        let e = LabelStore::read(&path, None).unwrap_err();
        assert!(
            e.contains("is truncated or corrupt") && e.contains("need"),
            "{e}"
        );
        std::fs::write(&path, &bytes[..20]).unwrap();
        let e = LabelStore::read(&path, None).unwrap_err();
        assert!(e.contains("is truncated: its header needs"), "{e}");
        std::fs::write(&path, b"not a store at all").unwrap();
        let e = LabelStore::read(&path, None).unwrap_err();
        assert!(e.contains("bad magic"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }

    fn tempfile_dir(tag: &str) -> std::path::PathBuf {
        let d =
            std::env::temp_dir().join(format!("distillery-labels-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
