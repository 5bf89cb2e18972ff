//! Whether two result sets may be put in one number: the one check behind every number
//! computed across two result directories (the label gain of `bench report --hard-label`,
//! `bench compare A B`).
//!
//! Records carry the protocol's hash and the dataset's checksum. The protocol's text (to tell
//! *what* differs, and to compare recipes apart from their label regime) is found, per hash,
//! in the directory's `plan.json` (a `bench --out` directory) or among the protocols shipped
//! with `bench` (a published directory of a shipped protocol); otherwise it is unknown and
//! the check says so.
//!
//! Two sides are **comparable** when they share the dataset checksum and
//! - for a label gain: the recipe apart from the label regime ([`recipe_json`]: everything
//!   in the protocol hash except `name`, `version`, `labels`, `teacher` and `soft`), i.e. the
//!   same student, training recipe, reference recipe, validation split, evaluation and method
//!   settings;
//! - for `bench compare`: the protocol hash itself.

use crate::protocol::{Loaded, Protocol, SHIPPED};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The protocol as hashed, without the fields that are not part of the recipe: `defaults`,
/// `description`, `source` (as in the protocol hash) and, apart from those, `name`,
/// `version` and the label regime (`labels`, `teacher`, `soft`).
pub fn recipe_json(p: &Protocol) -> Value {
    let mut v = serde_json::to_value(p).expect("protocol serialises");
    if let Some(o) = v.as_object_mut() {
        for k in [
            "defaults",
            "description",
            "source",
            "name",
            "version",
            "labels",
            "teacher",
            "soft",
        ] {
            o.remove(k);
        }
    }
    v
}

/// The protocol as hashed (without `defaults`, `description`, `source`), to name what differs
/// between two protocol hashes.
fn hashed_json(p: &Protocol) -> Value {
    let mut v = serde_json::to_value(p).expect("protocol serialises");
    if let Some(o) = v.as_object_mut() {
        for k in ["defaults", "description", "source"] {
            o.remove(k);
        }
    }
    v
}

/// One side of a cross-set number: its label (a path, for messages), its dataset checksums
/// and, per protocol hash, the protocol when its text can be found.
#[derive(Clone, Debug)]
pub struct SideFacts {
    pub label: String,
    pub dataset_checksums: BTreeSet<String>,
    pub protocols: BTreeMap<String, Option<Protocol>>,
}

impl SideFacts {
    /// The facts of the results in `dir` whose cells carry `hashes` and `checksums`: the
    /// protocol of each hash from `dir/plan.json` when its hash matches, else from the shipped
    /// protocols.
    pub fn of<'a>(
        dir: &Path,
        hashes: impl IntoIterator<Item = &'a str>,
        checksums: impl IntoIterator<Item = &'a str>,
    ) -> SideFacts {
        let plan = std::fs::read_to_string(dir.join("plan.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|p| {
                let text = p["protocol_text"].as_str()?.to_string();
                Loaded::parse(&text, "plan.json").ok()
            });
        let shipped: Vec<Loaded> = SHIPPED
            .iter()
            .filter_map(|(n, t)| Loaded::parse(t, n).ok())
            .collect();
        let protocols = hashes
            .into_iter()
            .map(|h| {
                let p = plan
                    .iter()
                    .chain(&shipped)
                    .find(|l| l.hash == h)
                    .map(|l| l.protocol.clone());
                (h.to_string(), p)
            })
            .collect();
        SideFacts {
            label: dir.display().to_string(),
            dataset_checksums: checksums.into_iter().map(str::to_string).collect(),
            protocols,
        }
    }
}

/// What a cross-set number needs to be the same on both sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Across {
    /// A label gain: the recipe apart from the label regime.
    LabelRegime,
    /// `bench compare`: the whole protocol.
    Protocol,
}

/// The outcome of [`check`]: `problems` say why the sides are not comparable (empty when they
/// are, as far as could be checked); `unchecked` what could not be checked (a protocol whose
/// text was not found).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Comparability {
    pub problems: Vec<String>,
    pub unchecked: Vec<String>,
}

impl Comparability {
    pub fn is_comparable(&self) -> bool {
        self.problems.is_empty()
    }
}

fn short(h: &str) -> &str {
    &h[..12.min(h.len())]
}

/// Leaf paths where two JSON values differ, as `path: a vs b` (at most 6, then `…`).
pub fn json_diff(a: &Value, b: &Value) -> Vec<String> {
    fn walk(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<String>) {
        match (a, b) {
            (Some(Value::Object(x)), Some(Value::Object(y))) => {
                let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(&p, x.get(k), y.get(k), out);
                }
            }
            (x, y) if x == y => {}
            (x, y) => {
                let show = |v: Option<&Value>| v.map_or("(absent)".to_string(), Value::to_string);
                out.push(format!("{path} {} vs {}", show(x), show(y)));
            }
        }
    }
    let mut out = Vec::new();
    walk("", Some(a), Some(b), &mut out);
    if out.len() > 6 {
        out.truncate(6);
        out.push("…".into());
    }
    out
}

/// Whether `a` and `b` may be combined into one number `across` what (see the module docs).
pub fn check(a: &SideFacts, b: &SideFacts, across: Across) -> Comparability {
    let mut c = Comparability::default();
    let show = |s: &BTreeSet<String>| s.iter().map(|h| short(h)).collect::<Vec<_>>().join(", ");
    if a.dataset_checksums != b.dataset_checksums {
        c.problems.push(format!(
            "dataset checksums differ ({}: {}; {}: {})",
            a.label,
            show(&a.dataset_checksums),
            b.label,
            show(&b.dataset_checksums)
        ));
    }
    let hashes = |s: &SideFacts| s.protocols.keys().cloned().collect::<BTreeSet<_>>();
    for s in [a, b] {
        for (h, p) in &s.protocols {
            if p.is_none() {
                c.unchecked.push(format!(
                    "{}: the text of protocol {} was not found (no plan.json with it, not a shipped protocol), so its recipe cannot be compared",
                    s.label,
                    short(h)
                ));
            }
        }
    }
    let key = |p: &Protocol| match across {
        Across::LabelRegime => recipe_json(p),
        Across::Protocol => hashed_json(p),
    };
    match across {
        Across::Protocol => {
            if hashes(a) != hashes(b) {
                c.problems.push(format!(
                    "protocol hashes differ ({}: {}; {}: {}){}",
                    a.label,
                    show(&hashes(a)),
                    b.label,
                    show(&hashes(b)),
                    differences(a, b, key)
                ));
            }
        }
        Across::LabelRegime => {
            // Every known recipe of A against every known recipe of B.
            let ra: Vec<Value> = a.protocols.values().flatten().map(key).collect();
            let rb: Vec<Value> = b.protocols.values().flatten().map(key).collect();
            if ra.iter().any(|x| rb.iter().any(|y| x != y)) {
                c.problems.push(format!(
                    "the recipes differ apart from the label regime ({}: protocol {}; {}: protocol {}){}",
                    a.label,
                    show(&hashes(a)),
                    b.label,
                    show(&hashes(b)),
                    differences(a, b, key)
                ));
            }
        }
    }
    c
}

/// `: <path a vs b>, …` between the first known protocols of each side, or empty.
fn differences(a: &SideFacts, b: &SideFacts, key: impl Fn(&Protocol) -> Value) -> String {
    let first = |s: &SideFacts| s.protocols.values().flatten().next().map(&key);
    match (first(a), first(b)) {
        (Some(x), Some(y)) => {
            let d = json_diff(&x, &y);
            if d.is_empty() {
                String::new()
            } else {
                format!(": {}", d.join(", "))
            }
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(name: &str) -> Loaded {
        let t = SHIPPED.iter().find(|(n, _)| *n == name).unwrap().1;
        Loaded::parse(t, name).unwrap()
    }

    fn side(label: &str, l: Option<&Loaded>, hash: &str, checksum: &str) -> SideFacts {
        SideFacts {
            label: label.into(),
            dataset_checksums: [checksum.to_string()].into(),
            protocols: [(hash.to_string(), l.map(|l| l.protocol.clone()))].into(),
        }
    }

    /// The shipped soft-label protocol is the hard-label recipe with other labels: a label gain
    /// between them is comparable; a hard-label copy with another lr and epochs is not, and the
    /// message names what differs; another dataset is not; an unknown protocol is unchecked.
    #[test]
    fn label_gain_needs_the_same_recipe_apart_from_labels_and_the_same_dataset() {
        let hard = shipped("hard-label");
        let soft = shipped("soft-label");
        let s = side("SOFT", Some(&soft), &soft.hash, "d1");
        let h = side("HARD", Some(&hard), &hard.hash, "d1");
        assert_eq!(check(&s, &h, Across::LabelRegime), Comparability::default());
        // bench compare between them: different protocols.
        let c = check(&s, &h, Across::Protocol);
        assert_eq!(c.problems.len(), 1, "{c:?}");
        assert!(
            c.problems[0].contains("labels \"soft\" vs \"hard\""),
            "{c:?}"
        );

        let text = SHIPPED
            .iter()
            .find(|(n, _)| *n == "hard-label")
            .unwrap()
            .1
            .replace("epochs = 300", "epochs = 30")
            .replace("lr = 0.01\n", "lr = 0.05\n");
        let other = Loaded::parse(&text, "copy.toml").unwrap();
        assert_ne!(other.hash, hard.hash);
        let o = side("HARD2", Some(&other), &other.hash, "d1");
        let c = check(&s, &o, Across::LabelRegime);
        assert_eq!(c.problems.len(), 1, "{c:?}");
        assert!(
            c.problems[0].starts_with(&format!(
                "the recipes differ apart from the label regime (SOFT: protocol {}; HARD2: protocol {}): ",
                &soft.hash[..12],
                &other.hash[..12]
            )),
            "{c:?}"
        );
        assert!(
            c.problems[0].contains("train.epochs 300 vs 30")
                && c.problems[0].contains("train.lr 0.01 vs 0.05"),
            "{c:?}"
        );

        let d = side("HARD", Some(&hard), &hard.hash, "d2");
        let c = check(&s, &d, Across::LabelRegime);
        assert_eq!(
            c.problems,
            ["dataset checksums differ (SOFT: d1; HARD: d2)"]
        );

        let u = side("HARD", None, "ffffffffffffffff", "d1");
        let c = check(&s, &u, Across::LabelRegime);
        assert!(c.problems.is_empty());
        assert_eq!(
            c.unchecked,
            ["HARD: the text of protocol ffffffffffff was not found (no plan.json with it, not a shipped protocol), so its recipe cannot be compared"]
        );
    }
}
