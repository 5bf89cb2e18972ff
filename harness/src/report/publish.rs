//! `bench report DIR --publish [--results ROOT]`: writes
//! `ROOT/<dataset>/<protocol>/{table.md, table.csv, cells.csv, report.json,
//! accuracy_vs_budget.svg, accuracy_vs_storage.svg, README.md}` and rewrites `ROOT/README.md`
//! as an index of every `ROOT/*/*/` directory. Every file is written atomically (temporary
//! file in the same directory, fsync, rename), so a crash never leaves half a file.

use super::error::ReportError;
use super::fmt::{budget_header, human_bytes};
use super::model::Report;
use super::plots;
use super::render::{csv, json};
use crate::record::Record;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically and durably ([`distillery_api::fsio::write_atomic`]),
/// creating the folder first.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
    distillery_api::fsio::write_atomic(path, bytes)
}

/// A path component from a dataset or protocol name (no separators, no dot-dot).
pub fn slug(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let out = out.trim_matches('.').to_string();
    if out.is_empty() {
        "unnamed".into()
    } else {
        out
    }
}

/// `ROOT/<dataset>/<protocol>`.
pub fn target_dir(rep: &Report, root: &Path) -> PathBuf {
    root.join(slug(&rep.dataset)).join(slug(&rep.protocol))
}

/// Publishes `rep` (and the records it was built from) under `root`; returns the directory.
///
/// # Errors
/// [`ReportError::NothingToPublish`] without cells; [`ReportError::CreateDir`] /
/// [`ReportError::Write`] when the directory or a file cannot be written.
pub fn publish(rep: &Report, records: &[Record], root: &Path) -> Result<PathBuf, ReportError> {
    if rep.cells.is_empty() {
        return Err(ReportError::NothingToPublish);
    }
    let dir = target_dir(rep, root);
    std::fs::create_dir_all(&dir).map_err(|cause| ReportError::CreateDir {
        path: dir.clone(),
        cause,
    })?;
    let mine: Vec<Record> = records
        .iter()
        .filter(|r| r.protocol.hash == rep.protocol_hash)
        .cloned()
        .collect();
    let w = |name: &str, text: &str| {
        let p = dir.join(name);
        write_atomic(&p, text.as_bytes()).map_err(|cause| ReportError::Write { path: p, cause })
    };
    w("table.md", &rep.markdown())?;
    w("table.csv", &csv::aggregate_csv(rep)?)?;
    w("cells.csv", &csv::cells(&mine)?)?;
    w("report.json", &format!("{}\n", json::report_json(rep)?))?;
    let figures: [(&str, Option<String>); 3] = [
        ("accuracy_vs_budget.svg", plots::accuracy_vs_budget_svg(rep)),
        (
            "accuracy_vs_storage.svg",
            plots::accuracy_vs_storage_svg(rep),
        ),
        ("label_gain.svg", plots::label_gain_svg(rep)),
    ];
    let mut drawn = Vec::new();
    for (name, svg) in &figures {
        match svg {
            Some(s) => {
                w(name, s)?;
                drawn.push(*name);
            }
            // A figure that no longer applies must not survive from an earlier publish.
            None => {
                let _ = std::fs::remove_file(dir.join(name));
            }
        }
    }
    w("README.md", &dir_readme(rep, &mine, &drawn))?;
    write_index(root)?;
    Ok(dir)
}

/// The `bench` command line that reruns this grid.
pub fn reproduce_command(rep: &Report) -> String {
    let mut ipc = Vec::new();
    let mut frac = Vec::new();
    for b in &rep.budgets {
        if let Some(k) = b.strip_prefix("ipc") {
            ipc.push(k.to_string());
        } else if let Some(f) = b.strip_prefix("frac") {
            frac.push(f.to_string());
        }
    }
    let protocol = rep
        .setup
        .as_ref()
        .map(|s| s.protocol_origin.as_str())
        .filter(|o| !o.starts_with("<embedded>"))
        .unwrap_or(&rep.protocol);
    let mut s = format!(
        "bench --protocol {protocol} --dataset {} --methods {} --seeds {}",
        rep.dataset,
        rep.methods.join(","),
        rep.expected_seeds
    );
    if !ipc.is_empty() {
        s.push_str(&format!(" --ipc {}", ipc.join(",")));
    }
    if !frac.is_empty() {
        s.push_str(&format!(" --fraction {}", frac.join(",")));
    }
    if rep.devices.len() == 1 {
        s.push_str(&format!(" --device {}", rep.devices[0]));
    }
    s
}

fn dir_readme(rep: &Report, records: &[Record], figures: &[&str]) -> String {
    let mut s = format!(
        "# {} v{} on {}\n\n",
        rep.protocol, rep.protocol_version, rep.dataset
    );
    if let Some(st) = &rep.setup {
        s.push_str(&format!("{}\n\n", st.description.trim()));
    }
    s.push_str(&rep.markdown());
    s.push('\n');
    for f in figures {
        s.push_str(&format!(
            "![{}]({f})\n\n",
            f.trim_end_matches(".svg").replace('_', " ")
        ));
    }
    s.push_str("## Provenance\n\n");
    s.push_str(&format!(
        "- Protocol: `{}` v{}, hash `{}`{}\n",
        rep.protocol,
        rep.protocol_version,
        rep.protocol_hash,
        rep.setup
            .as_ref()
            .map(|s| format!(", from `{}`", s.protocol_origin))
            .unwrap_or_default()
    ));
    s.push_str(&format!(
        "- Dataset: `{}`, checksum `{}`\n",
        rep.dataset, rep.dataset_checksum
    ));
    s.push_str(&format!(
        "- Devices: {}; seeds: {}\n",
        rep.devices.join(", "),
        rep.seeds
            .iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let plugins: BTreeSet<String> = records
        .iter()
        .map(|r| format!("{} {}", r.method, r.plugin_version))
        .collect();
    s.push_str(&format!(
        "- Plugins: {}\n",
        plugins.into_iter().collect::<Vec<_>>().join(", ")
    ));
    let versions: BTreeSet<String> = records
        .iter()
        .map(|r| {
            format!(
                "distillery {}, libtorch {}, tch {}, {}",
                r.versions.distillery, r.versions.libtorch, r.versions.tch, r.versions.rustc
            )
        })
        .collect();
    s.push_str(&format!(
        "- Toolchain: {}\n",
        versions.into_iter().collect::<Vec<_>>().join("; ")
    ));
    if let Some(st) = &rep.setup {
        s.push_str(&format!(
            "- Recipe source: {}\n",
            st.source.split_whitespace().collect::<Vec<_>>().join(" ")
        ));
    }
    let storage: Vec<String> = rep
        .ordered_cells()
        .into_iter()
        .filter_map(|c| {
            Some(format!(
                "{} @ {} {}",
                c.method,
                budget_header(&c.budget),
                human_bytes(c.mean_total_bytes?)
            ))
        })
        .collect();
    if !storage.is_empty() {
        s.push_str(&format!(
            "- Storage (images + labels): {}\n",
            storage.join(", ")
        ));
    }
    s.push_str(&cost_section(rep, records));
    s.push_str(&format!(
        "\nReproduce:\n\n```\n{}\nbench report <out-dir> --publish\n```\n",
        reproduce_command(rep)
    ));
    s.push_str(
        "\n## Files\n\n\
         - `table.md`: this table.\n\
         - `table.csv`: one row per (method, budget); columns in `harness/src/report/SCHEMA.md`.\n\
         - `cells.csv`: one row per cell record (per seed); `bench compare` reads it.\n\
         - `report.json`: everything above, machine-readable.\n",
    );
    for f in figures {
        s.push_str(&format!("- `{f}`\n"));
    }
    s
}

/// What each method cost per budget, from the finished records: the method's own time
/// (selection, distillation or labelling: `compress_seconds`) and the peak resident memory
/// of the cell process when it returned, then the protocol's student training time. Means
/// over seeds; memory is the maximum. Devices and threads are stated because the times mean
/// nothing without them.
fn cost_section(rep: &Report, records: &[Record]) -> String {
    let mut rows = Vec::new();
    for c in rep.ordered_cells() {
        let rs: Vec<&Record> = records
            .iter()
            .filter(|r| {
                r.status == crate::record::Status::Ok
                    && r.method == c.method
                    && r.budget_label == c.budget
            })
            .collect();
        if rs.is_empty() {
            continue;
        }
        let n = rs.len() as f64;
        let mean = |f: &dyn Fn(&Record) -> f64| rs.iter().map(|r| f(r)).sum::<f64>() / n;
        let peak = rs
            .iter()
            .map(|r| r.compress_peak_rss_bytes)
            .max()
            .unwrap_or(0);
        let setups: BTreeSet<String> = rs
            .iter()
            .map(|r| format!("{} × {} thread(s)", r.device, r.threads))
            .collect();
        rows.push(format!(
            "| {} | {} | {} | {:.1} | {} | {:.1} | {} |\n",
            c.method,
            budget_header(&c.budget),
            rs.len(),
            mean(&|r| r.timings.compress_seconds),
            if peak > 0 {
                human_bytes(peak as f64)
            } else {
                "—".into()
            },
            mean(&|r| r.timings.train_seconds),
            setups.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\n## Cost\n\n\
         Method time = the plugin's own work (selection, distillation, label recording), mean over \
         seeds; peak memory = the cell process's peak resident set when the method returned \
         (maximum over seeds); student time = the protocol's training of the student. Times \
         depend on the machine and on what else ran on it.\n\n\
         | method | budget | n | method s | method peak RSS | student s | device |\n\
         |---|---|---:|---:|---:|---:|---|\n",
    );
    for r in rows {
        s.push_str(&r);
    }
    s
}

/// One line describing a published directory, from its `report.json`.
fn describe(dir: &Path) -> String {
    let Some(v) = std::fs::read_to_string(dir.join("report.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
    else {
        return "no readable report.json".into();
    };
    let strs = |k: &str| -> Vec<String> {
        v[k].as_array()
            .map(|a| {
                a.iter()
                    .map(|x| match x {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let hash = v["protocol_hash"].as_str().unwrap_or("");
    format!(
        "protocol {} v{} (hash {}), methods {}, budgets {}, {} seed(s), device {}",
        v["protocol"].as_str().unwrap_or("?"),
        v["protocol_version"].as_str().unwrap_or("?"),
        &hash[..12.min(hash.len())],
        strs("methods").join(", "),
        strs("budgets")
            .iter()
            .map(|b| budget_header(b))
            .collect::<Vec<_>>()
            .join(", "),
        v["expected_seeds"].as_u64().unwrap_or(0),
        strs("devices").join(", "),
    )
}

fn subdirs(p: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.is_dir()
                        && !p
                            .file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Rewrites `root/README.md`: one line per `root/<dataset>/<protocol>/` directory.
///
/// # Errors
/// [`ReportError::Write`] when the index cannot be written.
pub fn write_index(root: &Path) -> Result<(), ReportError> {
    let mut s = String::from(
        "# Distillery results\n\n\
         Published with `bench report <out-dir> --publish`; one directory per dataset and \
         protocol. Each holds `table.md`, `table.csv`, `cells.csv`, `report.json`, figures and a \
         README with provenance. Compare two of them with `bench compare A B`.\n\n",
    );
    let mut n = 0;
    for d in subdirs(root) {
        for p in subdirs(&d) {
            let rel = p.strip_prefix(root).unwrap_or(&p);
            let rel = rel.to_string_lossy().replace('\\', "/");
            s.push_str(&format!("- [{rel}]({rel}/README.md): {}\n", describe(&p)));
            n += 1;
        }
    }
    if n == 0 {
        s.push_str("(nothing published yet)\n");
    }
    let p = root.join("README.md");
    write_atomic(&p, s.as_bytes()).map_err(|cause| ReportError::Write { path: p, cause })
}
