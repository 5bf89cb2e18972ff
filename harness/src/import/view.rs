//! What the importer's checks need to know about the dataset.

use distillery_api::Split;

/// The dataset as the checks see it. The test split and the checksum are given when a run is
/// planned (in the harness); the cell's importer sees neither (`test` and `checksum` are
/// `None` there), like every plugin.
pub struct DatasetView<'a> {
    /// The dataset's name (for messages).
    pub name: &'a str,
    /// `[C, H, W]` of its images.
    pub shape: [i64; 3],
    /// Class names in label order.
    pub class_names: &'a [String],
    /// The train split (uint8 images `[N, C, H, W]`, int64 labels `[N]`).
    pub train: &'a Split,
    /// The validation split, when known (an image in it is not a leak).
    pub val: Option<&'a Split>,
    /// The test split, when known (planning only): no set may copy its images.
    pub test: Option<&'a Split>,
    /// The dataset's content checksum, compared with the file's `dataset_checksum`.
    pub checksum: Option<&'a str>,
}

impl<'a> DatasetView<'a> {
    /// The full view of a prepared dataset (planning).
    pub fn of(data: &'a crate::dataset::Prepared) -> Self {
        DatasetView {
            name: &data.name,
            shape: data.shape,
            class_names: &data.class_names,
            train: &data.train,
            val: Some(&data.val),
            test: Some(&data.test),
            checksum: Some(&data.checksum),
        }
    }
}
