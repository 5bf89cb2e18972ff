//! Several `bench` processes sharing one output folder or one per-user cache (local executor):
//! every cell runs exactly once, a teacher is trained once, replaced records are all kept.

use crate::common::{bench_path, root, s, test_cache, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const TINY: &str = "tests/fixtures/tiny-hard-label.toml";

fn fresh(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("distillery-exec-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Starts `bench` (not waiting), with the tests' cache unless `cache` says otherwise.
pub fn spawn(args: &[&str], cache: &Path) -> std::process::Child {
    Command::new(bench_path())
        .current_dir(root())
        .args(args)
        .env_remove("DISTILLERY_PLUGINS")
        .env_remove("DISTILLERY_FIXTURE_MODE")
        .env("XDG_CACHE_HOME", cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bench")
}

/// The cell ids a run's output says it trained itself: progress lines `[n/N] <id> 54.50% (…`.
pub fn cells_run(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix('[')?.split_once("] ")?.1;
            let (id, what) = rest.split_once(' ')?;
            (what.ends_with(')') && what.split_once("% (").is_some()).then(|| id.to_string())
        })
        .collect()
}

#[test]
fn two_runs_at_once_on_one_folder_run_every_cell_exactly_once() {
    let out = fresh("two-runs");
    let args = [
        "--protocol",
        TINY,
        "--methods",
        "random",
        "--ipc",
        "1,2",
        "--seeds",
        "3",
        "--threads",
        "1",
        "--jobs",
        "1",
        "--no-cache",
        "--out",
        s(&out),
    ];
    let (a, b) = (spawn(&args, &test_cache()), spawn(&args, &test_cache()));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (ta, tb) = (text(&a), text(&b));
    assert_eq!(a.status.code(), Some(0), "{ta}");
    assert_eq!(b.status.code(), Some(0), "{tb}");
    let mut ran = [cells_run(&ta), cells_run(&tb)].concat();
    ran.sort();
    let mut want: Vec<String> = ["ipc1", "ipc2"]
        .iter()
        .flat_map(|b| (0..3).map(move |s| format!("random__{b}__s{s}")))
        .collect();
    want.sort();
    assert_eq!(
        ran, want,
        "each cell ran by exactly one of the two runs\nA:\n{ta}\nB:\n{tb}"
    );
    // Both reports show the whole grid: the cells the other run made were reused.
    for t in [&ta, &tb] {
        assert!(t.contains("│ random ┆ IPC 1  ┆ 3/3"), "{t}");
        assert!(t.contains("│ random ┆ IPC 2  ┆ 3/3"), "{t}");
    }
}

#[test]
fn several_processes_needing_one_uncached_teacher_train_it_once() {
    let cache = fresh("teacher-cache");
    let args = [
        "teacher",
        "--protocol",
        "tests/fixtures/tiny-soft-label.toml",
        "--threads",
        "1",
    ];
    let kids: Vec<_> = (0..3).map(|_| spawn(&args, &cache)).collect();
    let outs: Vec<String> = kids
        .into_iter()
        .map(|k| {
            let o = k.wait_with_output().unwrap();
            assert!(o.status.success(), "{}", text(&o));
            text(&o)
        })
        .collect();
    let lines: Vec<&str> = outs
        .iter()
        .map(|t| {
            t.lines()
                .find(|l| l.starts_with("teacher "))
                .unwrap_or_else(|| panic!("{t}"))
        })
        .collect();
    let trained = lines.iter().filter(|l| l.contains("trained in")).count();
    let cached = lines
        .iter()
        .filter(|l| l.ends_with("from the cache"))
        .count();
    assert_eq!((trained, cached), (1, 2), "{lines:#?}");
    // The same network everywhere: same key, same accuracies.
    let strip = |l: &str| l.rsplit_once("; ").unwrap().0.to_string();
    assert!(
        lines.iter().all(|l| strip(l) == strip(lines[0])),
        "{lines:#?}"
    );
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn replaced_records_of_one_imported_file_are_all_kept_under_names_of_their_own() {
    let dir = fresh("stale");
    std::fs::create_dir_all(&dir).unwrap();
    let (out, set) = (dir.join("out"), dir.join("set"));
    let export = |seed: &str| {
        let to = dir.join(format!("random-seed{seed}"));
        let o = crate::common::bench(
            &[
                "export",
                "--protocol",
                TINY,
                "--method",
                "random",
                "--ipc",
                "1",
                "--seed",
                seed,
                "--out",
                &format!("{}/", s(&to)),
            ],
            &[],
        );
        assert!(o.status.success(), "{}", text(&o));
        to
    };
    let images = |d: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = (0..10)
            .flat_map(|c| std::fs::read_dir(d.join(c.to_string())).unwrap())
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    let random = export("0");
    let mut moved = Vec::new();
    for other in [None, Some("1"), Some("2")] {
        // Three versions of one imported folder (row `file:random`, seed 0 in its metadata):
        // random's set of seed 0, then the same folder with its images replaced by the
        // selections of seeds 1 and 2.
        let _ = std::fs::remove_dir_all(&set);
        copy_dir(&random, &set);
        if let Some(m) = other {
            let from = export(m);
            for p in images(&set) {
                std::fs::remove_file(p).unwrap();
            }
            for p in images(&from) {
                let rel = p.strip_prefix(&from).unwrap();
                std::fs::copy(&p, set.join(rel)).unwrap();
            }
        }
        let o = crate::common::bench(
            &[
                "--protocol",
                TINY,
                "--methods",
                &format!("file:{}", s(&set)),
                "--ipc",
                "1",
                "--seeds",
                "1",
                "--threads",
                "1",
                "--jobs",
                "1",
                "--no-cache",
                "--out",
                s(&out),
            ],
            &[],
        );
        let t = text(&o);
        assert_eq!(o.status.code(), Some(0), "{t}");
        assert!(
            t.contains("] file.random__ipc1__s0 "),
            "the cell ran again: {t}"
        );
        moved.extend(
            t.lines()
                .filter(|l| l.starts_with("note: file.random__ipc1__s0 was made under"))
                .map(|l| PathBuf::from(l.rsplit_once("moved to ").unwrap().1)),
        );
    }
    // Two replaced versions, each said where it went, both still there and different.
    assert_eq!(moved.len(), 2, "{moved:?}");
    assert_ne!(moved[0], moved[1]);
    let stale = out.join("cells").join("stale");
    let mut on_disk: Vec<PathBuf> = std::fs::read_dir(&stale)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    on_disk.sort();
    let mut said = moved.clone();
    said.sort();
    assert_eq!(on_disk, said);
    let versions: Vec<String> = moved
        .iter()
        .map(|p| {
            let r: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            r["plugin_version"].as_str().unwrap().to_string()
        })
        .collect();
    assert_ne!(versions[0], versions[1], "two different file versions kept");
    let _ = std::fs::remove_dir_all(&dir);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}
