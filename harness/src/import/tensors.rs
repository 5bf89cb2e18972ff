//! The tensors of a compressed set as read from disk, before they become libtorch tensors:
//! element type, shape and little-endian bytes, whatever the container (safetensors, npz,
//! ImageFolder). Every check that depends only on the element type happens here, with the
//! file and the tensor named.

use super::error::{ImportError, ImportErrorKind, WriteError};
use super::layout::role;
pub use super::layout::{role_names, role_rule, DType, ROLES};
use std::path::Path;
use tch::Tensor;

/// One tensor as stored: type, shape (row-major) and little-endian bytes.
pub struct RawTensor {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

/// The error for a tensor whose element type the reader does not know at all.
pub fn unknown_dtype(file: &Path, name: &str, found: &str) -> ImportError {
    let (tensor, found) = (name.to_string(), found.to_string());
    ImportError::new(file, ImportErrorKind::UnknownDType { tensor, found })
}

/// Checks the tensor's name and element type against its role.
///
/// # Errors
/// [`ImportErrorKind::UnknownTensor`] for a name outside [`ROLES`],
/// [`ImportErrorKind::WrongDType`] for a type its role does not accept.
pub fn check_role(file: &Path, name: &str, t: &RawTensor) -> Result<(), ImportError> {
    let Some((_, allowed, _)) = role(name) else {
        let name = name.to_string();
        return Err(ImportError::new(
            file,
            ImportErrorKind::UnknownTensor { name },
        ));
    };
    if !allowed.contains(&t.dtype) {
        let (tensor, dtype) = (name.to_string(), t.dtype);
        return Err(ImportError::new(
            file,
            ImportErrorKind::WrongDType { tensor, dtype },
        ));
    }
    Ok(())
}

impl std::fmt::Debug for RawTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RawTensor {{ {} {:?}, {} bytes }}",
            self.dtype.safetensors_name(),
            self.shape,
            self.data.len()
        )
    }
}

impl RawTensor {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Checks that the byte count matches shape and type (a short buffer is a truncated file).
    ///
    /// # Errors
    /// [`ImportErrorKind::BadTensor`]: truncated, too long, or a shape whose size overflows.
    pub fn check_len(&self, file: &Path, name: &str) -> Result<(), ImportError> {
        let want = self
            .shape
            .iter()
            .try_fold(self.dtype.size(), |a, &d| a.checked_mul(d));
        match want {
            Some(w) if w == self.data.len() => Ok(()),
            Some(w) if self.data.len() < w => Err(ImportError::bad_tensor(
                file,
                name,
                format!(
                    "is truncated: shape {:?} of {} needs {w} bytes, the file holds {}",
                    self.shape,
                    self.dtype.safetensors_name(),
                    self.data.len()
                ),
            )),
            Some(w) => Err(ImportError::bad_tensor(
                file,
                name,
                format!(
                    "holds {} bytes, but shape {:?} of {} needs {w}",
                    self.data.len(),
                    self.shape,
                    self.dtype.safetensors_name()
                ),
            )),
            None => Err(ImportError::bad_tensor(
                file,
                name,
                format!("has an impossible shape {:?}", self.shape),
            )),
        }
    }

    /// The libtorch tensor (CPU). The role check must have passed.
    ///
    /// # Errors
    /// Those of [`RawTensor::check_len`]; [`ImportErrorKind::BadTensor`] for an unsigned
    /// type wider than a byte (libtorch has none); [`ImportErrorKind::Tensor`] if libtorch
    /// refuses the data.
    pub fn to_tensor(&self, file: &Path, name: &str) -> Result<Tensor, ImportError> {
        self.check_len(file, name)?;
        let kind = self.dtype.kind().ok_or_else(|| {
            ImportError::bad_tensor(
                file,
                name,
                format!(
                    "has dtype {}, which libtorch cannot hold",
                    self.dtype.safetensors_name()
                ),
            )
        })?;
        let shape: Vec<i64> = self.shape.iter().map(|&d| d as i64).collect();
        Tensor::f_from_data_size(&self.data, &shape, kind)
            .map_err(|e| ImportError::tensor(file, name, e.to_string()))
    }

    /// The bytes of a libtorch tensor (any device, any layout), for writing.
    ///
    /// # Errors
    /// [`WriteError::Kind`] for an element type the layout cannot store (complex, …).
    pub fn from_tensor(t: &Tensor) -> Result<RawTensor, WriteError> {
        let dtype = DType::of_kind(t.kind()).ok_or_else(|| WriteError::Kind(t.kind()))?;
        let t = t.to_device(tch::Device::Cpu).contiguous();
        let numel = t.numel();
        let mut data = vec![0u8; numel * dtype.size()];
        t.f_copy_data_u8(&mut data, numel)
            .map_err(WriteError::Tch)?;
        Ok(RawTensor {
            dtype,
            shape: t.size().iter().map(|&d| d as usize).collect(),
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;
    use DType::*;

    #[test]
    fn bytes_round_trip_through_libtorch_for_every_stored_type() {
        let x = Tensor::from_slice(&[0.0f32, 0.25, 1.0, 0.5, 0.125, 0.75]).view([2, 3]);
        for kind in [
            Kind::Float,
            Kind::Double,
            Kind::Half,
            Kind::BFloat16,
            Kind::Uint8,
        ] {
            let t = (&x * 4.0).to_kind(kind);
            let raw = RawTensor::from_tensor(&t).unwrap();
            assert_eq!(raw.shape, vec![2, 3]);
            assert_eq!(raw.data.len(), 6 * raw.dtype.size());
            let back = raw.to_tensor(Path::new("f"), "images").unwrap();
            assert_eq!(back.kind(), kind);
            assert!(back.equal(&t), "{kind:?}");
        }
        // Little-endian: float32 1.0 is 00 00 80 3f.
        let raw = RawTensor::from_tensor(&Tensor::from_slice(&[1.0f32])).unwrap();
        assert_eq!(raw.data, vec![0, 0, 0x80, 0x3f]);
    }

    #[test]
    fn roles_name_the_file_tensor_and_what_is_allowed() {
        let f = Path::new("/d/set.safetensors");
        let t = RawTensor {
            dtype: I32,
            shape: vec![1],
            data: vec![0; 4],
        };
        assert_eq!(
            check_role(f, "images", &t).unwrap_err().to_string(),
            "/d/set.safetensors: tensor `images` has dtype I32 (int32): `images` must be uint8 (U8, pixels 0-255) or floating point (F32, F16, BF16, F64; pixels in [0, 1])"
        );
        assert!(check_role(f, "labels", &RawTensor { dtype: I64, ..t }).is_ok());
        let e = check_role(
            f,
            "label",
            &RawTensor {
                dtype: I64,
                shape: vec![1],
                data: vec![0; 8],
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("unknown tensor `label`") && e.contains("`labels`"),
            "{e}"
        );
        assert_eq!(
            unknown_dtype(f, "soft_labels", "C64").to_string(),
            "/d/set.safetensors: tensor `soft_labels` has unknown dtype \"C64\": `soft_labels` must be floating point (F32, F16, BF16, F64): one probability row per image"
        );
        let short = RawTensor {
            dtype: F32,
            shape: vec![2, 2],
            data: vec![0; 12],
        };
        assert_eq!(
            short.check_len(f, "images").unwrap_err().to_string(),
            "/d/set.safetensors: tensor `images` is truncated: shape [2, 2] of F32 needs 16 bytes, the file holds 12"
        );
    }
}
