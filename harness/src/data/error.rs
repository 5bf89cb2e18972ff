//! The error type of the dataset readers.

/// Result alias of the data module.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

/// Everything that can go wrong while reading a dataset. Every variant names the file (or
/// directory / spec) it is about, what was expected and what was found.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // variant fields are self-describing and shown in the messages
pub enum DataError {
    /// The file exists but could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// A required file or directory is absent.
    #[error("{path}: missing: expected {expected}")]
    MissingFile { path: String, expected: String },

    /// The file starts with the gzip magic bytes but does not decompress.
    #[error("{path}: unreadable gzip: {source}")]
    Gzip {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// The idx magic number is not the expected one.
    #[error("{path}: wrong magic: expected {expected:#010x} ({what}), found {found:#010x}")]
    BadMagic {
        path: String,
        what: &'static str,
        expected: u32,
        found: u32,
    },

    /// The file is shorter than its fixed-size header.
    #[error("{path}: truncated: expected a {expected}-byte {what} header, but the file has only {found} bytes")]
    ShortHeader {
        path: String,
        what: &'static str,
        expected: usize,
        found: usize,
    },

    /// The header declares more payload than the file holds.
    #[error("{path}: truncated: header declares {declared} ({expected} bytes) but only {found} bytes follow")]
    Truncated {
        path: String,
        declared: String,
        expected: usize,
        found: usize,
    },

    /// The file holds more payload than its header declares.
    #[error("{path}: trailing data: header declares {declared} ({expected} bytes) but {found} bytes follow")]
    TrailingData {
        path: String,
        declared: String,
        expected: usize,
        found: usize,
    },

    /// The label file and the image file disagree on the number of examples.
    #[error(
        "{labels_path}: count mismatch: {labels} labels, but {images_path} holds {images} images"
    )]
    CountMismatch {
        labels_path: String,
        images_path: String,
        labels: usize,
        images: usize,
    },

    /// A label is not in `0..num_classes`.
    #[error("{path}: label out of range: record {index} has label {label}, expected 0..={max}", max = .num_classes - 1)]
    LabelOutOfRange {
        path: String,
        index: usize,
        label: i64,
        num_classes: usize,
    },

    /// A CIFAR file whose length is not a whole number of records.
    #[error("{path}: length {len} bytes is not a multiple of the {record_size}-byte record size ({what})")]
    RecordLength {
        path: String,
        what: &'static str,
        record_size: usize,
        len: usize,
    },

    /// An image that the `image` crate cannot decode.
    #[error("{path}: undecodable image: {source}")]
    ImageDecode {
        path: String,
        #[source]
        source: image::ImageError,
    },

    /// A class of the train split has no directory (or no images) in the test split, or the
    /// other way round.
    #[error("{path}: missing class '{class}': expected the directory of a class present in {present_in}, found {found}")]
    MissingClass {
        path: String,
        class: String,
        present_in: String,
        found: String,
    },

    /// Anything else that is malformed: a generic "expected X, found Y".
    #[error("{path}: expected {expected}, found {found}")]
    Invalid {
        path: String,
        expected: String,
        found: String,
    },

    /// Idx files that are not a published release ([`super::IDX_RELEASES`]) and no kind was
    /// given: what the classes are cannot be known (never guessed from the path).
    #[error("{path}: idx files that are not a published MNIST or Fashion-MNIST release (recognised by the SHA-256 of their .gz files), so what their classes are is not known: give --dataset-kind mnist (digits 0-9, no flip augmentation) or --dataset-kind fashion-mnist (clothes, flip augmentation)")]
    UnknownKind { path: String },

    /// An explicit kind that contradicts the published release the files are.
    #[error("{path}: --dataset-kind {given}, but these files are the published {release} release (recognised by the SHA-256 of their .gz files): drop --dataset-kind or give the right one")]
    KindConflict {
        path: String,
        given: &'static str,
        release: &'static str,
    },

    /// An option that does not apply to the dataset given.
    #[error("{path}: {option} applies to {applies_to} only, and this dataset is {found}")]
    NotApplicable {
        path: String,
        option: &'static str,
        applies_to: &'static str,
        found: String,
    },

    /// A spec that names neither an embedded dataset nor a readable dataset directory.
    #[error("{spec}: not a dataset: {detail}")]
    UnknownDataset { spec: String, detail: String },
}

impl DataError {
    pub(crate) fn invalid(
        path: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        DataError::Invalid {
            path: path.into(),
            expected: expected.into(),
            found: found.into(),
        }
    }
}
