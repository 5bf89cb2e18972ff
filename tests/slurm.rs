//! The Slurm executor against a real single-node Slurm cluster, started by
//! `scripts/slurm/start.sh` (which installs the Debian packages if they are missing) and
//! stopped by `scripts/slurm/stop.sh` at the end, also when a step fails.
//!
//! One test runs the steps in order (one cluster, and the steps must not share its two
//! CPUs with each other). Where Slurm cannot be started (not root, no apt, no network) it
//! fails, saying why: it never passes without having run.

use crate::common::{build_dir, record, root, s, text};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const TINY: &str = "tests/fixtures/tiny-hard-label.toml";

/// The cluster's folder (the scripts' default), and the `SLURM_CONF` clients need.
fn cluster_dir() -> PathBuf {
    PathBuf::from("/tmp/distillery-slurm")
}

fn slurm_conf() -> String {
    cluster_dir().join("etc/slurm.conf").display().to_string()
}

/// Stops the cluster when dropped (after the last step, or when one panics).
struct Cluster;

impl Cluster {
    fn start() -> Cluster {
        let o = Command::new("bash")
            .arg(root().join("scripts/slurm/start.sh"))
            .env("DISTILLERY_SLURM_DIR", cluster_dir())
            .output()
            .expect("run scripts/slurm/start.sh");
        assert!(
            o.status.success(),
            "SLURM TESTS CANNOT RUN: scripts/slurm/start.sh could not start a Slurm cluster here \
             (it needs root and the Debian packages slurmctld slurmd slurm-client munge, which it \
             installs with apt-get). Its output:\n{}",
            text(&o)
        );
        Cluster
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(root().join("scripts/slurm/stop.sh"))
            .env("DISTILLERY_SLURM_DIR", cluster_dir())
            .output();
    }
}

fn fresh(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("distillery-slurm-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A config home whose `[slurm]` table makes the waiting `bench` look at the queue often.
fn config_home() -> PathBuf {
    let d = fresh("config");
    std::fs::create_dir_all(d.join("distillery")).unwrap();
    std::fs::write(
        d.join("distillery/config.toml"),
        "[slurm]\npoll_seconds = 0.5\ncpus_per_task = 1\n",
    )
    .unwrap();
    d
}

/// `bench` with the cluster's config and the test config home; `cache`: XDG_CACHE_HOME.
fn bench(args: &[&str], cache: &Path, envs: &[(&str, &str)]) -> Output {
    let mut c = Command::new(crate::common::bench_path());
    c.current_dir(root())
        .args(args)
        .env_remove("DISTILLERY_PLUGINS")
        .env_remove("DISTILLERY_FIXTURE_MODE")
        .env("XDG_CACHE_HOME", cache)
        .env("XDG_CONFIG_HOME", config_home())
        .env("SLURM_CONF", slurm_conf());
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("run bench")
}

fn cells(out: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(out.join("cells"))
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            n.strip_suffix(".json").map(str::to_string)
        })
        .collect();
    v.sort();
    v
}

fn submissions(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("slurm/submissions.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn slurm_executor_on_a_real_single_node_cluster() {
    let _cluster = Cluster::start();
    let t = Instant::now();
    records_equal_the_local_executor_s();
    eprintln!("step 1 done at {:?}", t.elapsed());
    a_cancelled_array_resumes_without_losing_or_duplicating_cells();
    eprintln!("step 2 done at {:?}", t.elapsed());
    a_failing_task_leaves_a_record_naming_its_slurm_state();
    eprintln!("step 3 done at {:?}", t.elapsed());
    tasks_needing_one_uncached_teacher_train_it_once();
    eprintln!("step 4 done at {:?}", t.elapsed());
}

/// The tiny grid through a detached submission (followed with `bench status`) gives the same
/// records as the local executor: accuracies per seed, seeds, hashes, storage.
fn records_equal_the_local_executor_s() {
    let dir = fresh("equal");
    let cache = dir.join("cache");
    let (local, slurm) = (dir.join("local"), dir.join("slurm"));
    let grid = [
        "--protocol",
        TINY,
        "--methods",
        "random",
        "--ipc",
        "1,2",
        "--seeds",
        "2",
        "--threads",
        "1",
        "--jobs",
        "1",
        "--no-cache",
    ];
    let o = bench(&[&grid[..], &["--out", s(&local)]].concat(), &cache, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let o = bench(
        &[
            &grid[..],
            &[
                "--out",
                s(&slurm),
                "--executor",
                "slurm",
                "--cells-per-task",
                "2",
                "--detach",
            ],
        ]
        .concat(),
        &cache,
        &[],
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains(": 4 cells in 2 array tasks; batch script "),
        "{t}"
    );
    assert!(t.contains("detached: follow it with `bench status "), "{t}");
    let script = std::fs::read_to_string(slurm.join("slurm/submit-1.sh")).unwrap();
    assert!(script.contains("#SBATCH --array=0-1\n"), "{script}");
    assert!(
        script.contains("#SBATCH --cpus-per-task=1\n"),
        "from the config file: {script}"
    );
    // Follow it with `bench status` until every cell is done.
    let end = Instant::now() + Duration::from_secs(120);
    let status = loop {
        let o = bench(&["status", s(&slurm)], &cache, &[]);
        let st = text(&o);
        assert!(o.status.success(), "{st}");
        if st.contains("4 cells: 4 done, 0 failed, 0 running, 0 pending, 0 not running (missing)") {
            break st;
        }
        assert!(Instant::now() < end, "not done in 120 s: {st}");
        std::thread::sleep(Duration::from_millis(500));
    };
    let job = submissions(&slurm)[0]["job_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        status.contains(&format!("slurm job {job} (submission 1 of 1")),
        "{status}"
    );
    assert_eq!(cells(&local), cells(&slurm));
    let host =
        String::from_utf8(Command::new("hostname").arg("-s").output().unwrap().stdout).unwrap();
    for id in cells(&local) {
        let (a, b) = (record(&local, &id), record(&slurm, &id));
        for key in [
            "status",
            "seeds",
            "protocol",
            "dataset",
            "evaluation",
            "storage",
            "per_class",
            "method_config",
            "plugin_version",
        ] {
            let (mut x, mut y) = (a[key].clone(), b[key].clone());
            if key == "evaluation" {
                // Wall-clock times differ; everything measured must not.
                for v in [&mut x, &mut y] {
                    v.as_object_mut()
                        .unwrap()
                        .retain(|k, _| !k.contains("seconds"));
                }
            }
            if key == "protocol" {
                for v in [&mut x, &mut y] {
                    v.as_object_mut().unwrap().remove("origin");
                }
            }
            assert_eq!(x, y, "{id}: {key} differs between local and Slurm");
        }
        assert!(
            a.get("slurm").is_none(),
            "local records have no slurm field"
        );
        let si = &b["slurm"];
        assert_eq!(si["array_job_id"], job.as_str(), "{si}");
        assert_eq!(si["node"], host.trim(), "{si}");
        assert_eq!(si["cpus_per_task"], 1, "{si}");
        assert_eq!(b["threads"], 1);
        assert!(si["array_task_id"].as_u64().unwrap() < 2, "{si}");
    }
    // The report reads the folder as it reads a local one.
    let o = bench(&["report", s(&slurm)], &cache, &[]);
    assert!(text(&o).contains("│ random ┆ IPC 2  ┆ 2/2"), "{}", text(&o));
}

/// `scancel` part-way: the waiting `bench` gives the cancelled cells failed records naming
/// CANCELLED; the same command again runs only those, keeping every finished record.
fn a_cancelled_array_resumes_without_losing_or_duplicating_cells() {
    let dir = fresh("cancel");
    let (cache, out) = (dir.join("cache"), dir.join("out"));
    let args = [
        "--protocol",
        TINY,
        "--methods",
        "random",
        "--ipc",
        "1,2,3",
        "--seeds",
        "2",
        "--threads",
        "1",
        "--no-cache",
        "--out",
        s(&out),
        "--executor",
        "slurm",
        "--array-parallelism",
        "1",
    ];
    let cfg = config_home();
    let child = {
        let mut c = Command::new(crate::common::bench_path());
        c.current_dir(root())
            .args(args)
            .env("XDG_CACHE_HOME", &cache)
            .env("XDG_CONFIG_HOME", &cfg)
            .env("SLURM_CONF", slurm_conf())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    // Cancel once two cells are finished (one task at a time: the rest are running or pending).
    let end = Instant::now() + Duration::from_secs(120);
    while !(out.join("cells").exists() && cells(&out).len() >= 2) {
        assert!(Instant::now() < end, "no two records in 120 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let job = submissions(&out)[0]["job_id"].as_str().unwrap().to_string();
    let o = Command::new("scancel")
        .arg(&job)
        .env("SLURM_CONF", slurm_conf())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = child.wait_with_output().unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "cancelled cells failed: {t}");
    let all = cells(&out);
    assert_eq!(all.len(), 6, "every cell has a record: {all:?}\n{t}");
    let ok: Vec<(String, Value)> = all
        .iter()
        .map(|id| (id.clone(), record(&out, id)))
        .filter(|(_, r)| r["status"] == "ok")
        .collect();
    assert!(ok.len() >= 2 && ok.len() < 6, "{} ok\n{t}", ok.len());
    for id in &all {
        let r = record(&out, id);
        if r["status"] != "ok" {
            let err = r["error"].as_str().unwrap();
            assert!(err.contains(&format!("slurm job {job}_")), "{err}");
            assert!(err.contains(" ended CANCELLED (reason "), "{err}");
            assert_eq!(r["slurm"]["state"], "CANCELLED", "{id}");
        }
    }
    let o = bench(&["status", s(&out)], &cache, &[]);
    let want = format!(
        "6 cells: {} done, {} failed, 0 running, 0 pending",
        ok.len(),
        6 - ok.len()
    );
    assert!(text(&o).contains(&want), "{want} in\n{}", text(&o));

    // The same command again: only the cells without an ok record are submitted.
    let o = bench(&args, &cache, &[]);
    let t2 = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t2}");
    assert!(
        t2.contains(&format!("{} of 6 cells already finished", ok.len())),
        "{t2}"
    );
    let subs = submissions(&out);
    assert_eq!(subs.len(), 2);
    let mut resubmitted: Vec<String> = subs[1]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| {
            t.as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_string())
        })
        .collect();
    resubmitted.sort();
    let mut missing: Vec<String> = all
        .iter()
        .filter(|id| !ok.iter().any(|(o, _)| o == *id))
        .cloned()
        .collect();
    missing.sort();
    assert_eq!(resubmitted, missing);
    let job2 = subs[1]["job_id"].as_str().unwrap();
    for id in &all {
        let r = record(&out, id);
        assert_eq!(r["status"], "ok", "{id}");
        match ok.iter().find(|(o, _)| o == id) {
            // Finished before the cancel: untouched.
            Some((_, before)) => assert_eq!(&r, before, "{id} was rewritten"),
            None => assert_eq!(r["slurm"]["array_job_id"], job2, "{id}"),
        }
    }
}

/// A cell whose process dies (the misbehaving fixture plugin segfaults) fails its task; its
/// record names the job, the Slurm state and reason, and the exit code.
fn a_failing_task_leaves_a_record_naming_its_slurm_state() {
    let dir = fresh("fail");
    let plug = build_dir().join("libdistillery_fixture_misbehave.so");
    assert!(
        plug.exists(),
        "{} missing: build the workspace first",
        plug.display()
    );
    let out = dir.join("out");
    let o = bench(
        &[
            "--protocol",
            TINY,
            "--methods",
            "random,misbehave",
            "--plugins",
            s(&plug),
            "--ipc",
            "1",
            "--seeds",
            "1",
            "--threads",
            "1",
            "--no-cache",
            "--out",
            s(&out),
            "--executor",
            "slurm",
        ],
        &dir.join("cache"),
        &[("DISTILLERY_FIXTURE_MODE", "segfault")],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert_eq!(record(&out, "random__ipc1__s0")["status"], "ok");
    let r = record(&out, "misbehave__ipc1__s0");
    assert_eq!(r["status"], "failed");
    let err = r["error"].as_str().unwrap();
    let job = submissions(&out)[0]["job_id"].as_str().unwrap().to_string();
    assert!(err.contains(&format!("slurm job {job}_")), "{err}");
    assert!(
        err.contains(" ended FAILED (reason NonZeroExitCode, exit code 139:0) on "),
        "{err}"
    );
    assert!(err.contains("last lines of "), "{err}");
    assert_eq!(r["slurm"]["state"], "FAILED");
    assert_eq!(r["slurm"]["reason"], "NonZeroExitCode, exit code 139:0");
    assert!(t.contains("misbehave__ipc1__s0 FAILED: slurm job"), "{t}");
}

/// Three tasks of a soft-label grid start with no teacher in the cache: one trains it, the
/// others wait on its lock and load it; all use the same one.
fn tasks_needing_one_uncached_teacher_train_it_once() {
    let dir = fresh("teacher");
    let out = dir.join("out");
    let o = bench(
        &[
            "--protocol",
            "tests/fixtures/tiny-soft-label.toml",
            "--methods",
            "random",
            "--ipc",
            "1",
            "--seeds",
            "3",
            "--threads",
            "1",
            "--no-cache",
            "--out",
            s(&out),
            "--executor",
            "slurm",
        ],
        &dir.join("cache"),
        &[],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    let recs: Vec<Value> = (0..3)
        .map(|i| record(&out, &format!("random__ipc1__s{i}")))
        .collect();
    let trained = recs
        .iter()
        .filter(|r| r["teacher"]["from_cache"] == false)
        .count();
    assert_eq!(trained, 1, "exactly one task trained the teacher");
    for r in &recs {
        assert_eq!(r["teacher"]["key"], recs[0]["teacher"]["key"]);
        assert_eq!(r["teacher"]["test_acc"], recs[0]["teacher"]["test_acc"]);
        assert!(r["slurm"]["job_id"].is_string());
    }
    // They ran as different tasks, at least two at once on the two CPUs.
    let tasks: std::collections::BTreeSet<u64> = recs
        .iter()
        .map(|r| r["slurm"]["array_task_id"].as_u64().unwrap())
        .collect();
    assert_eq!(tasks.len(), 3);
}
