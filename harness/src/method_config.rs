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
use std::path::{Path, PathBuf};

/// Method name -> its table, as JSON (what crosses to the plugin).
pub type Overrides = BTreeMap<String, serde_json::Value>;

/// Why a method-config file cannot be used; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum MethodConfigError {
    /// The file cannot be read.
    #[error("cannot read method config {}: {error}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The file's content is refused.
    #[error("method config {}: {error}", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong in it.
        error: ParseError,
    },
}

/// What is wrong in the text of a method-config file.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ParseError {
    /// Not TOML; `line` (1-based) when the parser knows where.
    #[error("{}{message}", .line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Syntax {
        /// The line of the error, when known.
        line: Option<usize>,
        /// The TOML parser's message.
        message: String,
    },
    /// A top-level key other than `methods`.
    #[error("unknown top-level key `{0}`: a method config holds only [methods.<name>] tables")]
    UnknownKey(String),
    /// `methods` is a value, not a table.
    #[error("`methods` must be a table of [methods.<name>] tables")]
    MethodsNotTable,
    /// `methods.<name>` is a value, not a table.
    #[error("`methods.{0}` must be a table")]
    MethodNotTable(String),
    /// A table that cannot be expressed as JSON.
    #[error("methods.{0}")]
    Json(String),
}

/// Reads and checks a method-config file. Errors name the file, and the line for syntax errors.
///
/// # Errors
/// [`MethodConfigError::Read`] if the file cannot be read, [`MethodConfigError::Parse`] if
/// [`parse`] refuses it.
pub fn load(path: &Path) -> Result<Overrides, MethodConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| MethodConfigError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    parse(&text).map_err(|error| MethodConfigError::Parse {
        path: path.to_path_buf(),
        error,
    })
}

/// Parses the text of a method-config file.
///
/// # Errors
/// A [`ParseError`]: not TOML, or anything but `[methods.<name>]` tables.
pub fn parse(text: &str) -> Result<Overrides, ParseError> {
    let value: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e.span().map(|s| text[..s.start].lines().count().max(1));
        ParseError::Syntax {
            line,
            message: e.message().to_string(),
        }
    })?;
    let mut out = Overrides::new();
    for (key, v) in value {
        if key != "methods" {
            return Err(ParseError::UnknownKey(key));
        }
        let toml::Value::Table(methods) = v else {
            return Err(ParseError::MethodsNotTable);
        };
        for (name, t) in methods {
            if !matches!(t, toml::Value::Table(_)) {
                return Err(ParseError::MethodNotTable(name));
            }
            out.insert(
                name,
                serde_json::to_value(t).map_err(|e| ParseError::Json(e.to_string()))?,
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
        let e = parse("[train]\nepochs = 3\n").unwrap_err().to_string();
        assert!(e.contains("unknown top-level key `train`"), "{e}");
        let e = parse("[methods]\ndm = 3\n").unwrap_err().to_string();
        assert!(e.contains("`methods.dm` must be a table"), "{e}");
        let e = parse("[methods.dm]\niterations = = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("line 2: "), "{e}");
    }
}
