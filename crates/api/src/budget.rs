//! [`Budget`]: how much a method may keep — parsing, display, ordering and the one rounding
//! rule for fractions. Depends only on [`crate::error`].
//!
//! # Text form
//!
//! [`Display`](std::fmt::Display) writes the label used in cell ids, records and file names,
//! and [`FromStr`](std::str::FromStr) reads it back exactly:
//!
//! | budget | text | [`Budget::header`] |
//! |---|---|---|
//! | 10 images per class | `ipc10` | `IPC 10` |
//! | 10 % of the train split | `frac0.1` | `10%` |
//! | 4096 bytes | `bytes4096` | `4096 B` |
//!
//! Parsing also accepts the command-line spelling: the kind `fraction` for `frac`, and a space
//! or `=` between kind and value (`ipc 10`, `fraction=0.1`, `bytes 4096`); surrounding
//! whitespace is ignored. The value must be valid: an IPC or byte count is a positive integer,
//! a fraction lies in (0, 1] (the same checks as `--ipc`, `--fraction` and `--bytes` and the
//! protocol files' `[defaults] ipc` list).
//!
//! # Rounding rule for fractions
//!
//! A fraction budget `f` of a train split of `N` images allows
//! `clamp(round(f · N), 1, max(N, 1))` images in total, where `round` rounds half away from
//! zero (Rust's [`f64::round`]): 0.125 · 100 = 12.5 → 13 images. This is the rule every
//! published table was produced under (the harness's budget check, the `random` baseline and
//! the pruning kit's selection plan all computed `round(f · N)`, at least 1; for `f` in
//! (0, 1] the upper clamp never binds, since `f · N ≤ N` exactly in floating point).
//! [`Budget::fraction_images`] is the one implementation; use it (or
//! [`Budget::max_images`]) rather than rounding by hand.
//!
//! # Ordering
//!
//! Budgets order by kind first — IPC, then fraction, then bytes, as table rows are sorted — and
//! by value within a kind (fractions by [`f64::total_cmp`]). Equality and hashing agree with
//! that order (fractions compare by bit pattern), so budgets can be map keys.

use crate::error::MethodError;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// How much a method may keep. The harness enforces it on the output.
///
/// Serialised (records, requests across the ABI) as `{"kind": "ipc", "value": 10}`,
/// `{"kind": "fraction", "value": 0.1}` or `{"kind": "bytes", "value": 4096}`. The
/// constructors [`Budget::ipc`], [`Budget::fraction`] and [`Budget::bytes`] check the value;
/// the variants themselves do not (deserialising does not either: [`Budget::validate`]).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "value")]
pub enum Budget {
    /// Images per class (IPC): at most this many images labelled with each class.
    Ipc(usize),
    /// A fraction of the train split, in (0, 1]; see the module docs for the rounding rule.
    Fraction(f64),
    /// Total bytes of images plus labels at their stored precision.
    Bytes(u64),
}

/// Why a budget was rejected by [`Budget::from_str`] or the checked constructors.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BudgetError {
    /// Not of the form `ipcK`, `fracF` / `fractionF` or `bytesB`.
    #[error(
        "'{0}' is not a budget: expected ipcK, fracF or bytesB (e.g. ipc10, frac0.1, bytes4096)"
    )]
    Syntax(String),
    /// The kind is known but its value is not a number of the right type.
    #[error("'{value}' is not {what}")]
    Number {
        /// What the value should have been, e.g. `a whole number of images per class`.
        what: &'static str,
        /// The value as written.
        value: String,
    },
    /// An IPC or byte budget of 0. The command line shows it as `--ipc: budgets must be
    /// positive`.
    #[error("budgets must be positive")]
    NotPositive,
    /// A fraction outside (0, 1] (including NaN). The command line shows it as
    /// `--fraction 1.5: must be in (0, 1]`.
    #[error("{0}: must be in (0, 1]")]
    FractionRange(f64),
}

impl Budget {
    /// An IPC budget of `k` images per class.
    ///
    /// # Errors
    /// [`BudgetError::NotPositive`] for `k == 0`.
    pub fn ipc(k: usize) -> Result<Budget, BudgetError> {
        Budget::Ipc(k).validated()
    }

    /// A budget of `f` times the train split.
    ///
    /// # Errors
    /// [`BudgetError::FractionRange`] unless `0 < f <= 1`.
    pub fn fraction(f: f64) -> Result<Budget, BudgetError> {
        Budget::Fraction(f).validated()
    }

    /// A budget of `b` bytes of images plus labels.
    ///
    /// # Errors
    /// [`BudgetError::NotPositive`] for `b == 0`.
    pub fn bytes(b: u64) -> Result<Budget, BudgetError> {
        Budget::Bytes(b).validated()
    }

    /// Checks the value: a positive IPC or byte count, a fraction in (0, 1].
    ///
    /// # Errors
    /// [`BudgetError::NotPositive`] or [`BudgetError::FractionRange`].
    pub fn validate(&self) -> Result<(), BudgetError> {
        match *self {
            Budget::Ipc(0) | Budget::Bytes(0) => Err(BudgetError::NotPositive),
            Budget::Fraction(f) if !(f > 0.0 && f <= 1.0) => Err(BudgetError::FractionRange(f)),
            _ => Ok(()),
        }
    }

    fn validated(self) -> Result<Budget, BudgetError> {
        self.validate().map(|_| self)
    }

    /// Short label used in tables and cell ids: `ipc10`, `frac0.1`, `bytes4096` (the same
    /// text as [`Display`](fmt::Display)).
    pub fn label(&self) -> String {
        self.to_string()
    }

    /// Column header for tables: `IPC 10`, `10%`, `4096 B`.
    pub fn header(&self) -> String {
        match self {
            Budget::Ipc(k) => format!("IPC {k}"),
            Budget::Fraction(f) => format!("{}%", f * 100.0),
            Budget::Bytes(b) => format!("{b} B"),
        }
    }

    /// Total number of images allowed, given the class count `K` and train-split size `N`:
    /// `k · K` for IPC `k`, [`Budget::fraction_images`]`(f, N)` for a fraction, and `None`
    /// for a byte budget (which depends on the image format).
    pub fn max_images(&self, num_classes: usize, train_len: usize) -> Option<usize> {
        match *self {
            Budget::Ipc(k) => Some(k * num_classes),
            Budget::Fraction(f) => Some(Budget::fraction_images(f, train_len)),
            Budget::Bytes(_) => None,
        }
    }

    /// The one rounding rule for fraction budgets: `clamp(round(f · N), 1, max(N, 1))` images
    /// of a train split of `N`, rounding half away from zero (see the module docs).
    pub fn fraction_images(fraction: f64, train_len: usize) -> usize {
        ((fraction * train_len as f64).round() as usize).clamp(1, train_len.max(1))
    }

    /// Images per class for an IPC budget.
    ///
    /// # Errors
    /// [`MethodError::Unsupported`] for other budgets, naming the budget, so that a
    /// class-balanced method is skipped (not failed) under fraction and byte budgets.
    pub fn images_per_class(&self) -> Result<usize, MethodError> {
        match *self {
            Budget::Ipc(k) => Ok(k),
            other => Err(MethodError::Unsupported(format!(
                "this method needs an images-per-class budget, got {}",
                other.header()
            ))),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Budget::Ipc(_) => 0,
            Budget::Fraction(_) => 1,
            Budget::Bytes(_) => 2,
        }
    }
}

impl fmt::Display for Budget {
    /// `ipc10`, `frac0.1`, `bytes4096`; [`Budget::from_str`] reads it back exactly (a
    /// fraction is written in Rust's shortest round-trip form).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Budget::Ipc(k) => write!(f, "ipc{k}"),
            Budget::Fraction(x) => write!(f, "frac{x}"),
            Budget::Bytes(b) => write!(f, "bytes{b}"),
        }
    }
}

impl FromStr for Budget {
    type Err = BudgetError;

    /// Parses the text form described in the module docs and checks the value.
    fn from_str(s: &str) -> Result<Budget, BudgetError> {
        let t = s.trim();
        let (kind, rest) = ["ipc", "fraction", "frac", "bytes"]
            .into_iter()
            .find_map(|k| t.strip_prefix(k).map(|r| (k, r)))
            .ok_or_else(|| BudgetError::Syntax(s.to_string()))?;
        let value = rest
            .strip_prefix(' ')
            .or_else(|| rest.strip_prefix('='))
            .unwrap_or(rest)
            .trim_start();
        if value.is_empty() {
            return Err(BudgetError::Syntax(s.to_string()));
        }
        let number = |what| BudgetError::Number {
            what,
            value: value.to_string(),
        };
        let b = match kind {
            "ipc" => Budget::Ipc(
                value
                    .parse()
                    .map_err(|_| number("a whole number of images per class"))?,
            ),
            "bytes" => Budget::Bytes(
                value
                    .parse()
                    .map_err(|_| number("a whole number of bytes"))?,
            ),
            _ => Budget::Fraction(
                value
                    .parse()
                    .map_err(|_| number("a fraction such as 0.1"))?,
            ),
        };
        b.validated()
    }
}

impl Ord for Budget {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Budget::Ipc(a), Budget::Ipc(b)) => a.cmp(b),
            (Budget::Fraction(a), Budget::Fraction(b)) => a.total_cmp(b),
            (Budget::Bytes(a), Budget::Bytes(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Budget {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Budget {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Budget {}

impl Hash for Budget {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.rank().hash(state);
        match self {
            Budget::Ipc(k) => k.hash(state),
            Budget::Fraction(f) => f.to_bits().hash(state),
            Budget::Bytes(b) => b.hash(state),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        for b in [
            Budget::Ipc(1),
            Budget::Ipc(50),
            Budget::Fraction(0.1),
            Budget::Fraction(0.05),
            Budget::Fraction(1.0),
            Budget::Fraction(1.0 / 3.0),
            Budget::Bytes(4096),
        ] {
            let text = b.to_string();
            assert_eq!(text, b.label());
            assert_eq!(text.parse::<Budget>(), Ok(b), "{text}");
        }
        assert_eq!(Budget::Ipc(10).to_string(), "ipc10");
        assert_eq!(Budget::Fraction(0.1).to_string(), "frac0.1");
        assert_eq!(Budget::Bytes(4096).to_string(), "bytes4096");
    }

    #[test]
    fn parses_the_command_line_spelling() {
        assert_eq!("ipc 10".parse(), Ok(Budget::Ipc(10)));
        assert_eq!(" ipc=10 ".parse(), Ok(Budget::Ipc(10)));
        assert_eq!("fraction 0.1".parse(), Ok(Budget::Fraction(0.1)));
        assert_eq!("fraction=1".parse(), Ok(Budget::Fraction(1.0)));
        assert_eq!("frac0.25".parse(), Ok(Budget::Fraction(0.25)));
        assert_eq!("bytes 4096".parse(), Ok(Budget::Bytes(4096)));
    }

    #[test]
    fn rejects_what_the_command_line_rejects() {
        assert_eq!("ipc0".parse::<Budget>(), Err(BudgetError::NotPositive));
        assert_eq!("bytes0".parse::<Budget>(), Err(BudgetError::NotPositive));
        assert_eq!(
            "frac0".parse::<Budget>(),
            Err(BudgetError::FractionRange(0.0))
        );
        assert_eq!(
            "frac1.5".parse::<Budget>(),
            Err(BudgetError::FractionRange(1.5))
        );
        assert!(matches!(
            "fracNaN".parse::<Budget>(),
            Err(BudgetError::FractionRange(f)) if f.is_nan()
        ));
        for bad in [
            "", "ipc", "10", "IPC 10", "full", "ipc-1", "ipc1.5", "frac", "bytesx",
        ] {
            assert!(bad.parse::<Budget>().is_err(), "{bad:?}");
        }
        assert_eq!(
            "ipc1.5".parse::<Budget>().unwrap_err().to_string(),
            "'1.5' is not a whole number of images per class"
        );
        assert_eq!(
            "full".parse::<Budget>().unwrap_err().to_string(),
            "'full' is not a budget: expected ipcK, fracF or bytesB (e.g. ipc10, frac0.1, bytes4096)"
        );
        // The command line's messages are the flag name plus these.
        assert_eq!(
            format!("--fraction {}", Budget::fraction(1.5).unwrap_err()),
            "--fraction 1.5: must be in (0, 1]"
        );
        assert_eq!(
            format!("--ipc: {}", Budget::ipc(0).unwrap_err()),
            "--ipc: budgets must be positive"
        );
        assert_eq!(Budget::bytes(7), Ok(Budget::Bytes(7)));
    }

    #[test]
    fn one_rounding_rule_for_fractions() {
        // Half away from zero, at least 1, at most N.
        assert_eq!(Budget::fraction_images(0.125, 100), 13);
        assert_eq!(Budget::fraction_images(0.1, 3600), 360);
        assert_eq!(Budget::fraction_images(0.0001, 100), 1);
        assert_eq!(Budget::fraction_images(0.05, 10), 1);
        assert_eq!(Budget::fraction_images(0.15, 10), 2);
        assert_eq!(Budget::fraction_images(1.0, 7), 7);
        assert_eq!(Budget::fraction_images(0.5, 0), 1);
        assert_eq!(Budget::Fraction(0.125).max_images(10, 100), Some(13));
        assert_eq!(Budget::Ipc(3).max_images(10, 100), Some(30));
        assert_eq!(Budget::Bytes(3).max_images(10, 100), None);
        // The upper clamp never binds for a valid fraction.
        for n in 0..2000usize {
            for f in [1.0, 0.999, 0.5, 0.3, 0.1, 0.01] {
                let r = Budget::fraction_images(f, n);
                assert_eq!(r, ((f * n as f64).round() as usize).max(1), "{f} {n}");
            }
        }
    }

    #[test]
    fn total_order_kind_then_value() {
        let mut v = vec![
            Budget::Bytes(10),
            Budget::Fraction(0.5),
            Budget::Ipc(10),
            Budget::Fraction(0.1),
            Budget::Ipc(1),
            Budget::Bytes(2),
        ];
        v.sort();
        assert_eq!(
            v,
            vec![
                Budget::Ipc(1),
                Budget::Ipc(10),
                Budget::Fraction(0.1),
                Budget::Fraction(0.5),
                Budget::Bytes(2),
                Budget::Bytes(10),
            ]
        );
        let set: std::collections::HashSet<Budget> = v.iter().copied().chain(v.clone()).collect();
        assert_eq!(set.len(), 6);
    }

    #[test]
    fn serde_representation_is_unchanged() {
        let cases = [
            (Budget::Ipc(10), r#"{"kind":"ipc","value":10}"#),
            (Budget::Fraction(0.1), r#"{"kind":"fraction","value":0.1}"#),
            (Budget::Bytes(4096), r#"{"kind":"bytes","value":4096}"#),
        ];
        for (b, json) in cases {
            assert_eq!(serde_json::to_string(&b).unwrap(), json);
            assert_eq!(serde_json::from_str::<Budget>(json).unwrap(), b);
        }
    }

    #[test]
    fn images_per_class_names_the_budget() {
        assert_eq!(Budget::Ipc(4).images_per_class().unwrap(), 4);
        let e = Budget::Fraction(0.1).images_per_class().unwrap_err();
        assert!(matches!(e, MethodError::Unsupported(_)));
        assert!(e
            .to_string()
            .starts_with("unsupported: this method needs an images-per-class budget, got 10"));
    }
}
