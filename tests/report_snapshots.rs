//! Reporting layer: snapshot tests of every format on a fixed set of hand-built records, and
//! checks of the CSV shape, incomplete grids, Holm marks, the Pareto frontier, publishing and
//! `compare`. No libtorch work happens here; records are built with `serde_json`.

use distillery::record::Record;
use distillery::report::{self, compare, AGGREGATE_COLUMNS, AGGREGATE_NUMERIC, CELL_COLUMNS};
use distillery_stats as stats;
use serde_json::json;

/// (method, family, per budget: (IPC, accuracy per seed or None for a failed seed)).
type GridRow = (&'static str, &'static str, [(usize, [Option<f64>; 3]); 3]);

const HASH: &str = "0a1306328f9a27d2eef4966814ea2a316185bedcf77ee0ffa32c4f7b36932284";
const CHECKSUM: &str = "515a40ef9a9f27384e4431a567fd75c3b27427ff404ff50a12f94112b5936458";

/// A record: `budget` is `None` for the `full` reference; `acc` `None` makes a failed cell.
fn rec(
    method: &str,
    family: &str,
    ipc: Option<usize>,
    seed: u64,
    acc: Option<f64>,
    total_bytes: u64,
) -> Record {
    rec_with(method, family, ipc, seed, acc, total_bytes, HASH, "0.1.0")
}

#[allow(clippy::too_many_arguments)]
fn rec_with(
    method: &str,
    family: &str,
    ipc: Option<usize>,
    seed: u64,
    acc: Option<f64>,
    total_bytes: u64,
    hash: &str,
    plugin_version: &str,
) -> Record {
    let label = ipc
        .map(|k| format!("ipc{k}"))
        .unwrap_or_else(|| "full".into());
    let ok = acc.is_some();
    let v = json!({
        "schema": 1,
        "status": if ok { "ok" } else { "failed" },
        "cell_id": format!("{method}__{label}__s{seed}"),
        "method": method,
        "family": family,
        "plugin_version": plugin_version,
        "plugin_path": "/plugins/lib.so",
        "budget": ipc.map(|k| json!({"kind": "ipc", "value": k})),
        "budget_label": label,
        "seed": seed,
        "seeds": {"run": seed, "selection": 100 + seed, "init": 200 + seed, "order": 300 + seed, "augment": 400 + seed},
        "protocol": {"name": "hard-label", "version": "1.0", "hash": hash, "origin": "<embedded>/hard-label.toml"},
        "dataset": {"name": "mnist-5k", "checksum": CHECKSUM, "classes": 10, "shape": [1, 28, 28], "train": 3600, "val": 400, "test": 1000},
        "device": "cpu",
        "threads": 1,
        "deterministic": true,
        "versions": {"distillery": "0.1.0", "api": "0.1.0", "rustc": "rustc 1.95.0", "tch": "0.24.0", "libtorch": "2.11.0"},
        "evaluation": acc.map(|a| json!({
            "top1": a, "top5": 0.99, "final_train_loss": 0.5, "epochs": 300, "steps": 300,
            "train_seconds": 10.0, "eval_seconds": 1.0, "augment": "color_crop_cutout_scale_rotate"
        })),
        "storage": if ok { json!({"images": total_bytes / 785, "image_bytes": total_bytes - total_bytes / 785, "label_bytes": total_bytes / 785, "total_bytes": total_bytes}) } else { json!(null) },
        "per_class": null,
        "timings": {"load_seconds": 0.5, "compress_seconds": 2.0, "train_seconds": 10.0, "eval_seconds": 1.0, "total_seconds": 13.5},
        "peak_rss_bytes": 1000000,
        "method_metadata": {},
        "error": if ok { json!(null) } else { json!("plugin panicked: out of memory\nbacktrace...") },
        "cached_from": null,
        "finished_at": 1700000000
    });
    serde_json::from_value(v).expect("a valid record")
}

/// The fixed grid: random, herding (pruning), dm (distillation) at IPC 1/10/50, 3 seeds, and
/// the `full` reference. dm @ IPC 50 lost seed 2 (failed); herding @ IPC 50 failed entirely.
fn fixture() -> Vec<Record> {
    let mut v = Vec::new();
    let grid: [GridRow; 3] = [
        (
            "random",
            "pruning",
            [
                (1, [Some(0.541), Some(0.563), Some(0.552)]),
                (10, [Some(0.861), Some(0.872), Some(0.866)]),
                (50, [Some(0.941), Some(0.945), Some(0.938)]),
            ],
        ),
        (
            "herding",
            "pruning",
            [
                (1, [Some(0.612), Some(0.634), Some(0.627)]),
                (10, [Some(0.879), Some(0.884), Some(0.871)]),
                (50, [None, None, None]),
            ],
        ),
        (
            "dm",
            "distillation",
            [
                (1, [Some(0.874), Some(0.881), Some(0.869)]),
                (10, [Some(0.962), Some(0.958), Some(0.965)]),
                (50, [Some(0.978), Some(0.981), None]),
            ],
        ),
    ];
    for (m, fam, budgets) in grid {
        for (ipc, accs) in budgets {
            for (seed, acc) in accs.into_iter().enumerate() {
                v.push(rec(
                    m,
                    fam,
                    Some(ipc),
                    seed as u64,
                    acc,
                    785 * 10 * ipc as u64,
                ));
            }
        }
    }
    for (seed, acc) in [0.985, 0.987, 0.986].into_iter().enumerate() {
        v.push(rec(
            "full",
            "reference",
            None,
            seed as u64,
            Some(acc),
            2_826_000,
        ));
    }
    v
}

fn fixture_report() -> report::Report {
    report::build(&fixture(), 3)
}

#[test]
fn snapshot_terminal() {
    insta::assert_snapshot!("terminal", fixture_report().terminal(Some(120)));
}

#[test]
fn snapshot_markdown() {
    insta::assert_snapshot!("markdown", fixture_report().markdown());
}

#[test]
fn snapshot_csv() {
    insta::assert_snapshot!("csv", fixture_report().csv());
}

#[test]
fn snapshot_cells_csv() {
    insta::assert_snapshot!("cells_csv", report::cells_csv(&fixture()));
}

#[test]
fn snapshot_json() {
    insta::assert_snapshot!("json", fixture_report().json());
}

#[test]
fn snapshot_latex() {
    insta::assert_snapshot!("latex", fixture_report().latex());
}

fn compare_sides() -> (Vec<compare::CellRow>, Vec<compare::CellRow>) {
    let a: Vec<compare::CellRow> = fixture().iter().map(compare::CellRow::from).collect();
    // B: dm 0.2.0 is 1 point better at every seed; herding is absent; a new method appears;
    // random @ IPC 1 only has seeds 0 and 1 (so that cell is compared with Welch's test).
    let mut b = Vec::new();
    for r in fixture() {
        if r.method == "herding"
            || (r.method == "random" && r.budget_label == "ipc1" && r.seed == 2)
        {
            continue;
        }
        let mut r = r;
        if r.method == "dm" {
            r.plugin_version = "0.2.0".into();
            if let Some(e) = r.evaluation.as_mut() {
                e.top1 += 0.01 + 0.001 * r.seed as f64;
            }
        }
        b.push(compare::CellRow::from(&r));
    }
    for seed in 0..3 {
        b.push(compare::CellRow::from(&rec(
            "kcenter",
            "pruning",
            Some(10),
            seed,
            Some(0.87 + 0.01 * seed as f64),
            78_500,
        )));
    }
    (a, b)
}

#[test]
fn snapshot_compare() {
    let (a, b) = compare_sides();
    let c = compare::compare(&a, &b, "A", "B");
    insta::assert_snapshot!("compare_terminal", c.terminal(Some(120)));
    insta::assert_snapshot!("compare_csv", c.csv());
}

#[test]
fn compare_pairs_by_seed_and_lists_one_sided_cells() {
    let (a, b) = compare_sides();
    let c = compare::compare(&a, &b, "A", "B");
    assert_eq!(
        c.only_a,
        vec![
            ("herding".to_string(), "ipc1".to_string()),
            ("herding".into(), "ipc10".into()),
            ("herding".into(), "ipc50".into())
        ]
    );
    assert_eq!(c.only_b, vec![("kcenter".to_string(), "ipc10".to_string())]);
    let dm10 = c
        .rows
        .iter()
        .find(|r| r.method == "dm" && r.budget == "ipc10")
        .unwrap();
    let d = dm10.diff.as_ref().unwrap();
    assert_eq!(d.test, "paired");
    assert!((d.diff - 0.011).abs() < 1e-12, "{}", d.diff);
    let r1 = c
        .rows
        .iter()
        .find(|r| r.method == "random" && r.budget == "ipc1")
        .unwrap();
    assert_eq!(r1.diff.as_ref().unwrap().test, "welch");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);

    // Different protocol hashes are warned about.
    let mut b2 = b.clone();
    b2[0].protocol_hash = "ffff".repeat(16);
    let c2 = compare::compare(&a, &b2, "A", "B");
    assert!(c2
        .warnings
        .iter()
        .any(|w| w.contains("protocol hashes differ")));
}

#[test]
fn csv_is_rectangular_with_documented_columns() {
    let rep = fixture_report();
    let text = rep.csv();
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(headers, AGGREGATE_COLUMNS.to_vec());
    let mut rows = 0;
    for row in rd.records() {
        let row = row.expect("every row has the header's field count");
        assert_eq!(row.len(), headers.len());
        for col in AGGREGATE_NUMERIC {
            let i = headers.iter().position(|h| h == col).unwrap();
            if !row[i].is_empty() {
                row[i]
                    .parse::<f64>()
                    .unwrap_or_else(|e| panic!("{col} = {:?}: {e}", &row[i]));
            }
        }
        let i = headers.iter().position(|h| h == "pareto").unwrap();
        assert!(row[i] == *"true" || row[i] == *"false");
        rows += 1;
    }
    // 3 methods x 3 budgets + the reference row.
    assert_eq!(rows, 10);
    // Every finished cell has a mean.
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    for row in rd.records() {
        let row = row.unwrap();
        assert_eq!(row[6].is_empty(), &row[3] == "0", "{row:?}");
    }

    let cells = report::cells_csv(&fixture());
    let mut rd = csv::Reader::from_reader(cells.as_bytes());
    let headers: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(headers, CELL_COLUMNS.to_vec());
    let n = rd
        .records()
        .map(|r| assert_eq!(r.unwrap().len(), CELL_COLUMNS.len()))
        .count();
    assert_eq!(n, fixture().len());
}

#[test]
fn incomplete_grid_shows_n_and_failed() {
    let rep = fixture_report();
    let dm50 = rep.cell("dm", "ipc50").unwrap();
    assert_eq!((dm50.n, dm50.failed), (2, 1));
    let e = rep.entry(dm50);
    assert!(e.ends_with(" (n=2/3, 1 failed)"), "{e}");
    let h50 = rep.cell("herding", "ipc50").unwrap();
    assert!(h50.summary.is_none());
    assert_eq!(rep.entry(h50), "failed (n=0/3)");
    // Never averaged silently: the mean is over the 2 finished seeds and says so.
    assert!((dm50.summary.unwrap().mean - 0.9795).abs() < 1e-12);
    let t = rep.terminal(Some(120));
    assert!(t.contains("(n=2/3, 1 failed)") && t.contains("failed (n=0/3)"));
    assert!(rep.caption().contains("(n=finished/expected)"));
    // A missing seed (no record at all) also shows.
    let mut recs = fixture();
    recs.retain(|r| !(r.method == "random" && r.budget_label == "ipc10" && r.seed == 1));
    let rep = report::build(&recs, 3);
    let r10 = rep.cell("random", "ipc10").unwrap();
    assert_eq!((r10.n, r10.missing), (2, 1));
    assert!(rep.entry(r10).ends_with(" (n=2/3)"), "{}", rep.entry(r10));
    // Complete grids say nothing about n in the entries.
    assert!(!rep.entry(rep.cell("dm", "ipc1").unwrap()).contains("n="));
}

/// Two methods against random at one budget, three seeds, per-seed differences chosen so the
/// paired t-tests are easy by hand (df = 2: two-sided p = 1 − |t| / √(t² + 2)).
#[test]
fn holm_marks_on_known_p_values() {
    let base = [0.80, 0.82, 0.81];
    let a_diff = [0.05, 0.06, 0.07]; // mean .06, sd .01, t = .06/(.01/√3) = 10.392
    let b_diff = [0.01, -0.01, 0.02];
    let mut recs = Vec::new();
    for s in 0..3 {
        recs.push(rec(
            "random",
            "pruning",
            Some(10),
            s,
            Some(base[s as usize]),
            7850,
        ));
        recs.push(rec(
            "a",
            "pruning",
            Some(10),
            s,
            Some(base[s as usize] + a_diff[s as usize]),
            7850,
        ));
        recs.push(rec(
            "b",
            "pruning",
            Some(10),
            s,
            Some(base[s as usize] + b_diff[s as usize]),
            7850,
        ));
    }
    let rep = report::build(&recs, 3);
    let ca = rep.cell("a", "ipc10").unwrap().vs_random.clone().unwrap();
    let cb = rep.cell("b", "ipc10").unwrap().vs_random.clone().unwrap();
    assert_eq!((ca.test, cb.test), ("paired", "paired"));

    let t_a = 0.06 / (0.01 / 3f64.sqrt());
    let p_a = 1.0 - t_a / (t_a * t_a + 2.0).sqrt(); // 0.00915
    assert!((ca.p - p_a).abs() < 1e-6, "{} vs {p_a}", ca.p);
    let mb: f64 = (0.01 - 0.01 + 0.02) / 3.0;
    let sd_b =
        (((0.01 - mb) * (0.01 - mb) + (-0.01 - mb) * (-0.01 - mb) + (0.02 - mb) * (0.02 - mb))
            / 2.0)
            .sqrt();
    let t_b = mb / (sd_b / 3f64.sqrt());
    let p_b = 1.0 - t_b / (t_b * t_b + 2.0).sqrt(); // 0.528
    assert!((cb.p - p_b).abs() < 1e-6, "{} vs {p_b}", cb.p);
    // Same values from the stats crate's tested one-sample test on the differences.
    assert!((stats::one_sample_t_test(&a_diff, 0.0).unwrap().p_value - ca.p).abs() < 1e-9);

    // Holm, m = 2: p_(1) · 2 = 0.0183 → "*" (the raw p < .01 would have said "**");
    // p_(2) · 1 = 0.528 → unmarked.
    assert!((ca.p_holm - 2.0 * p_a).abs() < 1e-6);
    assert!((cb.p_holm - p_b).abs() < 1e-6);
    assert_eq!(stats::significance_mark(ca.p), "**");
    assert_eq!((ca.mark, cb.mark), ("*", ""));
    let e = rep.entry(rep.cell("a", "ipc10").unwrap());
    assert!(e.ends_with('*') && !e.ends_with("**"), "{e}");
    // Differences and their intervals are in fractions.
    assert!((ca.diff - 0.06).abs() < 1e-12 && ca.ci_low < 0.06 && 0.06 < ca.ci_high);
}

#[test]
fn pareto_frontier_ids() {
    // (method, accuracy, bytes): b dominates c; a dominates e; d is the most accurate.
    let pts = [
        ("a", 0.50, 100),
        ("b", 0.60, 1000),
        ("c", 0.55, 2000),
        ("d", 0.70, 10000),
        ("e", 0.45, 100),
    ];
    let mut recs = Vec::new();
    for (m, acc, bytes) in pts {
        for s in 0..2 {
            recs.push(rec(
                m,
                "pruning",
                Some(1),
                s,
                Some(acc + 0.001 * s as f64),
                bytes,
            ));
        }
    }
    let rep = report::build(&recs, 2);
    let ids: Vec<&str> = rep.pareto.iter().map(|p| p.method.as_str()).collect();
    assert_eq!(ids, ["a", "b", "d"]);
    for c in &rep.cells {
        assert_eq!(c.pareto, ids.contains(&c.method.as_str()), "{}", c.method);
    }
    assert_eq!(rep.pareto[1].mean_total_bytes, 1000.0);
}

#[test]
fn friedman_dd_ranking_and_intervals() {
    let rep = fixture_report();
    // Blocks: IPC 1 and 10 (herding failed at IPC 50), k = 3 methods.
    let f = rep.rank_test.as_ref().expect("Friedman over 2 blocks");
    assert_eq!((f.k, f.n_blocks), (3, 2));
    assert_eq!(f.blocks, ["ipc1", "ipc10"]);
    assert_eq!(f.avg_ranks, [3.0, 1.0, 2.0]); // random, dm, herding
    assert_eq!(f.methods, ["random", "dm", "herding"]);
    let cd = stats::nemenyi_cd(3, 2).unwrap();
    assert_eq!(f.nemenyi_cd, Some(cd));
    // dm @ IPC 10: IOR and HLR on fractions, LRS in [0, 1].
    let dm = rep.cell("dm", "ipc10").unwrap();
    let m = dm.summary.unwrap().mean;
    let r = rep.cell("random", "ipc10").unwrap().summary.unwrap().mean;
    let full = rep.reference_cell("full").unwrap().summary.unwrap().mean;
    assert!((dm.ior.unwrap() - (m - r)).abs() < 1e-12);
    assert!((dm.hlr.unwrap() - (full - m)).abs() < 1e-12);
    let lrs = stats::lrs(
        &stats::LrsInputs {
            acc_full_hard: full,
            acc_syn_hard: m,
            acc_syn: m,
            acc_random: r,
        },
        stats::DEFAULT_W,
    )
    .unwrap()
    .lrs;
    assert_eq!(dm.lrs, Some(lrs));
    // 95% t-interval per cell.
    let s = dm.summary.unwrap();
    assert!(s.ci_low.unwrap() < s.mean && s.mean < s.ci_high.unwrap());
    assert_eq!(s.conf, 0.95);
    // No label gain without soft-label records.
    assert!(rep.label_gain.is_none());
    assert!(report::plots::label_gain_svg(&rep).is_none());
}

#[test]
fn plots_are_svg() {
    let rep = fixture_report();
    let a = report::plots::accuracy_vs_budget_svg(&rep).unwrap();
    let b = report::plots::accuracy_vs_storage_svg(&rep).unwrap();
    for s in [&a, &b] {
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
    }
    assert!(a.contains("IPC 10") && a.contains("dm"));
    assert!(b.contains("Pareto frontier"));
}

#[test]
fn publish_writes_every_file_and_the_index() {
    let root = tempfile::tempdir().unwrap();
    let recs = fixture();
    let rep = report::build(&recs, 3);
    let dir = report::publish::publish(&rep, &recs, root.path()).unwrap();
    assert_eq!(dir, root.path().join("mnist-5k").join("hard-label"));
    for f in [
        "table.md",
        "table.csv",
        "cells.csv",
        "report.json",
        "accuracy_vs_budget.svg",
        "accuracy_vs_storage.svg",
        "README.md",
    ] {
        let p = dir.join(f);
        assert!(p.is_file(), "{} missing", p.display());
        assert!(std::fs::metadata(&p).unwrap().len() > 0);
    }
    assert!(!dir.join("label_gain.svg").exists());
    // The README's cost table: means over the finished seeds only (dm @ IPC 50 lost seed 2;
    // herding @ IPC 50 finished no seed and has no row).
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let cost = &readme[readme.find("## Cost").expect("a cost section")..];
    let cost = &cost[..cost.find("Reproduce").unwrap()];
    assert!(
        cost.contains("| herding | IPC 1 | 3 | 2.0 | — | 10.0 | cpu × 1 thread(s) |"),
        "{cost}"
    );
    assert!(cost.contains("| dm | IPC 50 | 2 | 2.0 |"), "{cost}");
    assert!(!cost.contains("| herding | IPC 50 |"), "{cost}");
    // No temporary files left behind.
    for e in std::fs::read_dir(&dir).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().to_string();
        assert!(!n.starts_with('.'), "left over: {n}");
    }
    // A second protocol shows up in the index next to the first.
    let mut other = fixture();
    for r in &mut other {
        r.protocol.name = "hard-label-dc1000".into();
        r.protocol.hash = "1".repeat(64);
    }
    let rep2 = report::build(&other, 3);
    report::publish::publish(&rep2, &other, root.path()).unwrap();
    let index = std::fs::read_to_string(root.path().join("README.md")).unwrap();
    assert!(
        index.contains(
            "- [mnist-5k/hard-label](mnist-5k/hard-label/README.md): protocol hard-label v1.0"
        ),
        "{index}"
    );
    assert!(index.contains("- [mnist-5k/hard-label-dc1000](mnist-5k/hard-label-dc1000/README.md)"));
    // The published cells.csv is a valid `compare` side.
    let side = compare::load_side(&dir).unwrap();
    assert_eq!(side.len(), recs.len());
    let c = compare::compare(&side, &side, "A", "B");
    assert!(c
        .rows
        .iter()
        .all(|r| r.diff.as_ref().is_none_or(|d| d.diff == 0.0)));
}
