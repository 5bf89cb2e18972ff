//! The rules of [`super::resolve`], called directly (no process, no plugins loaded).

use super::*;
use crate::cli::Cli;
use crate::protocol::Loaded;
use clap::Parser;
use tch::Device;

fn args(a: &[&str]) -> RunArgs {
    let mut v = vec!["bench", "--protocol", "hard-label"];
    v.extend_from_slice(a);
    Cli::try_parse_from(v).expect("parses").run
}

fn protocol() -> Protocol {
    Loaded::resolve("hard-label").unwrap().protocol
}

fn plugins() -> Vec<(String, Family)> {
    [
        ("dm", Family::Distillation),
        ("full", Family::Reference),
        ("herding", Family::Pruning),
        ("kd", Family::Kd),
        ("random", Family::Pruning),
    ]
    .iter()
    .map(|(n, f)| (n.to_string(), *f))
    .collect()
}

fn env(slurm: Option<&str>, cpus: usize) -> RunEnv {
    RunEnv {
        slurm_cpus_per_task: slurm.map(str::to_string),
        available_cpus: cpus,
        ..Default::default()
    }
}

fn on(a: &[&str], device: Device, e: &RunEnv) -> Result<ResolvedRun, BenchError> {
    resolve(
        &args(a),
        &protocol(),
        "mnist-5k",
        crate::data::MNIST_5K_CHECKSUM,
        device,
        &plugins(),
        Overrides::new(),
        e,
    )
}

fn ok(a: &[&str]) -> ResolvedRun {
    on(a, Device::Cpu, &env(None, 4)).unwrap()
}

fn err(a: &[&str]) -> String {
    format!("{:#}", on(a, Device::Cpu, &env(None, 4)).unwrap_err())
}

fn names(r: &ResolvedRun) -> Vec<&str> {
    r.methods.iter().map(|(m, _)| m.as_str()).collect()
}

#[test]
fn defaults_come_from_the_protocol() {
    let p = protocol();
    let r = ok(&[]);
    assert_eq!(r.seeds, p.defaults.seeds);
    let ipc: Vec<String> = p
        .defaults
        .ipc
        .iter()
        .map(|k| Budget::Ipc(*k).label())
        .collect();
    assert_eq!(r.budgets.iter().map(|b| b.label()).collect::<Vec<_>>(), ipc);
    assert_eq!(r.out, PathBuf::from("bench-out/hard-label/mnist-5k"));
    assert!(r.imported.is_empty() && r.method_overrides.is_empty());
}

#[test]
fn budgets_are_checked_with_the_messages_users_know() {
    assert_eq!(err(&["--ipc", "0"]), "--ipc: budgets must be positive");
    assert_eq!(err(&["--fraction", "0"]), "--fraction 0: must be in (0, 1]");
    assert_eq!(
        err(&["--fraction", "1.5"]),
        "--fraction 1.5: must be in (0, 1]"
    );
    assert_eq!(err(&["--bytes", "0"]), "--bytes: budgets must be positive");
    assert_eq!(err(&["--seeds", "0"]), "--seeds must be at least 1");
    let r = ok(&["--ipc", "1,5", "--bytes", "1000", "--seeds", "2"]);
    assert!(matches!(
        r.budgets[..],
        [Budget::Ipc(1), Budget::Ipc(5), Budget::Bytes(1000)]
    ));
    assert_eq!(r.seeds, 2);
    assert_eq!(
        on(&["--ipc", "0"], Device::Cpu, &env(None, 1))
            .unwrap_err()
            .exit_code(),
        2
    );
}

#[test]
fn the_random_baseline_is_added_in_front_of_competing_methods() {
    let r = ok(&["--methods", "dm,herding"]);
    assert_eq!(names(&r), ["random", "dm", "herding"]);
    assert_eq!(r.methods[0].1, Family::Pruning);
    assert_eq!(
        r.baseline_note.as_deref(),
        Some("added the 'random' baseline: every method is compared with it")
    );
    // Already there: not added twice, no note.
    let r = ok(&["--methods", "dm,random"]);
    assert_eq!(names(&r), ["dm", "random"]);
    assert!(r.baseline_note.is_none());
    // A reference line alone competes with nothing.
    let r = ok(&["--methods", "full"]);
    assert_eq!(names(&r), ["full"]);
    assert!(r.baseline_note.is_none());
    // An imported set is compared with the baseline too.
    let r = ok(&["--methods", "file:a.safetensors", "--from", "b.npz"]);
    assert_eq!(names(&r), ["random"]);
    assert_eq!(
        r.imported,
        [PathBuf::from("a.safetensors"), PathBuf::from("b.npz")]
    );
    assert!(r.baseline_note.is_some());
}

#[test]
fn all_means_every_usable_plugin_by_name() {
    let r = ok(&["--methods", "all"]);
    assert_eq!(names(&r), ["dm", "full", "herding", "kd", "random"]);
    assert!(r.baseline_note.is_none(), "random is among them");
}

#[test]
fn an_unknown_method_or_a_missing_baseline_is_named() {
    let e = on(&["--methods", "nope"], Device::Cpu, &env(None, 4)).unwrap_err();
    assert!(
        matches!(&e, BenchError::UnknownMethod(m) if m == "nope"),
        "{e:?}"
    );
    assert_eq!(format!("{e:#}"), "no plugin named 'nope'");
    assert_eq!(e.exit_code(), 2);
    let only_dm = [("dm".to_string(), Family::Distillation)];
    let e = resolve(
        &args(&["--methods", "dm"]),
        &protocol(),
        "mnist-5k",
        crate::data::MNIST_5K_CHECKSUM,
        Device::Cpu,
        &only_dm,
        Overrides::new(),
        &env(None, 1),
    )
    .unwrap_err();
    assert!(
        matches!(&e, BenchError::UnknownMethod(m) if m == "random"),
        "{e:?}"
    );
}

#[test]
fn method_config_tables_must_name_an_installed_plugin() {
    let mut o = Overrides::new();
    o.insert("dm".into(), serde_json::json!({"iterations": 1}));
    let a = args(&["--methods", "dm", "--method-config", "m.toml"]);
    let r = resolve(
        &a,
        &protocol(),
        "d",
        "",
        Device::Cpu,
        &plugins(),
        o.clone(),
        &env(None, 1),
    )
    .unwrap();
    assert_eq!(r.method_overrides, o);
    o.insert("nope".into(), serde_json::json!({}));
    let e = resolve(
        &a,
        &protocol(),
        "d",
        "",
        Device::Cpu,
        &plugins(),
        o,
        &env(None, 1),
    )
    .unwrap_err();
    assert_eq!(
        format!("{e:#}"),
        "method config m.toml: [methods.nope] names no installed plugin"
    );
    assert_eq!(e.exit_code(), 2);
}

#[test]
fn threads_come_from_slurm_then_the_machine_and_are_split_across_jobs() {
    let cpu = |a: &[&str], e: RunEnv| {
        let r = on(a, Device::Cpu, &e).unwrap();
        (r.threads, r.jobs, r.threads_per_cell)
    };
    // On the CPU: one single-threaded cell per thread.
    assert_eq!(cpu(&[], env(None, 8)), (8, 8, 1));
    assert_eq!(cpu(&[], env(Some("3"), 8)), (3, 3, 1));
    assert_eq!(cpu(&[], env(Some("not a number"), 8)), (8, 8, 1));
    assert_eq!(cpu(&["--threads", "6"], env(Some("3"), 8)), (6, 6, 1));
    assert_eq!(
        cpu(&["--threads", "8", "--jobs", "3"], env(None, 8)),
        (8, 3, 2)
    );
    assert_eq!(cpu(&["--jobs", "16"], env(None, 4)), (4, 4, 1), "clamped");
    assert_eq!(
        cpu(&["--jobs", "0", "--threads", "0"], env(None, 4)),
        (1, 1, 1)
    );
    // On a GPU whose free memory is unknown: one cell at a time with every thread.
    let r = on(&[], Device::Cuda(0), &env(Some("12"), 64)).unwrap();
    assert_eq!((r.threads, r.jobs, r.threads_per_cell), (12, 1, 12));
    // With its free memory known: as many cells as fit (crate::gpu::default_gpu_jobs), each
    // with its share of the threads; --jobs still wins.
    let gpu = |a: &[&str], free: u64, cell: u64| {
        let e = RunEnv {
            gpu_free_mib: Some(free),
            gpu_cell_mib: cell,
            ..env(Some("12"), 64)
        };
        let r = on(a, Device::Cuda(0), &e).unwrap();
        (r.threads, r.jobs, r.threads_per_cell)
    };
    let off = ["--group", "off"];
    assert_eq!(gpu(&off, 80_000, 2048), (12, 8, 1));
    assert_eq!(gpu(&off, 7_168, 2048), (12, 3, 4));
    assert_eq!(gpu(&["--jobs", "2"], 80_000, 2048), (12, 2, 6));
    // Grouped (the GPU default): the measured number of grouped processes; --jobs still wins.
    assert_eq!(
        gpu(&[], 80_000, 2048),
        (12, crate::gpu::GROUPED_GPU_JOBS, 6)
    );
    assert_eq!(
        gpu(&["--group", "5", "--jobs", "4"], 80_000, 2048),
        (12, 4, 3)
    );
    // The free memory of a GPU never changes a CPU run.
    let e = RunEnv {
        gpu_free_mib: Some(80_000),
        ..env(None, 4)
    };
    assert_eq!(cpu(&[], e), (4, 4, 1));
}

#[test]
fn out_is_the_option_or_protocol_and_dataset_name() {
    assert_eq!(ok(&["--out", "/tmp/x"]).out, PathBuf::from("/tmp/x"));
}

/// Issue 21, item 2: two different datasets whose folders have the same name (`a/digits`,
/// `b/digits`) get different default output folders, so neither invalidates the other's
/// cells; the embedded dataset keeps its readable path.
#[test]
fn the_default_out_of_a_dataset_from_a_path_carries_its_checksum() {
    let run = |checksum: &str| {
        resolve(
            &args(&[]),
            &protocol(),
            "digits",
            checksum,
            Device::Cpu,
            &plugins(),
            Overrides::new(),
            &env(None, 4),
        )
        .unwrap()
        .out
    };
    let a = run("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    let b = run("fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210");
    assert_eq!(a, PathBuf::from("bench-out/hard-label/digits-01234567"));
    assert_eq!(b, PathBuf::from("bench-out/hard-label/digits-fedcba98"));
    assert_eq!(
        ok(&[]).out,
        PathBuf::from("bench-out/hard-label/mnist-5k"),
        "the embedded dataset"
    );
    // --out still wins.
    assert_eq!(ok(&["--out", "o"]).out, PathBuf::from("o"));
}

/// Issue 21, item 3: repeated budgets, methods and imported paths plan each cell once, with
/// one note naming every repeat; nothing repeated, no note.
#[test]
fn duplicate_budgets_methods_and_files_are_dropped_with_one_note() {
    let r = ok(&["--ipc", "1,1,10", "--methods", "random,random,dm,dm,dm"]);
    assert_eq!(r.budgets, [Budget::Ipc(1), Budget::Ipc(10)]);
    assert_eq!(names(&r), ["random", "dm"]);
    assert!(r.baseline_note.is_none(), "random was given");
    assert_eq!(
        r.duplicate_note.as_deref(),
        Some("ignored duplicate entries (each cell runs once): budget IPC 1 (given 2 times), method random (given 2 times), method dm (given 3 times)")
    );
    let r = ok(&[
        "--ipc",
        "1",
        "--methods",
        "file:a.npz,dm",
        "--from",
        "a.npz,b.npz",
    ]);
    assert_eq!(r.imported, [PathBuf::from("a.npz"), PathBuf::from("b.npz")]);
    assert_eq!(
        r.duplicate_note.as_deref(),
        Some("ignored duplicate entries (each cell runs once): imported set file:a.npz (given 2 times)")
    );
    let r = ok(&["--ipc", "1,10", "--methods", "dm"]);
    assert!(r.duplicate_note.is_none());
    // The plan of a deduplicated run has unique ids.
    let cells = crate::plan::cells(&r.methods, &r.budgets, 2);
    assert!(crate::plan::unique(cells).is_ok());
    let r = ok(&["--ipc", "1,1", "--methods", "random,random"]);
    let cells = crate::plan::cells(&r.methods, &r.budgets, 1);
    let ids: Vec<&str> = cells.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["random__ipc1__s0"]);
}

/// `--group`: `auto` groups on a GPU only (crate::gpu::AUTO_GPU_GROUP cells), never on the CPU;
/// `off` and `1` never; `N` wherever the protocol allows, and a protocol that cannot be
/// grouped (soft labels) trains every cell alone, with a note only when N was asked for.
#[test]
fn group_size_follows_the_device_and_the_protocol() {
    let g = |a: &[&str], device: Device| {
        let r = on(a, device, &env(None, 4)).unwrap();
        (r.group, r.group_note)
    };
    assert_eq!(g(&[], Device::Cpu), (1, None));
    assert_eq!(g(&["--group", "auto"], Device::Cpu), (1, None));
    assert_eq!(g(&[], Device::Cuda(0)), (crate::gpu::AUTO_GPU_GROUP, None));
    assert_eq!(g(&["--group", "off"], Device::Cuda(0)), (1, None));
    assert_eq!(g(&["--group", "1"], Device::Cuda(0)), (1, None));
    assert_eq!(g(&["--group", "5"], Device::Cpu), (5, None));
    let soft = Loaded::resolve("soft-label").unwrap().protocol;
    let (n, note) = group_size(args::GroupPolicy::Max(4), Device::Cpu, &soft);
    assert_eq!(n, 1);
    assert_eq!(
        note.unwrap(),
        "--group 4 ignored: protocol 'soft-label' cannot train cells grouped (its labels are not hard labels); every cell trains alone"
    );
    assert_eq!(
        group_size(args::GroupPolicy::Auto, Device::Cuda(0), &soft),
        (1, None)
    );
    let bad = match Cli::try_parse_from(["bench", "--protocol", "hard-label", "--group", "0"]) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("--group 0 parsed"),
    };
    assert!(
        bad.contains("expected auto, off or a number of cells >= 1, not \"0\""),
        "{bad}"
    );
}
