//! Statistics for Distillery result tables.
//!
//! This crate owns every number that a published Distillery table derives from
//! raw per-seed results: per-cell summaries with t-intervals, pairwise
//! hypothesis tests, multiple-comparison correction, rank-based comparisons
//! across many settings, DD-Ranking-style scores and the accuracy/storage
//! Pareto frontier. It has no `tch` dependency and does no I/O.
//!
//! | Module | Contents |
//! |---|---|
//! | [`summary`] | [`Summary`]: mean, sample std, SEM and Student-t interval |
//! | [`ttest`] | Welch two-sample, paired and one-sample t-tests with intervals |
//! | [`multiple`] | Holm–Bonferroni adjustment, significance marks |
//! | [`ranks`] | average ranks, Friedman / Iman–Davenport, Nemenyi critical difference |
//! | [`ddranking`] | DD-Ranking LRS / ARS scores, label gain (on fractions, not percentages) |
//! | [`pareto`] | accuracy-vs-bytes Pareto frontier |
//! | [`bootstrap`] | percentile bootstrap interval for the mean (secondary) |
//!
//! All functions validate their inputs and return [`StatsError`] instead of
//! producing NaN silently; degenerate-but-valid cases (zero variance, perfect
//! rank agreement) are resolved deterministically and documented on each
//! function.
//!
//! ```
//! use distillery_stats::{holm_adjust, significance_mark, summarize, welch_t_test};
//!
//! let ours = [0.712, 0.698, 0.731, 0.705, 0.719];
//! let baseline = [0.684, 0.701, 0.676, 0.690, 0.669, 0.695];
//! let s = summarize(&ours)?;
//! assert!(s.ci_low.unwrap() < s.mean && s.mean < s.ci_high.unwrap());
//!
//! let t = welch_t_test(&ours, &baseline)?;
//! let adjusted = holm_adjust(&[t.p_value, 0.2, 0.03])?;
//! assert_eq!(significance_mark(adjusted[0]), "*"); // 3 · 0.00625 = 0.019
//! # Ok::<(), distillery_stats::StatsError>(())
//! ```

#![warn(missing_docs)]

pub mod bootstrap;
pub mod ddranking;
pub mod multiple;
pub mod pareto;
pub mod ranks;
pub mod summary;
pub mod ttest;

mod util;

pub use bootstrap::{bootstrap_mean_ci, percentile, BootstrapInterval};
pub use ddranking::{
    ars, hlr, ior, label_gain, lrs, normalise_exp, ArsInputs, ArsScore, LrsInputs, LrsScore,
    DEFAULT_GAMMA, DEFAULT_W,
};
pub use multiple::{holm_adjust, significance_mark};
pub use pareto::{pareto_frontier, ParetoPoint};
pub use ranks::{
    average_ranks, friedman, nemenyi_cd, nemenyi_q05, rank_block, FriedmanResult, NEMENYI_Q05,
};
pub use summary::{mean, sample_std, summarize, summarize_with_conf, Summary, DEFAULT_CONF};
pub use ttest::{
    one_sample_t_test, one_sample_t_test_with_conf, paired_t_test, paired_t_test_with_conf,
    welch_t_test, welch_t_test_with_conf, TTest,
};

/// Errors returned by this crate. Every public function validates its input
/// and reports problems through this type rather than returning NaN.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// Not enough observations for the requested statistic.
    #[error("{what} needs at least {need} observation(s), got {got}")]
    TooFewObservations {
        /// What was being computed.
        what: &'static str,
        /// Minimum number of observations required.
        need: usize,
        /// Number of observations supplied.
        got: usize,
    },
    /// An input value was NaN or infinite.
    #[error("{what}: value at index {index} is not finite ({value})")]
    NonFinite {
        /// Which input held the value.
        what: &'static str,
        /// Position of the offending value.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// Two inputs that must have the same length do not.
    #[error("{what}: length mismatch ({left} vs {right})")]
    LengthMismatch {
        /// What was being computed.
        what: &'static str,
        /// Length of the first input.
        left: usize,
        /// Length of the second input.
        right: usize,
    },
    /// A confidence level outside the open interval (0, 1).
    #[error("confidence level must be in (0, 1), got {0}")]
    InvalidConfidence(f64),
    /// A p-value outside [0, 1] (or NaN).
    #[error("p-value at index {index} is {value}, outside [0, 1]")]
    InvalidPValue {
        /// Position of the offending p-value.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A score matrix whose rows do not all have the same number of columns.
    #[error("ragged score matrix: block {block} has {got} methods, expected {expected}")]
    RaggedMatrix {
        /// Row (block) index.
        block: usize,
        /// Number of columns in that row.
        got: usize,
        /// Number of columns in the first row.
        expected: usize,
    },
    /// The Nemenyi critical value is only tabulated for 2..=10 methods.
    #[error("Nemenyi q_0.05 is tabulated only for k = 2..=10 methods, got k = {0}")]
    UnsupportedMethodCount(usize),
    /// An accuracy greater than 1 was passed where a fraction is required.
    #[error(
        "{name} = {value} is greater than 1: DD-Ranking scores take accuracies as fractions \
         in [0, 1]; percentages must be converted to fractions (divide by 100) before \
         they are fed into the exponentials"
    )]
    PercentageNotFraction {
        /// Name of the offending argument.
        name: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A value that must lie in [0, 1] does not (negative or NaN).
    #[error("{name} = {value} is outside [0, 1]")]
    OutOfUnitInterval {
        /// Name of the offending argument.
        name: &'static str,
        /// The offending value.
        value: f64,
    },
    /// Any other invalid parameter.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
}

/// Result alias used throughout the crate.
pub type Result<T, E = StatsError> = std::result::Result<T, E>;
