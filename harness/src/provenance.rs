//! Building a cell record from the harness's own types: the plan, the cell, the loaded
//! plugin, the protocol and the teacher. The record's schema and its files are the
//! `distillery-record` crate (re-exported as [`crate::record`]); only what needs harness types
//! lives here.

use crate::plan::{CellSpec, Plan};
use crate::plugin::Plugin;
use crate::protocol::Protocol;
use crate::record::{
    DatasetRef, Machine, ProtocolRef, Record, Status, TeacherRecord, Timings, Versions, SCHEMA,
};
use std::sync::OnceLock;

/// The versions of this build: the harness ([`crate::VERSION`]), the plugin API, rustc, tch
/// and libtorch.
pub fn versions() -> Versions {
    Versions {
        distillery: crate::VERSION.into(),
        api: distillery_api::API_VERSION.into(),
        rustc: distillery_api::RUSTC_VERSION.into(),
        tch: distillery_api::TCH_VERSION.into(),
        libtorch: distillery_api::LIBTORCH_VERSION.into(),
    }
}

/// The machine this process runs on, as recorded in every cell ([`Machine`]): the CPU model
/// and libtorch's CPU capability. Computed once per process.
///
/// The capability is asked from the linked libtorch itself when it exports
/// `at::get_cpu_capability()` (libtorch 2.x on Linux with libstdc++, the build this harness
/// uses): exactly what PyTorch's `torch.backends.cpu.get_cpu_capability()` returns, including
/// an `ATEN_CPU_CAPABILITY` override. Otherwise it is inferred from the CPU's features with
/// ATen's own rule (AVX512 needs AVX-512 VL, BW, DQ and FMA; AVX2 needs AVX2 and FMA), lowered
/// by `ATEN_CPU_CAPABILITY`, and `cpu_capability_source` says `cpu flags`.
pub fn machine() -> Machine {
    static M: OnceLock<Machine> = OnceLock::new();
    M.get_or_init(|| {
        let (cpu_capability, source) = match libtorch_cpu_capability() {
            Some(c) => (c, "libtorch"),
            None => (inferred_cpu_capability(), "cpu flags"),
        };
        Machine {
            cpu_model: cpu_model(),
            cpu_capability,
            cpu_capability_source: source.into(),
        }
    })
    .clone()
}

/// The CPU's model name: the first `model name` (x86) or `Model` / `Hardware` line of
/// `/proc/cpuinfo`; empty when there is none (not Linux).
fn cpu_model() -> String {
    let Ok(text) = std::fs::read_to_string("/proc/cpuinfo") else {
        return String::new();
    };
    for key in ["model name", "Model", "Hardware"] {
        if let Some(v) = text.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key).then(|| v.trim().to_string())
        }) {
            return v;
        }
    }
    String::new()
}

/// `at::get_cpu_capability()` of the libtorch linked into this process, looked up by its
/// symbol (`None` when it is not exported, e.g. another C++ standard library).
///
/// The symbol's `[abi:cxx11]` tag guarantees the libstdc++ `std::string` it returns: 32 bytes
/// (data pointer, length, 16-byte inline buffer), returned through a hidden pointer as a
/// 32-byte C struct is on x86-64 and AArch64. The capability names are short, so the string
/// lives in the inline buffer (nothing to free); anything else is refused (and leaked). The
/// test `env_names_the_cpu_and_libtorchs_capability` checks the answer against PyTorch's.
fn libtorch_cpu_capability() -> Option<String> {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    {
        #[repr(C)]
        struct StdString {
            ptr: *const u8,
            len: usize,
            buf: [u8; 16],
        }
        type GetCapability = unsafe extern "C" fn() -> StdString;
        // SAFETY: dlopen(NULL) is the running program; its lifetime is the process's.
        let this = libloading::os::unix::Library::this();
        // SAFETY: the symbol, when present, is `std::string at::get_cpu_capability()`
        // (libstdc++ new ABI, per its mangled name), whose return value has this layout.
        let s = unsafe {
            let f = this
                .get::<GetCapability>(b"_ZN2at18get_cpu_capabilityB5cxx11Ev\0")
                .ok()?;
            f()
        };
        // A short libstdc++ string lives in its inline buffer, NUL-terminated (the object may
        // have moved since, so the data pointer is not compared). A heap string (never
        // expected for these names) holds its capacity there instead: refused, not freed.
        let _ = s.ptr;
        if s.len == 0 || s.len > 15 || s.buf[s.len] != 0 {
            return None;
        }
        let name = &s.buf[..s.len];
        if !name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_') {
            return None;
        }
        let text = String::from_utf8(name.to_vec()).ok()?;
        return (!text.is_empty()).then_some(text);
    }
    #[allow(unreachable_code)]
    None
}

/// The capability ATen would choose from the CPU's features (see [`machine`]).
fn inferred_cpu_capability() -> String {
    #[cfg(target_arch = "x86_64")]
    let best = {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx512vl") && has!("avx512bw") && has!("avx512dq") && has!("fma") {
            "AVX512"
        } else if has!("avx2") && has!("fma") {
            "AVX2"
        } else {
            "DEFAULT"
        }
    };
    #[cfg(not(target_arch = "x86_64"))]
    let best = "DEFAULT";
    let order = ["DEFAULT", "AVX2", "AVX512"];
    let asked = std::env::var("ATEN_CPU_CAPABILITY")
        .ok()
        .map(|v| v.trim().to_uppercase())
        .filter(|v| order.contains(&v.as_str()));
    match asked {
        Some(a) if order.iter().position(|x| *x == a) < order.iter().position(|x| *x == best) => a,
        _ => best.into(),
    }
}

/// The record of `cell` before anything has run (status `Failed`, nothing measured): the
/// one skeleton both the cell process and, for a crashed cell, the executor fill in.
/// `plugin` is `None` when it could not be loaded (its fields stay empty); the protocol's
/// name, version, label mode and the method's configuration come from the plan's protocol
/// text, and stay empty if it does not parse.
pub fn skeleton(
    plan: &Plan,
    cell: &CellSpec,
    plugin: Option<&Plugin>,
    dataset: DatasetRef,
) -> Record {
    let loaded = plan.protocol().ok();
    let from_protocol = |f: fn(&Protocol) -> &String| {
        loaded
            .as_ref()
            .map(|l| f(&l.protocol).clone())
            .unwrap_or_default()
    };
    Record {
        schema: SCHEMA,
        status: Status::Failed,
        cell_id: cell.id.clone(),
        method: cell.method.clone(),
        family: plugin
            .map(|p| p.info.family.as_str().to_string())
            .unwrap_or_default(),
        plugin_version: plugin.map(|p| p.info.version.clone()).unwrap_or_default(),
        plugin_path: plugin
            .map(|p| p.path.display().to_string())
            .unwrap_or_default(),
        budget: cell.budget,
        budget_label: cell
            .budget
            .map(|b| b.label())
            .unwrap_or_else(|| "full".into()),
        seed: cell.seed,
        seeds: cell.seeds,
        protocol: ProtocolRef {
            name: from_protocol(|p| &p.name),
            version: from_protocol(|p| &p.version),
            hash: plan.protocol_hash.clone(),
            origin: plan.protocol_origin.clone(),
        },
        dataset,
        device: plan.device.clone(),
        threads: plan.threads_per_cell,
        deterministic: plan.device == "cpu" || plan.deterministic,
        machine: machine(),
        versions: versions(),
        evaluation: None,
        storage: None,
        per_class: None,
        timings: Timings::default(),
        peak_rss_bytes: 0,
        compress_peak_rss_bytes: 0,
        method_metadata: serde_json::Value::Null,
        method_config: loaded
            .as_ref()
            .map(|l| plan.method_config(l, &cell.method))
            .unwrap_or_default(),
        labels: loaded
            .as_ref()
            .map(|l| l.protocol.labels.as_str().to_string())
            .unwrap_or_default(),
        teacher: None,
        error: None,
        cached_from: None,
        slurm: None,
        grouped: None,
        finished_at: 0,
    }
}

/// The record of teacher `t`, with its top-1 accuracy on the test split `test_acc` (a
/// fraction, measured by the caller).
pub fn teacher_record(t: &distillery_api::teacher::Teacher, test_acc: f64) -> TeacherRecord {
    TeacherRecord {
        key: t.info.key.clone(),
        model: t.info.spec.model.describe(),
        val_acc: t.info.val_acc,
        test_acc,
        best_epoch: t.info.best_epoch,
        epochs_run: t.info.epochs_run,
        parameters: t.info.parameters,
        parameter_bytes: t.info.parameter_bytes,
        from_cache: t.from_cache,
        train_seconds: t.info.train_seconds,
        weights_sha256: t.info.file.as_ref().map(|_| t.info.weights_sha256.clone()),
        file: t.info.file.clone(),
    }
}
