//! The layout's vocabulary: the element types a container can name ([`DType`]) and the
//! tensors a compressed set may hold with the types each accepts ([`ROLES`]). A leaf: the
//! readers, [`super::tensors`] and the error messages ([`super::error`]) all use it.

use tch::Kind;

/// Element types a reader can name (safetensors spelling). Anything else is unknown and is
/// reported with the name the file used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    Bool,
    U8,
    I8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F16,
    BF16,
    F32,
    F64,
}

use DType::*;

impl DType {
    /// The safetensors name (`U8`, `F32`, ...).
    pub fn from_safetensors(s: &str) -> Option<DType> {
        Some(match s {
            "BOOL" => Bool,
            "U8" => U8,
            "I8" => I8,
            "I16" => I16,
            "U16" => U16,
            "I32" => I32,
            "U32" => U32,
            "I64" => I64,
            "U64" => U64,
            "F16" => F16,
            "BF16" => BF16,
            "F32" => F32,
            "F64" => F64,
            _ => return None,
        })
    }

    /// The safetensors spelling (`U8`, `F32`, ...).
    pub fn safetensors_name(self) -> &'static str {
        match self {
            Bool => "BOOL",
            U8 => "U8",
            I8 => "I8",
            I16 => "I16",
            U16 => "U16",
            I32 => "I32",
            U32 => "U32",
            I64 => "I64",
            U64 => "U64",
            F16 => "F16",
            BF16 => "BF16",
            F32 => "F32",
            F64 => "F64",
        }
    }

    /// The PyTorch / NumPy name, for messages.
    pub fn torch_name(self) -> &'static str {
        match self {
            Bool => "bool",
            U8 => "uint8",
            I8 => "int8",
            I16 => "int16",
            U16 => "uint16",
            I32 => "int32",
            U32 => "uint32",
            I64 => "int64",
            U64 => "uint64",
            F16 => "float16",
            BF16 => "bfloat16",
            F32 => "float32",
            F64 => "float64",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Bool | U8 | I8 => 1,
            I16 | U16 | F16 | BF16 => 2,
            I32 | U32 | F32 => 4,
            I64 | U64 | F64 => 8,
        }
    }

    /// Whether it is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(self, F16 | BF16 | F32 | F64)
    }

    /// The libtorch kind, if libtorch has one (it has no unsigned type wider than a byte).
    pub fn kind(self) -> Option<Kind> {
        Some(match self {
            Bool => Kind::Bool,
            U8 => Kind::Uint8,
            I8 => Kind::Int8,
            I16 => Kind::Int16,
            I32 => Kind::Int,
            I64 => Kind::Int64,
            F16 => Kind::Half,
            BF16 => Kind::BFloat16,
            F32 => Kind::Float,
            F64 => Kind::Double,
            U16 | U32 | U64 => return None,
        })
    }

    /// The type of a libtorch tensor, for writing.
    pub fn of_kind(kind: Kind) -> Option<DType> {
        Some(match kind {
            Kind::Bool => Bool,
            Kind::Uint8 => U8,
            Kind::Int8 => I8,
            Kind::Int16 => I16,
            Kind::Int => I32,
            Kind::Int64 => I64,
            Kind::Half => F16,
            Kind::BFloat16 => BF16,
            Kind::Float => F32,
            Kind::Double => F64,
            _ => return None,
        })
    }
}

/// The tensors a compressed set may hold, the element types each accepts, and how the
/// accepted types read in a message.
pub const ROLES: [(&str, &[DType], &str); 5] = [
    (
        "images",
        &[U8, F32, F16, BF16, F64],
        "uint8 (U8, pixels 0-255) or floating point (F32, F16, BF16, F64; pixels in [0, 1])",
    ),
    ("labels", &[I64], "int64 (I64): one class index per image"),
    (
        "soft_labels",
        &[F32, F16, BF16, F64],
        "floating point (F32, F16, BF16, F64): one probability row per image",
    ),
    (
        "weights",
        &[F32, F16, BF16, F64],
        "floating point (F32, F16, BF16, F64): one weight per image",
    ),
    (
        "indices",
        &[I64],
        "int64 (I64): positions of the images in the train split",
    ),
];

pub(crate) fn role(name: &str) -> Option<&'static (&'static str, &'static [DType], &'static str)> {
    ROLES.iter().find(|(n, _, _)| *n == name)
}

/// Names the tensors a set may hold, for messages.
pub fn role_names() -> String {
    ROLES
        .iter()
        .map(|(n, _, _)| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How the accepted element types of tensor `name` read in a message, if it has a role.
pub fn role_rule(name: &str) -> Option<&'static str> {
    role(name).map(|(_, _, rule)| *rule)
}
