//! The published tables under `results/` re-render byte-identical.
//!
//! Re-publishing with `bench report DIR --publish` needs the original `bench --out` records
//! (`cells/*.json`, `plan.json`), which are not in git. What is in git is enough for every
//! file that comes from the [`Report`] alone: each folder's `report.json` is read back into a
//! [`Report`] and rendered again, and the result must equal the committed `table.md`,
//! `table.csv`, `report.json` and SVG figures byte for byte; the committed `README.md` must
//! hold the rendered Markdown table verbatim; the committed `cells.csv` must read back through
//! the per-cell row schema and write out byte-identical.
//!
//! With `RERENDER_DUMP=DIR` set, the rendered files are also written to `DIR/<protocol>/`,
//! for a `diff -r` against `results/mnist-5k/`.

use super::rows::{write_csv, CellCsvRow};
use super::{plots, read_side, Report};
use std::path::PathBuf;

const PUBLISHED: [&str; 3] = ["hard-label", "soft-label", "native-label"];

fn folder(protocol: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../results/mnist-5k")
        .join(protocol)
}

fn committed(protocol: &str, name: &str) -> Option<String> {
    std::fs::read_to_string(folder(protocol).join(name)).ok()
}

fn report(protocol: &str) -> Report {
    let text = committed(protocol, "report.json").expect("a committed report.json");
    let value = exact_json(&text).expect("report.json is JSON");
    serde_json::from_value(value).expect("report.json reads back into a Report")
}

/// Parses JSON with every number read by Rust's correctly rounded `str::parse`: serde_json
/// without its `float_roundtrip` feature (not enabled in this workspace) may land one ulp
/// off, and the renderers print floats in full.
fn exact_json(text: &str) -> Result<serde_json::Value, String> {
    use serde_json::{Map, Number, Value};
    fn ws(b: &[u8], i: &mut usize) {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    }
    fn value(t: &str, i: &mut usize) -> Result<Value, String> {
        let b = t.as_bytes();
        ws(b, i);
        let start = *i;
        match b.get(*i).copied() {
            Some(b'{') => {
                *i += 1;
                let mut m = Map::new();
                loop {
                    ws(b, i);
                    if b.get(*i) == Some(&b'}') {
                        *i += 1;
                        return Ok(Value::Object(m));
                    }
                    let Value::String(k) = value(t, i)? else {
                        return Err(format!("object key at byte {}", *i));
                    };
                    ws(b, i);
                    *i += 1; // ':'
                    m.insert(k, value(t, i)?);
                    ws(b, i);
                    if b.get(*i) == Some(&b',') {
                        *i += 1;
                    }
                }
            }
            Some(b'[') => {
                *i += 1;
                let mut v = Vec::new();
                loop {
                    ws(b, i);
                    if b.get(*i) == Some(&b']') {
                        *i += 1;
                        return Ok(Value::Array(v));
                    }
                    v.push(value(t, i)?);
                    ws(b, i);
                    if b.get(*i) == Some(&b',') {
                        *i += 1;
                    }
                }
            }
            Some(b'"') => {
                *i += 1;
                while b[*i] != b'"' {
                    *i += if b[*i] == b'\\' { 2 } else { 1 };
                }
                *i += 1;
                serde_json::from_str(&t[start..*i]).map_err(|e| e.to_string())
            }
            Some(b't' | b'f' | b'n') => {
                while *i < b.len() && b[*i].is_ascii_alphabetic() {
                    *i += 1;
                }
                serde_json::from_str(&t[start..*i]).map_err(|e| e.to_string())
            }
            _ => {
                while *i < b.len()
                    && matches!(b[*i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    *i += 1;
                }
                let lit = &t[start..*i];
                let n = if let Ok(u) = lit.parse::<u64>() {
                    Number::from(u)
                } else if let Ok(s) = lit.parse::<i64>() {
                    Number::from(s)
                } else {
                    let f: f64 = lit.parse().map_err(|e| format!("{lit}: {e}"))?;
                    Number::from_f64(f).ok_or_else(|| format!("{lit}: not finite"))?
                };
                Ok(Value::Number(n))
            }
        }
    }
    let mut i = 0;
    value(text, &mut i)
}

#[test]
fn published_tables_rerender_byte_identical() {
    for p in PUBLISHED {
        let rep = report(p);
        let rendered: [(&str, Option<String>); 6] = [
            ("table.md", Some(rep.markdown())),
            ("table.csv", Some(rep.csv())),
            ("report.json", Some(format!("{}\n", rep.json()))),
            (
                "accuracy_vs_budget.svg",
                plots::accuracy_vs_budget_svg(&rep),
            ),
            (
                "accuracy_vs_storage.svg",
                plots::accuracy_vs_storage_svg(&rep),
            ),
            ("label_gain.svg", plots::label_gain_svg(&rep)),
        ];
        for (name, text) in rendered {
            let want = committed(p, name);
            assert_eq!(
                want.is_some(),
                text.is_some(),
                "{p}/{name}: present vs drawn"
            );
            if let (Some(want), Some(text)) = (want, text) {
                if let Ok(d) = std::env::var("RERENDER_DUMP") {
                    let d = std::path::Path::new(&d).join(p);
                    std::fs::create_dir_all(&d).unwrap();
                    std::fs::write(d.join(name), &text).unwrap();
                }
                assert!(want == text, "{p}/{name} differs from the committed file");
            }
        }
        // cells.csv: read back through its row struct, written out again.
        let cells = committed(p, "cells.csv").expect("a committed cells.csv");
        let rows: Vec<CellCsvRow> = csv::Reader::from_reader(cells.as_bytes())
            .deserialize()
            .collect::<Result<_, _>>()
            .expect("cells.csv reads through CellCsvRow");
        assert!(
            write_csv(rows).expect("rows write") == cells,
            "{p}/cells.csv does not round-trip through CellCsvRow"
        );
        // And it is a `bench compare` side with every cell.
        let side = read_side(&folder(p)).expect("a compare side");
        assert_eq!(side.rows.len(), cells.lines().count() - 1, "{p}");
        let readme = committed(p, "README.md").expect("a committed README.md");
        assert!(
            readme.contains(&rep.markdown()),
            "{p}/README.md does not hold the rendered table"
        );
    }
}
