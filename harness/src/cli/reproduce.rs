//! `bench reproduce DIR`: re-run the cells of a published table on this machine and say, per
//! cell, whether the accuracy is bit-for-bit the published one, and per (method, budget)
//! whether the new mean lies within the published seed spread.
//!
//! ```text
//! bench reproduce results/mnist-5k/hard-label --methods random --ipc 1
//! ```
//!
//! `DIR` is a folder written by `bench report --publish` (its `cells.csv`, one row per cell
//! with the protocol's name and hash, the dataset's name and checksum, method, budget, seed and
//! accuracy). The cells are re-run through the normal run path (`bench --protocol …`) into an
//! output folder, with the published protocol (a shipped one by name, or `--protocol FILE`;
//! its hash must be the published one), dataset (its checksum must match), the same seeds, on
//! the published device, never from the reference cache. Then two tables: per cell, published
//! and new accuracy and `exact` or the difference (in points and in published seed standard
//! deviations); per group, the published mean ± std with its 95 % t-interval, the new mean, and
//! whether it lies within one std and within the interval.
//!
//! CPU runs are bit-identical per seed on the same machine; on another CPU libtorch may
//! dispatch to other vector kernels (see `bench env`: CPU model and libtorch's CPU
//! capability), and then the per-cell numbers differ while the group means should stay within
//! the published spread.

use super::run::run as run_protocol;
use super::Cli;
use crate::dataset::{ImageOptions, Prepared};
use crate::error::{exit_code, BenchError};
use crate::protocol::Loaded;
use crate::record::{self, Status};
use crate::report::rows::CellCsvRow;
use clap::Parser;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Options of `bench reproduce`.
#[derive(clap::Args, Clone, Debug)]
pub struct ReproduceArgs {
    /// A published table: a folder holding `cells.csv` (`bench report --publish`), e.g.
    /// results/mnist-5k/hard-label.
    pub published: PathBuf,
    /// The protocol to run: default the published protocol's name (a shipped protocol). A
    /// file is accepted when its hash is the published one.
    #[arg(long)]
    pub protocol: Option<String>,
    /// The dataset: default the published dataset's name. Its checksum must be the published one.
    #[arg(long)]
    pub dataset: Option<String>,
    /// ImageFolder datasets: the resolution they were published at.
    #[arg(long)]
    pub image_size: Option<u32>,
    /// ImageFolder datasets: the channels they were published with.
    #[arg(long)]
    pub channels: Option<usize>,
    /// Directories of idx files: what they hold (as for `bench --dataset-kind`).
    #[arg(long, value_enum)]
    pub dataset_kind: Option<crate::dataset::DatasetKind>,
    /// Only these methods (comma-separated); default every published method.
    #[arg(long, value_delimiter = ',')]
    pub methods: Option<Vec<String>>,
    /// Only these IPC budgets (comma-separated); default every published budget.
    #[arg(long, value_delimiter = ',')]
    pub ipc: Option<Vec<usize>>,
    /// Only the first N published seeds (0..N).
    #[arg(long)]
    pub seeds: Option<usize>,
    /// Output folder for the new records (default: bench-out/reproduce/<dataset>/<protocol>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Device: default the published one (`cpu` for CPU tables).
    #[arg(long)]
    pub device: Option<String>,
    /// Total CPU threads (as for a run).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Cells run in parallel (as for a run).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Extra plugin directories (as for a run).
    #[arg(long, value_delimiter = ',')]
    pub plugins: Vec<PathBuf>,
}

/// One published cell: `(method, budget label, seed)` and its accuracy (a fraction).
pub type Key = (String, String, u64);

/// The verdict for one cell.
#[derive(Clone, Debug, PartialEq)]
pub struct CellResult {
    pub key: Key,
    /// Published accuracy, a fraction.
    pub published: f64,
    /// The new accuracy; `None` when the new cell failed or left no record.
    pub now: Option<f64>,
    /// The published sample std of its group (`None` with one seed).
    pub group_std: Option<f64>,
}

impl CellResult {
    /// Bit-for-bit equal (the CSV writes floats in their shortest round-trip form).
    pub fn exact(&self) -> bool {
        self.now
            .is_some_and(|n| n.to_bits() == self.published.to_bits())
    }

    /// `exact`, `+0.40 pts (0.06 std)`, or `no result`.
    pub fn verdict(&self) -> String {
        match self.now {
            None => "no result (failed or not run)".into(),
            Some(_) if self.exact() => "exact".into(),
            Some(n) => {
                let d = (n - self.published) * 100.0;
                match self.group_std.filter(|s| *s > 0.0) {
                    Some(s) => format!("{d:+.2} pts ({:.2} std)", d.abs() / (s * 100.0)),
                    None => format!("{d:+.2} pts"),
                }
            }
        }
    }
}

/// The verdict for one (method, budget).
#[derive(Clone, Debug, PartialEq)]
pub struct GroupResult {
    pub method: String,
    pub budget: String,
    /// Published seeds (with an accuracy) and their summary.
    pub published: distillery_stats::Summary,
    /// Mean of the new accuracies of the same seeds, and how many there are.
    pub now_mean: Option<f64>,
    pub now_n: usize,
    /// Whether the new mean lies within published mean ± std (`None` with one seed).
    pub within_std: Option<bool>,
    /// Whether it lies within the published 95 % t-interval of the mean (`None` with one seed).
    pub within_ci: Option<bool>,
}

/// Compares the new accuracies `now` with the published ones, cell by cell and per group.
/// Only the published cells are compared; groups keep the order of `published`.
pub fn compare(
    published: &[(Key, f64)],
    now: &BTreeMap<Key, f64>,
) -> (Vec<CellResult>, Vec<GroupResult>) {
    type Group = ((String, String), Vec<(Key, f64)>);
    let mut groups: Vec<Group> = Vec::new();
    for (k, acc) in published {
        let g = (k.0.clone(), k.1.clone());
        match groups.iter_mut().find(|(x, _)| *x == g) {
            Some((_, v)) => v.push((k.clone(), *acc)),
            None => groups.push((g, vec![(k.clone(), *acc)])),
        }
    }
    let mut cells = Vec::new();
    let mut out = Vec::new();
    for ((method, budget), members) in groups {
        let xs: Vec<f64> = members.iter().map(|(_, a)| *a).collect();
        let Ok(summary) = distillery_stats::summarize(&xs) else {
            continue;
        };
        let news: Vec<f64> = members
            .iter()
            .filter_map(|(k, _)| now.get(k).copied())
            .collect();
        for (k, a) in &members {
            cells.push(CellResult {
                key: k.clone(),
                published: *a,
                now: now.get(k).copied(),
                group_std: summary.std,
            });
        }
        let now_mean = distillery_stats::mean(&news).ok();
        let within = |lo: Option<f64>, hi: Option<f64>| match (now_mean, lo, hi) {
            (Some(m), Some(lo), Some(hi)) => Some(m >= lo && m <= hi),
            _ => None,
        };
        let within_std = within(
            summary.std.map(|s| summary.mean - s),
            summary.std.map(|s| summary.mean + s),
        );
        let within_ci = within(summary.ci_low, summary.ci_high);
        out.push(GroupResult {
            method,
            budget,
            published: summary,
            now_mean,
            now_n: news.len(),
            within_std,
            within_ci,
        });
    }
    (cells, out)
}

/// The two tables and the summary line.
pub fn render(cells: &[CellResult], groups: &[GroupResult]) -> String {
    let pct = |x: f64| format!("{:.2}", x * 100.0);
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "method",
        "budget",
        "seed",
        "published %",
        "now %",
        "agreement",
    ]);
    for c in cells {
        t.add_row([
            c.key.0.clone(),
            c.key.1.clone(),
            c.key.2.to_string(),
            pct(c.published),
            c.now.map(pct).unwrap_or_else(|| "—".into()),
            c.verdict(),
        ]);
    }
    let yes_no = |b: Option<bool>| match b {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "— (one seed)",
    };
    let mut g = Table::new();
    g.load_preset(UTF8_FULL_CONDENSED);
    g.set_header([
        "method",
        "budget",
        "n",
        "published mean ± std [95% CI]",
        "now mean",
        "within ±1 std",
        "within 95% CI",
    ]);
    for r in groups {
        let s = &r.published;
        let spread = match (s.std, s.ci_low, s.ci_high) {
            (Some(sd), Some(lo), Some(hi)) => {
                format!("{} ± {} [{}, {}]", pct(s.mean), pct(sd), pct(lo), pct(hi))
            }
            _ => pct(s.mean),
        };
        g.add_row([
            r.method.clone(),
            r.budget.clone(),
            format!("{}/{}", r.now_n, s.n),
            spread,
            r.now_mean.map(pct).unwrap_or_else(|| "—".into()),
            yes_no(r.within_std).into(),
            yes_no(r.within_ci).into(),
        ]);
    }
    let exact = cells.iter().filter(|c| c.exact()).count();
    let missing = cells.iter().filter(|c| c.now.is_none()).count();
    let in_ci = groups.iter().filter(|g| g.within_ci == Some(true)).count();
    let with_ci = groups.iter().filter(|g| g.within_ci.is_some()).count();
    format!(
        "{t}\n{g}\n{exact} of {} cells reproduced exactly{}; {in_ci} of {with_ci} groups with several seeds have their new mean within the published 95% CI",
        cells.len(),
        if missing > 0 {
            format!(", {missing} without a result")
        } else {
            String::new()
        }
    )
}

/// Reads `DIR/cells.csv`.
fn read_cells(dir: &Path) -> Result<Vec<CellCsvRow>, BenchError> {
    let path = dir.join("cells.csv");
    let mut rd = csv::Reader::from_path(&path).map_err(|e| {
        BenchError::input(format!(
            "{}: {e}: `bench reproduce` needs a folder written by `bench report --publish` (it reads its cells.csv)",
            path.display()
        ))
    })?;
    rd.deserialize()
        .collect::<Result<Vec<CellCsvRow>, _>>()
        .map_err(|e| BenchError::input(format!("{}: {e}", path.display())))
}

/// The one value of `f` over `rows`, or an error naming what differs.
fn single<'a>(
    rows: &'a [CellCsvRow],
    what: &str,
    f: impl Fn(&'a CellCsvRow) -> &'a str,
) -> Result<&'a str, BenchError> {
    let set: BTreeSet<&str> = rows.iter().map(f).collect();
    match set.len() {
        1 => Ok(set.into_iter().next().unwrap_or_default()),
        _ => Err(BenchError::input(format!(
            "the published cells have {} {what}s ({}): reproduce one table at a time",
            set.len(),
            set.into_iter().collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Runs `bench reproduce`.
pub fn run(a: &ReproduceArgs) -> Result<u8, BenchError> {
    let all = read_cells(&a.published)?;
    let rows: Vec<CellCsvRow> = all
        .into_iter()
        .filter(|r| r.status == Status::Ok && r.accuracy.is_some())
        .filter(|r| a.methods.as_ref().is_none_or(|m| m.contains(&r.method)))
        .filter(|r| {
            a.ipc.as_ref().is_none_or(|ks| {
                r.budget == "full" || ks.iter().any(|k| r.budget == format!("ipc{k}"))
            })
        })
        .filter(|r| a.seeds.is_none_or(|n| r.seed < n as u64))
        .collect();
    if rows.is_empty() {
        return Err(BenchError::input(format!(
            "{}: no finished published cell matches the selection (--methods/--ipc/--seeds)",
            a.published.display()
        )));
    }
    let pname = single(&rows, "protocol", |r| &r.protocol)?;
    let phash = single(&rows, "protocol hash", |r| &r.protocol_hash)?;
    let dname = single(&rows, "dataset", |r| &r.dataset)?;
    let dsum = single(&rows, "dataset checksum", |r| &r.dataset_checksum)?;
    let pdevice = single(&rows, "device", |r| &r.device)?;

    let pspec = a.protocol.clone().unwrap_or_else(|| pname.to_string());
    let loaded = Loaded::resolve(&pspec)?;
    if loaded.hash != phash {
        return Err(BenchError::input(format!(
            "protocol `{pspec}` ({}) has hash {}, but the table was made with hash {}: pass the published protocol text with --protocol FILE",
            loaded.origin,
            &loaded.hash[..12],
            &phash[..12.min(phash.len())]
        )));
    }
    let dataset = a.dataset.clone().unwrap_or_else(|| dname.to_string());
    let image = ImageOptions {
        size: a.image_size.unwrap_or(ImageOptions::default().size),
        channels: a.channels.unwrap_or(ImageOptions::default().channels),
        kind: a.dataset_kind,
    };
    let data =
        Prepared::load(&dataset, &image, &loaded.protocol.data).map_err(BenchError::bad_input)?;
    if data.checksum != dsum {
        return Err(BenchError::input(format!(
            "dataset `{dataset}` has checksum {}, but the table was made on checksum {}: not the same data (for an ImageFolder dataset, pass the published --image-size/--channels)",
            &data.checksum[..12],
            &dsum[..12.min(dsum.len())]
        )));
    }
    drop(data);

    let methods: BTreeSet<&str> = rows.iter().map(|r| r.method.as_str()).collect();
    let budgets: BTreeSet<&str> = rows
        .iter()
        .map(|r| r.budget.as_str())
        .filter(|b| *b != "full")
        .collect();
    let seeds = rows.iter().map(|r| r.seed).max().unwrap_or(0) + 1;
    let out = a.out.clone().unwrap_or_else(|| {
        PathBuf::from("bench-out/reproduce")
            .join(crate::report::publish::slug(dname))
            .join(crate::report::publish::slug(pname))
    });
    let device = a.device.clone().unwrap_or_else(|| {
        if pdevice == "cpu" {
            "cpu".into()
        } else {
            "auto".into()
        }
    });
    let mut argv: Vec<String> = vec![
        "bench".into(),
        "--protocol".into(),
        pspec.clone(),
        "--dataset".into(),
        dataset.clone(),
        "--methods".into(),
        methods.iter().copied().collect::<Vec<_>>().join(","),
        "--seeds".into(),
        seeds.to_string(),
        "--out".into(),
        out.display().to_string(),
        "--device".into(),
        device,
        "--no-cache".into(),
    ];
    let mut by_kind: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for b in &budgets {
        let (flag, v) = match crate::import::parse_budget(b) {
            Some(distillery_api::Budget::Ipc(k)) => ("--ipc", k.to_string()),
            Some(distillery_api::Budget::Fraction(f)) => ("--fraction", f.to_string()),
            Some(distillery_api::Budget::Bytes(n)) => ("--bytes", n.to_string()),
            None => {
                return Err(BenchError::input(format!(
                    "published budget {b:?} is not a budget this harness reads"
                )))
            }
        };
        by_kind.entry(flag).or_default().push(v);
    }
    for (flag, vs) in by_kind {
        argv.extend([flag.to_string(), vs.join(",")]);
    }
    if let Some(s) = a.image_size {
        argv.extend(["--image-size".into(), s.to_string()]);
    }
    if let Some(c) = a.channels {
        argv.extend(["--channels".into(), c.to_string()]);
    }
    if let Some(k) = a.dataset_kind {
        use clap::ValueEnum;
        let v = k.to_possible_value().expect("every kind has a name");
        argv.extend(["--dataset-kind".into(), v.get_name().to_string()]);
    }
    if let Some(t) = a.threads {
        argv.extend(["--threads".into(), t.to_string()]);
    }
    if let Some(j) = a.jobs {
        argv.extend(["--jobs".into(), j.to_string()]);
    }
    if !a.plugins.is_empty() {
        let p: Vec<String> = a.plugins.iter().map(|p| p.display().to_string()).collect();
        argv.extend(["--plugins".into(), p.join(",")]);
    }
    let machine = crate::provenance::machine();
    eprintln!(
        "reproduce: {} cells of {} ({} on {}) on this machine: {}; running: {}",
        rows.len(),
        a.published.display(),
        pname,
        dname,
        super::env::machine_line(&machine)
            .trim_start_matches("cpu")
            .trim(),
        argv[1..].join(" ")
    );
    let cli = Cli::try_parse_from(&argv).map_err(|e| BenchError::Usage(e.to_string()))?;
    let code = run_protocol(&cli.run)?;

    let (records, unreadable) = record::read_all(&out).map_err(anyhow::Error::from)?;
    super::print_warnings(&unreadable);
    let now: BTreeMap<Key, f64> = records
        .iter()
        .filter(|r| r.status == Status::Ok && r.protocol.hash == phash)
        .filter_map(|r| {
            r.accuracy()
                .map(|acc| ((r.method.clone(), r.budget_label.clone(), r.seed), acc))
        })
        .collect();
    let published: Vec<(Key, f64)> = rows
        .iter()
        .filter_map(|r| {
            r.accuracy
                .map(|acc| ((r.method.clone(), r.budget.clone(), r.seed), acc.0))
        })
        .collect();
    let (cells, groups) = compare(&published, &now);
    println!("\nPublished vs this machine ({}):", a.published.display());
    super::print_text(&render(&cells, &groups));
    if cells.iter().any(|c| c.now.is_some() && !c.exact()) {
        eprintln!("note: CPU runs are bit-identical per seed on the same machine; another CPU model or libtorch CPU capability (`bench env`) selects other kernels, so per-cell numbers may differ while group means stay within the published spread");
    }
    Ok(if code == exit_code::SUCCESS {
        exit_code::SUCCESS
    } else {
        code
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(m: &str, b: &str, s: u64) -> Key {
        (m.into(), b.into(), s)
    }

    /// Identical values are exact; a tampered cell shows its difference in points and in
    /// published stds, and its group's new mean is judged against the published spread.
    #[test]
    fn a_tampered_cell_is_caught_and_weighed_against_the_spread() {
        let published = vec![
            (k("random", "ipc1", 0), 0.563),
            (k("random", "ipc1", 1), 0.608),
            (k("random", "ipc1", 2), 0.478),
            (k("full", "full", 0), 0.983),
        ];
        let mut now: BTreeMap<Key, f64> = published.iter().cloned().collect();
        let (cells, groups) = compare(&published, &now);
        assert!(cells.iter().all(CellResult::exact), "{cells:?}");
        assert_eq!(groups[0].within_ci, Some(true));
        assert_eq!(groups[1].within_std, None, "one seed: no spread");
        assert!(render(&cells, &groups).contains("4 of 4 cells reproduced exactly"));

        // Seed 1 moves by 0.4 points: within one std (6.6 points) of the published mean.
        now.insert(k("random", "ipc1", 1), 0.612);
        let (cells, groups) = compare(&published, &now);
        let c = &cells[1];
        assert!(!c.exact());
        let std = groups[0].published.std.unwrap();
        assert!((std - 0.0660177).abs() < 1e-6, "{std}");
        assert_eq!(c.verdict(), "+0.40 pts (0.06 std)");
        assert_eq!(groups[0].within_std, Some(true));
        assert_eq!(groups[0].within_ci, Some(true));
        // A wildly different group: outside the spread; a missing cell has no result.
        for s in 0..3 {
            now.insert(k("random", "ipc1", s), 0.9);
        }
        now.remove(&k("full", "full", 0));
        let (cells, groups) = compare(&published, &now);
        assert_eq!(groups[0].within_std, Some(false));
        assert_eq!(groups[0].within_ci, Some(false));
        assert_eq!(cells[3].verdict(), "no result (failed or not run)");
        let text = render(&cells, &groups);
        assert!(
            text.contains("0 of 4 cells reproduced exactly, 1 without a result; 0 of 1 groups"),
            "{text}"
        );
    }
}
