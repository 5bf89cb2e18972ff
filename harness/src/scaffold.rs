//! `bench new-plugin NAME`: a new method crate from the template, added to the workspace.

use std::path::{Path, PathBuf};

/// Why `bench new-plugin` could not create the crate (bad input: exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name is not a valid method name.
    #[error("plugin name {0:?}: use lowercase letters, digits and '-', starting with a letter (it becomes the method name)")]
    BadName(String),
    /// There is no `Cargo.toml` in the directory `bench new-plugin` was run from.
    #[error("{}: run `bench new-plugin` from the repository root (the Distillery workspace)", .manifest.display())]
    NoManifest {
        /// The `Cargo.toml` looked for.
        manifest: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// The `Cargo.toml` is not the Distillery workspace's.
    #[error("{}: not the Distillery workspace (no [workspace] with crates/api); run from the repository root", .0.display())]
    NotTheWorkspace(PathBuf),
    /// `plugins/<name>` is already there.
    #[error("{} already exists; pick another name or remove it", .0.display())]
    Exists(PathBuf),
    /// The workspace manifest has no (terminated) `members = [` list.
    #[error("{}: no `members = [` list", .0.display())]
    NoMembers(PathBuf),
    /// The members list is not terminated.
    #[error("unterminated members list")]
    UnterminatedMembers,
    /// Writing the new files failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

const CARGO: &str = include_str!("../../crates/plugin-template/Cargo.toml");
const LIB: &str = include_str!("../../crates/plugin-template/src/lib.rs");
const README: &str = include_str!("../../crates/plugin-template/README.md");

fn camel(name: &str) -> String {
    name.split('-')
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Creates `plugins/<name>/` under the workspace `root` and registers it as a member.
pub fn new_plugin(root: &Path, name: &str) -> Result<PathBuf, ScaffoldError> {
    if name.is_empty()
        || !name.starts_with(|c: char| c.is_ascii_lowercase())
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(ScaffoldError::BadName(name.to_string()));
    }
    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|source| ScaffoldError::NoManifest {
        manifest: manifest.clone(),
        source,
    })?;
    if !text.contains("[workspace]") || !root.join("crates").join("api").is_dir() {
        return Err(ScaffoldError::NotTheWorkspace(manifest));
    }
    let dir = root.join("plugins").join(name);
    if dir.exists() {
        return Err(ScaffoldError::Exists(dir));
    }
    let ty = camel(name);
    let cargo: String = CARGO
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            if l.starts_with("name = ") {
                format!("name = \"distillery-plugin-{name}\"")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    let lib = LIB
        .replace("const NAME: &'static str = \"template\";", &format!("const NAME: &'static str = \"{name}\";"))
        .replace("[methods.template]", &format!("[methods.{name}]"))
        .replace("Template", &ty)
        .replace(
            "//! Template method plugin: copy it with `bench new-plugin NAME` and replace `compress`.",
            &format!("//! The `{name}` method plugin (from the Distillery template: replace `compress`)."),
        );
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(dir.join("Cargo.toml"), cargo)?;
    std::fs::write(dir.join("src").join("lib.rs"), lib)?;
    std::fs::write(dir.join("README.md"), format!("# {name}\n\nTODO: what the method does, its paper, its defaults.\n\n<!-- template README follows -->\n{README}"))?;
    let Some(start) = text.find("members = [") else {
        return Err(ScaffoldError::NoMembers(manifest));
    };
    let end = start
        + text[start..]
            .find(']')
            .ok_or(ScaffoldError::UnterminatedMembers)?;
    let new_text = format!("{}    \"plugins/{name}\",\n{}", &text[..end], &text[end..]);
    std::fs::write(&manifest, new_text)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case() {
        assert_eq!(camel("my-method"), "MyMethod");
        assert_eq!(camel("dm"), "Dm");
    }

    #[test]
    fn rejects_bad_names_and_non_workspaces() {
        let d = tempfile::tempdir().unwrap();
        assert!(new_plugin(d.path(), "Bad_Name")
            .unwrap_err()
            .to_string()
            .contains("lowercase"));
        assert!(new_plugin(d.path(), "ok")
            .unwrap_err()
            .to_string()
            .contains("repository root"));
    }

    #[test]
    fn creates_a_renamed_crate_and_registers_it() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("crates/api")).unwrap();
        std::fs::write(
            d.path().join("Cargo.toml"),
            "[workspace]\nmembers = [\n    \"harness\",\n]\n",
        )
        .unwrap();
        let dir = new_plugin(d.path(), "my-method").unwrap();
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
        assert!(lib.contains("const NAME: &'static str = \"my-method\";"));
        assert!(lib.contains("export_plugin!(MyMethod)"));
        let cargo = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(cargo.contains("name = \"distillery-plugin-my-method\""));
        let ws = std::fs::read_to_string(d.path().join("Cargo.toml")).unwrap();
        assert!(ws.contains("\"plugins/my-method\",\n]"), "{ws}");
        assert!(new_plugin(d.path(), "my-method")
            .unwrap_err()
            .to_string()
            .contains("already exists"));
    }
}
