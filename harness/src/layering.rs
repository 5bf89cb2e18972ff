//! The harness's modules form a DAG (no import circles): a test that reads this crate's own
//! sources, collects every `crate::<module>` reference of each top-level module (comments
//! stripped) and fails on a cycle, naming it. `cli` is the command layer on top; nothing below
//! may import it.

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    /// Every `.rs` file below `dir`.
    fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                sources(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// Top-level module → the top-level modules it names as `crate::x` or `crate::{x, …}`.
    fn graph() -> BTreeMap<String, BTreeSet<String>> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&src, &mut files);
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for f in files {
            let rel = f.strip_prefix(&src).unwrap();
            let first = rel.components().next().unwrap().as_os_str();
            let top = first.to_string_lossy().trim_end_matches(".rs").to_string();
            if top == "lib" || top == "main" {
                continue;
            }
            let text = std::fs::read_to_string(&f).unwrap();
            let code: String = text
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            let deps = g.entry(top.clone()).or_default();
            let mut rest = code.as_str();
            while let Some(i) = rest.find("crate::") {
                rest = &rest[i + "crate::".len()..];
                let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
                    let end = group.find('}').unwrap_or(group.len());
                    group[..end].split(',').collect()
                } else {
                    vec![rest]
                };
                for n in names {
                    let n = n.trim();
                    let end = n
                        .find(|c: char| !(c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()))
                        .unwrap_or(n.len());
                    let m = &n[..end];
                    if !m.is_empty() && m != top {
                        deps.insert(m.to_string());
                    }
                }
            }
        }
        let known: BTreeSet<String> = g.keys().cloned().collect();
        for deps in g.values_mut() {
            deps.retain(|d| known.contains(d));
        }
        g
    }

    /// A cycle through the graph, if any (depth-first search with an explicit path).
    fn find_cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
        fn visit(
            v: &str,
            g: &BTreeMap<String, BTreeSet<String>>,
            path: &mut Vec<String>,
            done: &mut BTreeSet<String>,
        ) -> Option<Vec<String>> {
            if let Some(i) = path.iter().position(|p| p == v) {
                let mut c = path[i..].to_vec();
                c.push(v.to_string());
                return Some(c);
            }
            if done.contains(v) {
                return None;
            }
            path.push(v.to_string());
            for w in g.get(v).into_iter().flatten() {
                if let Some(c) = visit(w, g, path, done) {
                    return Some(c);
                }
            }
            path.pop();
            done.insert(v.to_string());
            None
        }
        let mut done = BTreeSet::new();
        g.keys()
            .find_map(|v| visit(v, g, &mut Vec::new(), &mut done))
    }

    #[test]
    fn the_cycle_finder_finds_a_planted_cycle() {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        g.entry("a".into()).or_default().insert("b".into());
        g.entry("b".into()).or_default().insert("c".into());
        g.entry("c".into()).or_default();
        assert_eq!(find_cycle(&g), None);
        g.get_mut("c").unwrap().insert("a".into());
        assert_eq!(
            find_cycle(&g),
            Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
        );
    }

    #[test]
    fn the_harness_modules_have_no_import_circles() {
        let g = graph();
        assert!(g.len() > 10, "the source walk found the modules: {g:?}");
        assert!(
            g["cell"].contains("plan"),
            "references are collected: {g:?}"
        );
        assert_eq!(find_cycle(&g), None, "import circle among harness modules");
    }

    #[test]
    fn only_the_command_layer_uses_the_command_layer() {
        for (m, deps) in graph() {
            if m != "cli" {
                assert!(!deps.contains("cli"), "{m} imports the command layer");
            }
        }
    }
}
