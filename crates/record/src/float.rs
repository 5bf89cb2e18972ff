//! Floats that survive JSON whatever their value.
//!
//! JSON has no NaN or infinity, and `serde_json` writes a non-finite `f64` as `null`, which it
//! then refuses to read back into an `f64`: one diverged training loss used to make a whole
//! record unreadable. Every `f64` of the record goes through this module
//! (`#[serde(with = "crate::float")]`, `float::opt_vec` for `Option<Vec<f64>>`):
//!
//! - a finite value is written as the JSON number `serde_json` writes (records of finite values
//!   are byte-identical to before);
//! - NaN is written as the string `"NaN"`, +∞ as `"inf"`, −∞ as `"-inf"` (Rust's `Display`);
//! - reading accepts a number, one of those strings (any spelling [`str::parse::<f64>`]
//!   accepts, e.g. `"infinity"`), or `null`, read as NaN: what older versions wrote for a
//!   non-finite value.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// An `f64` with the lenient JSON representation described in the module docs.
#[derive(Clone, Copy, Debug)]
pub struct Lenient(pub f64);

impl Serialize for Lenient {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_finite() {
            s.serialize_f64(self.0)
        } else {
            s.serialize_str(&self.0.to_string())
        }
    }
}

struct LenientVisitor;

impl<'de> Visitor<'de> for LenientVisitor {
    type Value = Lenient;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a number, \"NaN\", \"inf\", \"-inf\" or null")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Lenient, E> {
        Ok(Lenient(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Lenient, E> {
        Ok(Lenient(v as f64))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Lenient, E> {
        Ok(Lenient(v as f64))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Lenient, E> {
        v.parse::<f64>()
            .map(Lenient)
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Lenient, E> {
        Ok(Lenient(f64::NAN))
    }
    fn visit_none<E: de::Error>(self) -> Result<Lenient, E> {
        Ok(Lenient(f64::NAN))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Lenient, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientVisitor)
    }
}

/// `#[serde(with = "float")]` for an `f64` field.
pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    Lenient(*v).serialize(s)
}

/// `#[serde(with = "float")]` for an `f64` field.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Lenient::deserialize(d).map(|l| l.0)
}

/// `#[serde(with = "float::opt")]` for an `Option<f64>` field: `None` is `null`. (A value
/// written as `null` by an older writer is read as `None`, not NaN.)
pub mod opt {
    use super::Lenient;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes `None` as `null`, a value as [`Lenient`].
    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        v.map(Lenient).serialize(s)
    }

    /// Reads `null` as `None`, a value as [`Lenient`].
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Ok(Option::<Lenient>::deserialize(d)?.map(|l| l.0))
    }
}

/// `#[serde(with = "float::vec")]` for a `Vec<f64>` field.
pub mod vec {
    use super::Lenient;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes each element as [`Lenient`].
    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        v.iter()
            .copied()
            .map(Lenient)
            .collect::<Vec<_>>()
            .serialize(s)
    }

    /// Reads each element as [`Lenient`].
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Lenient>::deserialize(d)?
            .into_iter()
            .map(|l| l.0)
            .collect())
    }
}

/// `#[serde(with = "float::opt_vec")]` for an `Option<Vec<f64>>` field.
pub mod opt_vec {
    use super::Lenient;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes `None` as `null`, each element as [`Lenient`].
    pub fn serialize<S: Serializer>(v: &Option<Vec<f64>>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref()
            .map(|v| v.iter().copied().map(Lenient).collect::<Vec<_>>())
            .serialize(s)
    }

    /// Reads `null` as `None`, each element as [`Lenient`].
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<f64>>, D::Error> {
        Ok(Option::<Vec<Lenient>>::deserialize(d)?.map(|v| v.into_iter().map(|l| l.0).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::Lenient;

    #[test]
    fn non_finite_values_round_trip_and_null_reads_as_nan() {
        for (v, json) in [
            (f64::NAN, "\"NaN\""),
            (f64::INFINITY, "\"inf\""),
            (f64::NEG_INFINITY, "\"-inf\""),
            (0.517, "0.517"),
            (-2.0, "-2.0"),
        ] {
            let s = serde_json::to_string(&Lenient(v)).unwrap();
            assert_eq!(s, json);
            let back: Lenient = serde_json::from_str(&s).unwrap();
            assert!(back.0.to_bits() == v.to_bits() || (v.is_nan() && back.0.is_nan()));
        }
        let n: Lenient = serde_json::from_str("null").unwrap();
        assert!(n.0.is_nan());
        let i: Lenient = serde_json::from_str("3").unwrap();
        assert_eq!(i.0, 3.0);
        let e = serde_json::from_str::<Lenient>("\"fast\"").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid value: string \"fast\", expected a number, \"NaN\", \"inf\", \"-inf\" or null"),
            "{e}"
        );
    }
}
