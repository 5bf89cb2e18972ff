//! `--method-config FILE`: per-method settings kept outside the protocol.
//!
//! The file has the protocol's syntax for method tables and nothing else:
//!
//! ```toml
//! [methods.dm]
//! iterations = 2000
//! ```
//!
//! A table here is merged over the protocol's `[methods.<name>]` table (keys here win; nested
//! tables merge key by key). The protocol's hash does not change — the protocol is the
//! evaluation, the method config is the method's own choice — but every record carries the
//! effective configuration of its method, and a finished cell is only reused when that
//! configuration is the same.

use std::collections::BTreeMap;
use std::path::Path;

/// Method name -> its table, as JSON (what crosses to the plugin).
pub type Overrides = BTreeMap<String, serde_json::Value>;

/// Reads and checks a method-config file. Errors name the file, and the line for syntax errors.
pub fn load(path: &Path) -> anyhow::Result<Overrides> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read method config {}: {e}", path.display()))?;
    parse(&text).map_err(|e| anyhow::anyhow!("method config {}: {e}", path.display()))
}

/// Parses the text of a method-config file.
pub fn parse(text: &str) -> Result<Overrides, String> {
    let value: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e
            .span()
            .map(|s| text[..s.start].lines().count().max(1))
            .map(|l| format!("line {l}: "))
            .unwrap_or_default();
        format!("{line}{}", e.message())
    })?;
    let mut out = Overrides::new();
    for (key, v) in value {
        if key != "methods" {
            return Err(format!(
                "unknown top-level key `{key}`: a method config holds only [methods.<name>] tables"
            ));
        }
        let toml::Value::Table(methods) = v else {
            return Err("`methods` must be a table of [methods.<name>] tables".into());
        };
        for (name, t) in methods {
            if !matches!(t, toml::Value::Table(_)) {
                return Err(format!("`methods.{name}` must be a table"));
            }
            out.insert(
                name,
                serde_json::to_value(t).map_err(|e| format!("methods.{e}"))?,
            );
        }
    }
    Ok(out)
}

/// `base` with `over` merged on top: objects merge key by key, anything else is replaced.
pub fn merge(base: &serde_json::Value, over: &serde_json::Value) -> serde_json::Value {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            let mut m = b.clone();
            for (k, v) in o {
                let merged = match m.get(k) {
                    Some(bv) => merge(bv, v),
                    None => v.clone(),
                };
                m.insert(k.clone(), merged);
            }
            serde_json::Value::Object(m)
        }
        (_, o) => o.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_method_tables_and_merges_over_the_protocol() {
        let o = parse("[methods.dm]\niterations = 20\n[methods.dm.model]\nwidth = 64\n").unwrap();
        let base =
            json!({"iterations": 1000, "lr": 1.0, "model": {"arch": "convnet", "width": 128}});
        assert_eq!(
            merge(&base, &o["dm"]),
            json!({"iterations": 20, "lr": 1.0, "model": {"arch": "convnet", "width": 64}})
        );
    }

    #[test]
    fn rejects_anything_but_method_tables_with_the_line() {
        let e = parse("[train]\nepochs = 3\n").unwrap_err();
        assert!(e.contains("unknown top-level key `train`"), "{e}");
        let e = parse("[methods]\ndm = 3\n").unwrap_err();
        assert!(e.contains("`methods.dm` must be a table"), "{e}");
        let e = parse("[methods.dm]\niterations = = 3\n").unwrap_err();
        assert!(e.starts_with("line 2: "), "{e}");
    }
}
