//! The file's metadata: what it declares (family, budget, seed, pixel range, classes, the
//! source dataset's checksum) checked against the dataset, and the row it is shown under.

use super::error::ImportError;
use super::format::{FORMAT, FORMAT_VERSION};
use super::view::DatasetView;
use crate::plan::derive_seeds;
use distillery_api::{Budget, Family};
use std::collections::BTreeMap;
use std::path::Path;

/// Prefix of an imported method on the command line (`--methods file:PATH`) and of its row.
pub const PREFIX: &str = "file:";

/// The parsed metadata of a file (see CONTRIBUTING.md for the keys).
pub(crate) struct Declared {
    pub family: Family,
    pub budget: Option<Budget>,
    pub seed: Option<u64>,
    /// `float_range = "free"`: float pixels may leave [0, 1].
    pub float_range_free: bool,
    /// Not errors, but worth telling (no checksum to verify, other seeds).
    pub warnings: Vec<String>,
}

/// `file:dm` for metadata method `DM`, else from the file stem.
pub fn row_name(method: Option<&str>, path: &Path) -> String {
    let slug = |s: &str| {
        let mut out = String::new();
        for c in s.to_lowercase().chars() {
            let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            };
            if !(c == '-' && out.ends_with('-')) {
                out.push(c);
            }
        }
        out.trim_matches(|c| c == '-' || c == '.').to_string()
    };
    let from_meta = method.map(slug).filter(|s| !s.is_empty());
    let stem = path
        .file_stem()
        .map(|s| slug(&s.to_string_lossy()))
        .filter(|s| !s.is_empty());
    format!(
        "{PREFIX}{}",
        from_meta.or(stem).unwrap_or_else(|| "set".into())
    )
}

/// Parses a budget label as written in cell ids and metadata: `ipc10`, `frac0.1`, `bytes4096`.
pub fn parse_budget(s: &str) -> Option<Budget> {
    s.parse().ok()
}

/// Checks metadata `m` of `file` against the dataset and returns what it declares.
///
/// # Errors
/// [`ImportErrorKind::Metadata`](super::ImportErrorKind::Metadata) naming the key.
pub(crate) fn parse(
    file: &Path,
    m: &BTreeMap<String, String>,
    view: &DatasetView,
) -> Result<Declared, ImportError> {
    let key_err = |k: &str, why: String| ImportError::metadata(file, k, why);
    check_format_version(m, key_err)?;
    let family = family(m, key_err)?;
    let budget = match m.get("budget") {
        None => None,
        Some(s) => Some(parse_budget(s).ok_or_else(|| {
            key_err(
                "budget",
                format!("{s:?} is not a budget: write ipc<K> (e.g. \"ipc10\"), frac<F> (e.g. \"frac0.1\") or bytes<B>"),
            )
        })?),
    };
    let seed = match m.get("seed") {
        None => None,
        Some(s) => Some(s.trim().parse::<u64>().map_err(|_| {
            key_err(
                "seed",
                format!("{s:?} is not a non-negative integer (the run seed the set was made for)"),
            )
        })?),
    };
    let float_range_free = match m.get("float_range").map(String::as_str) {
        None | Some("unit") => false,
        Some("free") => true,
        Some(other) => {
            return Err(key_err(
                "float_range",
                format!(
                "{other:?}: expected \"unit\" (float pixels in [0, 1], the default) or \"free\""
            ),
            ))
        }
    };
    check_classes(m, view, key_err)?;
    let mut warnings = Vec::new();
    check_checksum(file, m, view, key_err, &mut warnings)?;
    if let (Some(seed), Some(s)) = (seed, m.get("seeds")) {
        let ours = serde_json::to_value(derive_seeds(seed)).unwrap_or_default();
        if serde_json::from_str::<serde_json::Value>(s).ok().as_ref() != Some(&ours) {
            warnings.push(format!(
                "{}: metadata `seeds` differ from this harness's derivation for run seed {seed}; the student is trained with this harness's seeds",
                file.display()
            ));
        }
    }
    Ok(Declared {
        family,
        budget,
        seed,
        float_range_free,
        warnings,
    })
}

/// A `format_version` newer than this harness reads is refused (only for our `format`).
fn check_format_version(
    m: &BTreeMap<String, String>,
    key_err: impl Fn(&str, String) -> ImportError,
) -> Result<(), ImportError> {
    if m.get("format").map(String::as_str) == Some(FORMAT) {
        if let Some(v) = m.get("format_version") {
            let v: u32 = v
                .parse()
                .map_err(|_| key_err("format_version", format!("{v:?} is not a number")))?;
            if v > FORMAT_VERSION {
                return Err(key_err(
                    "format_version",
                    format!("layout version {v} is newer than this harness reads ({FORMAT_VERSION}); update Distillery"),
                ));
            }
        }
    }
    Ok(())
}

/// The declared family, `external` by default; `reference` is reserved.
fn family(
    m: &BTreeMap<String, String>,
    key_err: impl Fn(&str, String) -> ImportError,
) -> Result<Family, ImportError> {
    Ok(match m.get("family").map(|s| s.trim().to_lowercase()) {
        None => Family::External,
        Some(s) => match Family::parse(&s) {
            Some(Family::Reference) => {
                return Err(key_err(
                    "family",
                    "\"reference\" is reserved for reference lines run by the harness (they skip the budget checks); use distillation, pruning, kd or external".into(),
                ))
            }
            Some(fam) => fam,
            None => {
                return Err(key_err(
                    "family",
                    format!("unknown family {s:?} (distillation, pruning, kd or external)"),
                ))
            }
        },
    })
}

/// `class_names` and `num_classes`, when declared, must be the dataset's.
fn check_classes(
    m: &BTreeMap<String, String>,
    view: &DatasetView,
    key_err: impl Fn(&str, String) -> ImportError,
) -> Result<(), ImportError> {
    let k = view.class_names.len();
    if let Some(s) = m.get("class_names") {
        let names: Vec<String> = serde_json::from_str(s).map_err(|_| {
            key_err(
                "class_names",
                "must be a JSON list of strings in label order, e.g. [\"airplane\", \"automobile\", ...]".into(),
            )
        })?;
        if names.len() != k {
            return Err(key_err(
                "class_names",
                format!(
                    "lists {} classes, the dataset `{}` has {k}",
                    names.len(),
                    view.name
                ),
            ));
        }
        if let Some(i) = (0..k).find(|&i| names[i] != view.class_names[i]) {
            return Err(key_err(
                "class_names",
                format!(
                    "label {i} is {:?} in the file but {:?} in the dataset `{}`: the labels would mean other classes",
                    names[i], view.class_names[i], view.name
                ),
            ));
        }
    }
    if let Some(s) = m.get("num_classes") {
        if s.trim().parse::<usize>().ok() != Some(k) {
            return Err(key_err(
                "num_classes",
                format!("{s:?}, but the dataset `{}` has {k} classes", view.name),
            ));
        }
    }
    Ok(())
}

/// The warning for a file without `class_names` (not an ImageFolder tree, whose folders are
/// matched by name): its labels are taken to be the dataset's classes in the dataset's order,
/// which nothing can check. Louder when the dataset's class names are numbers in text order
/// (`0, 1, 10, 2, …`, see [`crate::classes`]), where a set labelled in numeric order is
/// silently permuted. `None` when the file declares `class_names` (checked by `parse`).
pub(crate) fn unchecked_classes(
    file: &Path,
    m: &BTreeMap<String, String>,
    view: &DatasetView,
) -> Option<String> {
    if m.contains_key("class_names") {
        return None;
    }
    let order = crate::classes::preview(view.class_names);
    let mut w = format!(
        "{}: no `class_names` in the metadata: cannot check the class mapping; label i is taken to be class i of `{}` in its order ({order}). Add `class_names` (a JSON list in label order) to have it checked",
        file.display(),
        view.name
    );
    if let Some((label, name)) = crate::classes::numeric_names_out_of_order(view.class_names) {
        w.push_str(&format!(
            ". CAUTION: the dataset's class names are numbers in text order (label {label} is class \"{name}\"): if the set's labels follow numeric order, they mean other classes and the accuracy is meaningless"
        ));
    }
    Some(w)
}

/// A declared `dataset_checksum` must be the dataset's; an absent one is a warning.
fn check_checksum(
    file: &Path,
    m: &BTreeMap<String, String>,
    view: &DatasetView,
    key_err: impl Fn(&str, String) -> ImportError,
    warnings: &mut Vec<String>,
) -> Result<(), ImportError> {
    let Some(want) = view.checksum else {
        return Ok(());
    };
    match m.get("dataset_checksum").map(|s| s.trim().to_lowercase()) {
        Some(c) if c == want => {}
        Some(c) => {
            return Err(key_err(
                "dataset_checksum",
                format!(
                    "the set was made from another dataset (checksum {c}); the dataset `{}` has checksum {want}",
                    view.name
                ),
            ))
        }
        None => warnings.push(format!(
            "{}: no `dataset_checksum` in the metadata: cannot verify that the set was made from `{}` (checksum {})",
            file.display(),
            view.name,
            want
        )),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_recognisable_and_filesystem_safe() {
        let p = Path::new("/x/My Set (v2).safetensors");
        assert_eq!(row_name(Some("DM"), p), "file:dm");
        assert_eq!(
            row_name(Some("Dataset Condensation / DSA"), p),
            "file:dataset-condensation-dsa"
        );
        assert_eq!(row_name(None, p), "file:my-set-v2");
        assert_eq!(row_name(Some("  "), Path::new("/x/.st")), "file:st");
        assert_eq!(parse_budget("ipc10"), Some(Budget::Ipc(10)));
        assert_eq!(parse_budget("frac0.1"), Some(Budget::Fraction(0.1)));
        assert_eq!(parse_budget("bytes4096"), Some(Budget::Bytes(4096)));
        assert_eq!(parse_budget("ipc0"), None);
        assert_eq!(parse_budget("10"), None);
    }
}
