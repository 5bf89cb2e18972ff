//! `bench reproduce`: a published table re-run on this machine agrees cell for cell (CPU runs
//! are bit-identical per seed on one machine), and a tampered published value is reported as a
//! difference; the machine (CPU model, libtorch's CPU capability) is in every record and in
//! `bench env`.
//!
//! Real training with the tiny fixture protocol on the embedded mnist-5k.

use crate::common::{self, record, s, text};
use serde_json::Value;

const TINY: &str = "tests/fixtures/tiny-hard-label.toml";

/// Issue 21, item 14: run, publish, reproduce: every cell exact; then a published value
/// changed by hand is caught, with its difference and the group's verdict.
#[test]
fn a_published_table_reproduces_exactly_on_the_same_machine() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = d.join("run");
    let o = common::bench(
        &[
            "--protocol",
            TINY,
            "--methods",
            "random",
            "--ipc",
            "1",
            "--seeds",
            "2",
            "--threads",
            "1",
            "--jobs",
            "1",
            "--out",
            s(&run),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let r = record(&run, "random__ipc1__s0");
    let m = &r["machine"];
    assert!(
        ["DEFAULT", "AVX2", "AVX512"].contains(&m["cpu_capability"].as_str().unwrap()),
        "{m}"
    );
    assert_eq!(m["cpu_capability_source"], "libtorch", "{m}");
    assert!(!m["cpu_model"].as_str().unwrap().is_empty(), "{m}");

    let results = d.join("results");
    let o = common::bench(
        &["report", s(&run), "--publish", "--results", s(&results)],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let published = results.join("mnist-5k").join("tiny-hard-label");
    assert!(published.join("cells.csv").is_file());

    let reproduce = |out: &str| {
        common::bench(
            &[
                "reproduce",
                s(&published),
                "--protocol",
                TINY,
                "--threads",
                "1",
                "--jobs",
                "1",
                "--out",
                s(&d.join(out)),
            ],
            &[],
        )
    };
    let o = reproduce("again");
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("2 of 2 cells reproduced exactly"), "{t}");
    assert!(
        t.contains(
            "1 of 1 groups with several seeds have their new mean within the published 95% CI"
        ),
        "{t}"
    );
    let row = t
        .lines()
        .find(|l| l.starts_with("│ random ") && l.contains("┆ ipc1 ") && l.contains("┆ 0 "))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(row.contains("exact"), "{row}");

    // Tamper with seed 1's published accuracy: the cell is a difference, not exact.
    let csv = std::fs::read_to_string(published.join("cells.csv")).unwrap();
    let mut rd = csv::Reader::from_reader(csv.as_bytes());
    let headers = rd.headers().unwrap().clone();
    let col = headers.iter().position(|h| h == "accuracy").unwrap();
    let mut w = csv::Writer::from_path(published.join("cells.csv")).unwrap();
    w.write_record(&headers).unwrap();
    let mut old = 0.0;
    for rec in rd.records() {
        let rec = rec.unwrap();
        let mut v: Vec<String> = rec.iter().map(String::from).collect();
        if v[0] == "random__ipc1__s1" {
            old = v[col].parse::<f64>().unwrap();
            v[col] = format!("{}", old - 0.01);
        }
        w.write_record(&v).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let o = reproduce("again");
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("1 of 2 cells reproduced exactly"), "{t}");
    let row = t
        .lines()
        .find(|l| l.starts_with("│ random ") && l.contains("┆ ipc1 ") && l.contains("┆ 1 "))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(row.contains("+1.00 pts ("), "{row}");
    assert!(
        t.contains("2 of 2 cells already finished"),
        "the second reproduce reuses the cells: {t}"
    );
    let _ = old;
}

/// `bench env` names the CPU and libtorch's CPU capability, the same one PyTorch reports for
/// the libtorch this binary links.
#[test]
fn env_names_the_cpu_and_libtorchs_capability() {
    let o = common::bench(&["env", "--json"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["cpu_capability_source"], "libtorch", "{v}");
    let venv = std::env::var_os("VIRTUAL_ENV").expect("VIRTUAL_ENV (eval ./setup.sh --print-env)");
    let py = std::path::PathBuf::from(venv).join("bin").join("python");
    let p = std::process::Command::new(py)
        .args([
            "-c",
            "import torch; print(torch.backends.cpu.get_cpu_capability())",
        ])
        .output()
        .unwrap();
    assert!(p.status.success(), "{}", text(&p));
    assert_eq!(
        v["cpu_capability"].as_str().unwrap(),
        String::from_utf8_lossy(&p.stdout).trim(),
        "the capability PyTorch reports for the same libtorch"
    );
    // ATEN_CPU_CAPABILITY lowers it, and the record follows libtorch's own answer.
    let o = common::bench(&["env", "--json"], &[("ATEN_CPU_CAPABILITY", "default")]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["cpu_capability"], "DEFAULT", "{v}");
    let o = common::bench(&["env"], &[]);
    assert!(
        text(&o).contains("libtorch CPU capability: "),
        "{}",
        text(&o)
    );
}
