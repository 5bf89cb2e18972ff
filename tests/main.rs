//! The integration tests, one test binary with a module per topic (one link against libtorch
//! instead of one per file). Declared in `harness/Cargo.toml` as the `integration` test of the
//! `distillery` package: they are the end-to-end tests of its `bench` binary
//! (`CARGO_BIN_EXE_bench`) and of its report layer.
//!
//! | Module | Topic |
//! |---|---|
//! | `cli` | `bench` end to end: training, provenance, resumption, plugin loading, misbehaving plugins, bad input |
//! | `datasets` | datasets given as paths: too-small images, idx kind, files left out, stretched images, non-UTF-8 class names |
//! | `labels` | the label axis: teachers, soft and native labels, label gain, `--method-config` |
//! | `large_image` | the large-image protocols: published files vs fixtures, torchvision ResNet-18 equivalence, `--teacher` end to end |
//! | `import_export` | importing sets made elsewhere and `bench export` |
//! | `results_integrity` | results that must not get lost or misreported: diverged students, repeated grid entries, comparability across result sets, below-chance cells |
//! | `gpu_check` | `scripts/gpu-check.sh --dry-run`: the prepared GPU check on the CPU |
//! | `grouped` | `bench --group`: students of several cells trained as one grouped model equal their separate runs; a crash in a group costs only the crashing cell |
//! | `executor` | several `bench` processes on one output folder or cache: cells run once, teachers trained once, replaced records kept |
//! | `slurm` | the Slurm executor against a real single-node Slurm (scripts/slurm/start.sh); fails loudly where Slurm cannot be started |
//! | `report_snapshots` | every report format on hand-built records (insta snapshots in `snapshots/`) |
//! | `reproduce` | `bench reproduce` of a published table, the machine in records and `bench env` |
//! | `common` | helpers: where `bench` and the workspace are, running `bench`, reading records |
//!
//! Run one topic with a filter: `cargo test --release -p distillery --test integration cli::`.
//! The end-to-end modules need the workspace built first (`cargo build --release --workspace`,
//! which `make test` does through ./setup.sh): the plugins and the fixture plugin next to `bench`.

mod cli;
mod common;
mod datasets;
mod executor;
mod gpu_check;
mod grouped;
mod import_export;
mod labels;
mod large_image;
mod report_snapshots;
mod reproduce;
mod results_integrity;
mod slurm;
