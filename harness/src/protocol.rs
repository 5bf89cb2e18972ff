//! Protocols: the versioned, declarative evaluation recipes (`protocols/*.toml`).
//!
//! Parsing is strict (`deny_unknown_fields` everywhere); every error names the file, and the
//! key and line where they can be known. A protocol's *hash* is the SHA-256 of the canonical
//! JSON of everything that can change a result (student, recipes, data split, label mode,
//! method tables) — not of its comments, formatting, description or run defaults — and goes
//! into every record.

use distillery_api::spec::{ModelSpec, TrainSpec};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The protocols shipped with Distillery, embedded so `bench` works from any directory.
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "hard-label",
        include_str!("../../protocols/hard-label.toml"),
    ),
    (
        "hard-label-dc1000",
        include_str!("../../protocols/hard-label-dc1000.toml"),
    ),
    (
        "soft-label",
        include_str!("../../protocols/soft-label.toml"),
    ),
    (
        "native-label",
        include_str!("../../protocols/native-label.toml"),
    ),
    (
        "large-soft-label-224",
        include_str!("../../protocols/large-soft-label-224.toml"),
    ),
    (
        "large-hard-label-224",
        include_str!("../../protocols/large-hard-label-224.toml"),
    ),
    (
        "large-soft-label-64",
        include_str!("../../protocols/large-soft-label-64.toml"),
    ),
    (
        "large-hard-label-64",
        include_str!("../../protocols/large-hard-label-64.toml"),
    ),
];

/// The protocol file format understood by this build.
pub const FORMAT: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelMode {
    /// Students train on the method's hard labels with cross-entropy.
    Hard,
    /// The protocol's teacher relabels every augmented batch (KL at `[soft] temperature`);
    /// the method's own labels are ignored, so only its images compete.
    Soft,
    /// The method's own labels: hard, static soft labels, or its label function / stored
    /// labels (KD-style methods), with their storage counted.
    Native,
}

impl LabelMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LabelMode::Hard => "hard",
            LabelMode::Soft => "soft",
            LabelMode::Native => "native",
        }
    }
}

/// `[soft]`: how the soft-label protocol uses its teacher.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftSpec {
    /// Temperature of the KL term.
    pub temperature: f64,
    /// Multiply the KL term by `T^2` (default true: Hinton et al.; the small-image
    /// soft-label protocol). The large-image benchmark's code does not (`t_squared = false`).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub t_squared: bool,
}

fn yes() -> bool {
    true
}
fn is_true(b: &bool) -> bool {
    *b
}

/// `[data] normalization`: the per-channel mean and std images are normalised with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Normalization {
    /// The train split's own per-channel statistics (the default).
    Dataset,
    /// torchvision's ImageNet statistics, mean (0.485, 0.456, 0.406), std (0.229, 0.224,
    /// 0.225): what pretrained torchvision teachers expect.
    Imagenet,
}

impl Normalization {
    /// ImageNet's per-channel mean in [0, 1] pixel scale (torchvision's `Normalize` values).
    pub const IMAGENET_MEAN: [f64; 3] = [0.485, 0.456, 0.406];
    /// ImageNet's per-channel standard deviation in [0, 1] pixel scale.
    pub const IMAGENET_STD: [f64; 3] = [0.229, 0.224, 0.225];
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    pub dataset: String,
    pub ipc: Vec<usize>,
    pub seeds: usize,
    pub methods: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// Fraction of each class of the train split held out as the validation split.
    pub val_fraction: f64,
    /// Seed of the (fixed, per-dataset) validation hold-out.
    pub val_seed: u64,
    /// ImageFolder datasets: every train image stretched to a square of this side, pixels
    /// (torchvision `Resize((s, s))`, bilinear; the benchmark's published sets are
    /// "pre-resized to 224x224"). Absent: `--image-size` decides (default 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_resize: Option<u32>,
    /// ImageFolder datasets: the test split's shorter side resized to this, pixels, aspect
    /// kept (torchvision `Resize(n)`); needs `eval_crop`. Absent: no resize.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_resize: Option<u32>,
    /// ImageFolder datasets: the test split centre-cropped to a square of this side, pixels
    /// (torchvision `CenterCrop(n)`), after `eval_resize`; must equal the train images' side.
    /// Absent (with `eval_resize` absent too): test images are preprocessed like train images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_crop: Option<u32>,
    /// Normalisation statistics (default: the train split's own, `"dataset"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalization: Option<Normalization>,
}

impl DataSpec {
    /// Checks the `[data]` preprocessing keys: each at least 1, `eval_resize` only with
    /// `eval_crop`, a crop no larger than the resize, and a crop of the train images' side
    /// when `train_resize` is given. `Err((key, why))`.
    pub fn validate_preprocessing(&self) -> Result<(), (&'static str, String)> {
        for (key, v) in [
            ("train_resize", self.train_resize),
            ("eval_resize", self.eval_resize),
            ("eval_crop", self.eval_crop),
        ] {
            if v == Some(0) {
                return Err((key, "must be at least 1 (pixels)".into()));
            }
        }
        match (self.eval_resize, self.eval_crop) {
            (Some(r), None) => {
                return Err((
                    "eval_resize",
                    format!("needs eval_crop: resizing the shorter side to {r} keeps the aspect ratio, so the test images would not all be one size"),
                ))
            }
            (Some(r), Some(c)) if c > r => {
                return Err((
                    "eval_crop",
                    format!("{c} is larger than eval_resize = {r}: the crop must fit in the resized image"),
                ))
            }
            _ => {}
        }
        if let (Some(s), Some(c)) = (self.train_resize, self.eval_crop) {
            if s != c {
                return Err((
                    "eval_crop",
                    format!("{c} differs from train_resize = {s}: the student sees train and test images of one size"),
                ));
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSpec {
    pub batch_size: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protocol {
    /// File format version (must equal [`FORMAT`]).
    pub format: u32,
    pub name: String,
    /// The protocol's own version; bump on any change that can move a number.
    pub version: String,
    pub description: String,
    /// Where the recipe comes from (papers, code), for captions and the README.
    pub source: String,
    pub labels: LabelMode,
    pub defaults: Defaults,
    pub data: DataSpec,
    pub student: ModelSpec,
    /// The recipe every compressed set is evaluated with.
    pub train: TrainSpec,
    /// The recipe of the `full` reference line (whole train split).
    pub reference: TrainSpec,
    pub eval: EvalSpec,
    /// Per-method configuration tables, `[methods.<name>]`, passed to the plugin as JSON.
    #[serde(default)]
    pub methods: BTreeMap<String, toml::Value>,
    /// The protocol's teacher (required by `labels = "soft"`; used by KD label functions under
    /// `labels = "native"` and by methods that ask for it, e.g. SRe2L and RDED).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher: Option<distillery_api::spec::TeacherSpec>,
    /// Required by `labels = "soft"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft: Option<SoftSpec>,
}

/// A loaded protocol with its provenance and hash.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub protocol: Protocol,
    /// The file it came from, or `<embedded>/NAME.toml`.
    pub origin: String,
    pub text: String,
    /// [`canonical_hash`] of the protocol; with a pretrained teacher's file
    /// ([`Loaded::with_teacher`]), the SHA-256 of that hash and the file's SHA-256, so that
    /// records made with other teacher weights are never taken for current.
    pub hash: String,
}

/// `bench --teacher FILE [--teacher-classes FILE]`: the weights of a pretrained teacher
/// (recorded in the plan so every cell reads the same file).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TeacherFile {
    /// The weights (`.safetensors`, torchvision layout).
    pub file: PathBuf,
    /// The class list (one name per line); default `<file stem>.classes.txt` next to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error("unknown protocol '{0}': not a file, and not one of the shipped protocols ({1}). Pass a path to a .toml file or a shipped name.")]
    Unknown(String, String),
    #[error("{0}: cannot read: {1}")]
    Io(PathBuf, std::io::Error),
}

/// Finds the line of `key` inside `[table]` in TOML text (1-based), for error messages.
fn locate(text: &str, table: &str, key: &str) -> Option<usize> {
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            current = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
        } else if current == table && t.split('=').next().map(str::trim) == Some(key) {
            return Some(i + 1);
        }
    }
    None
}

impl Loaded {
    /// Loads a protocol by shipped name or path.
    pub fn resolve(spec: &str) -> Result<Loaded, ProtocolError> {
        let path = Path::new(spec);
        if path.is_file() {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ProtocolError::Io(path.to_path_buf(), e))?;
            return Self::parse(&text, &path.display().to_string());
        }
        if let Some((name, text)) = SHIPPED.iter().find(|(n, _)| *n == spec) {
            return Self::parse(text, &format!("<embedded>/protocols/{name}.toml"));
        }
        let names: Vec<&str> = SHIPPED.iter().map(|(n, _)| *n).collect();
        Err(ProtocolError::Unknown(spec.to_string(), names.join(", ")))
    }

    /// Parses and validates protocol text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Loaded, ProtocolError> {
        let invalid = |message: String| ProtocolError::Invalid {
            origin: origin.to_string(),
            message,
        };
        let protocol: Protocol =
            toml::from_str(text).map_err(|e| invalid(e.to_string().trim_end().to_string()))?;
        let at = |table: &str, key: &str| {
            let name = if table.is_empty() {
                key.to_string()
            } else {
                format!("[{table}] {key}")
            };
            match locate(text, table, key) {
                Some(l) => format!("{name} (line {l})"),
                None => name,
            }
        };
        if protocol.format != FORMAT {
            return Err(invalid(format!(
                "{}: format {} is not supported by this build (expected {FORMAT})",
                at("", "format"),
                protocol.format
            )));
        }
        for (table, spec) in [
            ("train", &protocol.train),
            ("reference", &protocol.reference),
        ] {
            if let Err((key, why)) = spec.validate() {
                return Err(invalid(format!("{}: {why}", at(table, &key))));
            }
        }
        if let Some(t) = &protocol.teacher {
            if let Err((key, why)) = t.validate() {
                let (table, key) = match key.split_once('.') {
                    Some((a, b)) => (format!("teacher.{a}"), b.to_string()),
                    None => ("teacher".to_string(), key),
                };
                return Err(invalid(format!("{}: {why}", at(&table, &key))));
            }
        }
        if protocol.labels == LabelMode::Soft {
            if protocol.teacher.is_none() {
                return Err(invalid(format!(
                    "{}: \"soft\" needs a [teacher] table (model, train, seed) to relabel batches",
                    at("", "labels")
                )));
            }
            match &protocol.soft {
                None => {
                    return Err(invalid(format!(
                        "{}: \"soft\" needs a [soft] table with the KL temperature",
                        at("", "labels")
                    )))
                }
                Some(s) if !(s.temperature > 0.0 && s.temperature.is_finite()) => {
                    return Err(invalid(format!(
                        "{}: must be a positive number, found {}",
                        at("soft", "temperature"),
                        s.temperature
                    )))
                }
                Some(_) => {}
            }
        } else if protocol.soft.is_some() {
            return Err(invalid(format!(
                "[soft]: only used with labels = \"soft\" (this protocol has labels = \"{}\")",
                protocol.labels.as_str()
            )));
        }
        if let Err((key, why)) = protocol.data.validate_preprocessing() {
            return Err(invalid(format!("{}: {why}", at("data", key))));
        }
        if !(0.0..0.9).contains(&protocol.data.val_fraction) {
            return Err(invalid(format!(
                "{}: must be in [0, 0.9), found {}",
                at("data", "val_fraction"),
                protocol.data.val_fraction
            )));
        }
        if protocol.student.width < 1 || protocol.student.depth < 1 {
            return Err(invalid(format!(
                "{}: width and depth must be >= 1",
                at("student", "width")
            )));
        }
        if protocol.eval.batch_size < 1 {
            return Err(invalid(format!(
                "{}: must be >= 1",
                at("eval", "batch_size")
            )));
        }
        if protocol.defaults.seeds < 1
            || protocol.defaults.ipc.is_empty()
            || protocol.defaults.ipc.contains(&0)
        {
            return Err(invalid(format!(
                "[defaults]: seeds must be >= 1 and ipc a non-empty list of positive integers (line {})",
                locate(text, "defaults", "ipc").unwrap_or(0)
            )));
        }
        let hash = canonical_hash(&protocol);
        Ok(Loaded {
            protocol,
            origin: origin.to_string(),
            text: text.to_string(),
            hash,
        })
    }

    /// The protocol with its pretrained teacher's weights: `given` (from `--teacher`) replaces
    /// the protocol's `[teacher.pretrained] file`; the class list defaults to
    /// `<file stem>.classes.txt` next to the weights. The hash then covers the file's
    /// SHA-256. Without a pretrained teacher, `given` is refused and nothing changes.
    ///
    /// # Errors
    /// `--teacher` for a protocol whose teacher is not pretrained, a pretrained teacher without
    /// a file, or a file that cannot be read.
    pub fn with_teacher(mut self, given: Option<&TeacherFile>) -> Result<Loaded, String> {
        let origin = self.origin.clone();
        let Some(pre) = self
            .protocol
            .teacher
            .as_mut()
            .and_then(|t| t.pretrained.as_mut())
        else {
            return match given {
                Some(g) => Err(format!(
                    "--teacher {}: protocol '{}' ({origin}) has no pretrained teacher ([teacher.pretrained]); its teacher, if any, is trained by the harness",
                    g.file.display(),
                    self.protocol.name
                )),
                None => Ok(self),
            };
        };
        if let Some(g) = given {
            pre.file = Some(g.file.clone());
            if g.classes.is_some() {
                pre.classes = g.classes.clone();
            }
        }
        let Some(file) = pre.file.clone() else {
            return Err(format!(
                "protocol '{}' ({origin}) needs a pretrained teacher: give its weights with --teacher FILE.safetensors (a torchvision-layout state dict; README, \"Large-image protocols\")",
                self.protocol.name
            ));
        };
        let file = std::path::absolute(&file).unwrap_or(file);
        if pre.classes.is_none() {
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            pre.classes = Some(file.with_file_name(format!("{stem}.classes.txt")));
        }
        pre.classes = pre
            .classes
            .take()
            .map(|c| std::path::absolute(&c).unwrap_or(c));
        pre.file = Some(file.clone());
        let sha = distillery_api::teacher::sha256_of(&file)
            .map_err(|e| format!("--teacher {}: {e}", file.display()))?;
        self.hash = hex::encode(Sha256::digest(
            format!("{}+teacher-weights:{sha}", canonical_hash(&self.protocol)).as_bytes(),
        ));
        Ok(self)
    }

    /// The `[methods.<name>]` table as JSON (`{}` when absent).
    pub fn method_config(&self, name: &str) -> serde_json::Value {
        self.protocol
            .methods
            .get(name)
            .map(|v| serde_json::to_value(v).unwrap_or(serde_json::Value::Null))
            .unwrap_or_else(|| serde_json::json!({}))
    }

    /// First 12 hex digits of the hash, for captions.
    pub fn short_hash(&self) -> &str {
        &self.hash[..12]
    }
}

/// SHA-256 over the canonical JSON (sorted keys) of the result-relevant parts.
pub fn canonical_hash(p: &Protocol) -> String {
    let mut v = serde_json::to_value(p).expect("protocol serialises");
    if let Some(o) = v.as_object_mut() {
        o.remove("defaults");
        o.remove("description");
        o.remove("source");
        // Where the user keeps a pretrained teacher's files is not the recipe: its content
        // is ([`Loaded::with_teacher`] adds the weights' SHA-256).
        if let Some(pre) = o
            .get_mut("teacher")
            .and_then(|t| t.get_mut("pretrained"))
            .and_then(|p| p.as_object_mut())
        {
            pre.remove("file");
            pre.remove("classes");
        }
    }
    // serde_json's Map is a BTreeMap here (no preserve_order): keys serialise sorted.
    let canonical = serde_json::to_string(&v).expect("json");
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_protocols_parse() {
        for (name, _) in SHIPPED {
            let l = Loaded::resolve(name).unwrap();
            assert_eq!(&l.protocol.name, name);
            assert_eq!(l.hash.len(), 64);
        }
    }

    #[test]
    fn hash_ignores_comments_and_formatting_but_not_the_recipe() {
        let text = SHIPPED[0].1;
        let a = Loaded::parse(text, "a").unwrap();
        let b = Loaded::parse(
            &format!(
                "# a comment\n{}",
                text.replace("lr = 0.01", "lr   =   0.01")
            ),
            "b",
        )
        .unwrap();
        assert_eq!(a.hash, b.hash);
        let c = Loaded::parse(&text.replacen("epochs = 300", "epochs = 301", 1), "c").unwrap();
        assert_ne!(a.hash, c.hash);
    }

    #[test]
    fn unknown_key_names_file_key_and_line() {
        let text = SHIPPED[0]
            .1
            .replacen("[train]\n", "[train]\nlearning_rate = 0.1\n", 1);
        let e = Loaded::parse(&text, "protocols/bad.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("protocols/bad.toml: "), "{e}");
        assert!(e.contains("unknown field `learning_rate`"), "{e}");
        let line = text
            .lines()
            .position(|l| l.starts_with("learning_rate"))
            .unwrap()
            + 1;
        assert!(e.contains(&format!("line {line}")), "{e}");
    }

    #[test]
    fn bad_value_names_table_key_and_line() {
        let text = SHIPPED[0].1.replacen("momentum = 0.9", "momentum = 1.5", 1);
        let e = Loaded::parse(&text, "p.toml").unwrap_err().to_string();
        let line = text
            .lines()
            .position(|l| l.starts_with("momentum = 1.5"))
            .unwrap()
            + 1;
        assert!(
            e.contains(&format!(
                "[train] momentum (line {line}): must be in [0, 1), found 1.5"
            )),
            "{e}"
        );
    }

    #[test]
    fn wrong_type_is_reported() {
        let text = SHIPPED[0]
            .1
            .replacen("epochs = 300", "epochs = \"many\"", 1);
        let e = Loaded::parse(&text, "p.toml").unwrap_err().to_string();
        assert!(e.contains("p.toml") && e.contains("epochs"), "{e}");
    }

    #[test]
    fn unknown_protocol_lists_shipped_ones() {
        let e = Loaded::resolve("no-such-protocol").unwrap_err().to_string();
        assert!(
            e.contains("hard-label") && e.contains("no-such-protocol"),
            "{e}"
        );
    }

    fn shipped(name: &str) -> &'static str {
        SHIPPED.iter().find(|(n, _)| *n == name).unwrap().1
    }

    #[test]
    fn the_label_protocols_differ_from_hard_label_only_in_their_labels() {
        let hard = Loaded::parse(shipped("hard-label"), "h").unwrap().protocol;
        for name in ["soft-label", "native-label"] {
            let p = Loaded::parse(shipped(name), name).unwrap().protocol;
            assert_eq!(p.student, hard.student, "{name}");
            assert_eq!(p.train, hard.train, "{name}");
            assert_eq!(p.reference, hard.reference, "{name}");
            assert_eq!(p.data.val_fraction, hard.data.val_fraction, "{name}");
            assert!(p.teacher.is_some(), "{name}");
        }
        // The hard-label hash is unchanged by the optional label tables (records stay current).
        assert!(hard.teacher.is_none() && hard.soft.is_none());
    }

    #[test]
    fn data_preprocessing_keys_are_optional_checked_and_hashed() {
        let text = shipped("hard-label");
        let plain = Loaded::parse(text, "p").unwrap();
        let with = |extra: &str| text.replacen("[data]\n", &format!("[data]\n{extra}"), 1);
        let l = Loaded::parse(
            &with("train_resize = 224\neval_resize = 256\neval_crop = 224\n"),
            "p",
        )
        .unwrap();
        let d = &l.protocol.data;
        assert_eq!(
            (d.train_resize, d.eval_resize, d.eval_crop),
            (Some(224), Some(256), Some(224))
        );
        assert_ne!(l.hash, plain.hash);
        for (extra, want) in [
            ("eval_resize = 256\n", "[data] eval_resize (line "),
            (
                "eval_resize = 200\neval_crop = 224\n",
                "224 is larger than eval_resize = 200",
            ),
            (
                "train_resize = 64\neval_crop = 56\n",
                "56 differs from train_resize = 64",
            ),
            ("train_resize = 0\n", "[data] train_resize (line "),
        ] {
            let e = Loaded::parse(&with(extra), "p.toml")
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("p.toml: ") && e.contains(want),
                "{extra}: {e}"
            );
        }
    }

    #[test]
    fn soft_labels_need_a_teacher_and_a_temperature() {
        let soft = shipped("soft-label");
        let cut = &soft[..soft.find("\n[teacher]").unwrap()];
        let e = Loaded::parse(cut, "x.toml").unwrap_err().to_string();
        assert!(
            e.starts_with("x.toml: labels (line ") && e.contains("needs a [teacher] table"),
            "{e}"
        );
        let e = Loaded::parse(
            &soft.replace("temperature = 4.0", "temperature = 0.0"),
            "x.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("[soft] temperature (line ") && e.contains("positive"),
            "{e}"
        );
        let e = Loaded::parse(
            &format!("{}\n[soft]\ntemperature = 2.0\n", shipped("hard-label")),
            "h.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("[soft]: only used with labels = \"soft\""),
            "{e}"
        );
        let e = Loaded::parse(&soft.replacen("epochs = 10", "epochs = 0", 1), "x.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[teacher.train] epochs (line ") && e.contains("at least 1"),
            "{e}"
        );
    }
}
