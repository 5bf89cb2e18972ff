//! The C-stable boundary between `bench` and a plugin library.
//!
//! A plugin exports exactly one symbol, [`ENTRY_SYMBOL`], an `extern "C" fn() -> *const
//! PluginHeader`. The loader reads the first three fields ([`magic`](PluginHeader::magic),
//! [`abi_version`](PluginHeader::abi_version), [`header_size`](PluginHeader::header_size))
//! before anything else: they keep their offsets in every ABI version. Only when they match
//! does it read the version strings and the function table.
//!
//! Tensors cross as libtorch tensor handles (`*mut C_tensor`): one libtorch is loaded per
//! process, so a handle made on one side is valid on the other. Strings cross as
//! NUL-terminated UTF-8; anything the plugin allocates it also frees ([`PluginHeader::free_response`]).

use std::ffi::{c_char, c_void};
pub use torch_sys::C_tensor;

/// `b"DSTLPLUG"` read as a little-endian u64.
pub const MAGIC: u64 = u64::from_le_bytes(*b"DSTLPLUG");
/// Bump on any change to the structs in this module.
pub const ABI_VERSION: u32 = 1;
/// The one symbol a plugin exports.
pub const ENTRY_SYMBOL: &str = "distillery_plugin_entry";

/// Status codes of [`CompressResponse::status`].
/// The method returned a compressed set; `json` describes it.
pub const STATUS_OK: i32 = 0;
/// The method returned an error; `json` is its message.
pub const STATUS_ERROR: i32 = 1;
/// The method panicked (caught at the boundary); `json` is the panic message.
pub const STATUS_PANIC: i32 = 2;

/// The signature of [`ENTRY_SYMBOL`]: returns a pointer to the plugin's static header.
pub type EntryFn = unsafe extern "C" fn() -> *const PluginHeader;
/// [`PluginHeader::compress`]: runs the method on a request and fills the response.
pub type CompressFn = unsafe extern "C" fn(*const CompressRequest, *mut CompressResponse);
/// [`PluginHeader::free_response`]: releases what `compress` allocated.
pub type FreeResponseFn = unsafe extern "C" fn(*mut CompressResponse);
/// The host's progress sink: `(progress_data, fraction in [0, 1], NUL-terminated message)`.
pub type ProgressFn = unsafe extern "C" fn(*mut c_void, f64, *const c_char);

/// What a plugin declares about itself, returned by its entry point. Static for the life of
/// the process; every string is NUL-terminated UTF-8 owned by the plugin.
#[repr(C)]
pub struct PluginHeader {
    /// Always [`MAGIC`].
    pub magic: u64,
    /// The [`ABI_VERSION`] the plugin was built with.
    pub abi_version: u32,
    /// `size_of::<PluginHeader>()` as the plugin saw it.
    pub header_size: u32,
    /// `rustc --version` of the compiler that built the plugin.
    pub rustc_version: *const c_char,
    /// The `distillery-api` version the plugin was built against.
    pub api_version: *const c_char,
    /// The tch version the plugin was built against.
    pub tch_version: *const c_char,
    /// The libtorch version the plugin was built against.
    pub libtorch_version: *const c_char,
    /// `Method::NAME`.
    pub name: *const c_char,
    /// `Method::FAMILY` as its lowercase name.
    pub family: *const c_char,
    /// `Method::VERSION`.
    pub version: *const c_char,
    /// `Method::PAPER`.
    pub paper: *const c_char,
    /// `Method::DESCRIPTION`.
    pub description: *const c_char,
    /// Runs the method once.
    pub compress: CompressFn,
    /// Frees a response filled by `compress`.
    pub free_response: FreeResponseFn,
}

// SAFETY: the header is immutable after construction and its strings are 'static.
unsafe impl Sync for PluginHeader {}
unsafe impl Send for PluginHeader {}

/// Input of one `compress` call. All pointers are owned by the host and valid for the call.
#[repr(C)]
pub struct CompressRequest {
    /// JSON of `crate::method::RequestMeta`, NUL-terminated.
    pub meta_json: *const c_char,
    /// uint8 `[N, C, H, W]` train images.
    pub train_images: *mut C_tensor,
    /// int64 `[N]` train labels.
    pub train_labels: *mut C_tensor,
    /// uint8 `[V, C, H, W]` validation images.
    pub val_images: *mut C_tensor,
    /// int64 `[V]` validation labels.
    pub val_labels: *mut C_tensor,
    /// The host's progress sink, if any.
    pub progress: Option<ProgressFn>,
    /// Passed back as the first argument of `progress`.
    pub progress_data: *mut c_void,
}

/// Output of one `compress` call, filled by the plugin and released with `free_response`
/// (after the host has taken the tensors it wants: it nulls the pointers it takes).
#[repr(C)]
pub struct CompressResponse {
    /// [`STATUS_OK`], [`STATUS_ERROR`] or [`STATUS_PANIC`].
    pub status: i32,
    /// On success, JSON `{"kind": "indices"|"images", "metadata": {...}}`; otherwise the
    /// error or panic message.
    pub json: *mut c_char,
    /// `[M, C, H, W]` images (uint8 or float in [0, 1]) for `"images"`; null otherwise.
    pub images: *mut C_tensor,
    /// int64 `[M]` hard labels for `"images"`; null otherwise.
    pub labels: *mut C_tensor,
    /// float `[M, K]` soft labels, or null.
    pub soft_labels: *mut C_tensor,
    /// int64 `[M]` train indices for `"indices"`; null otherwise.
    pub indices: *mut C_tensor,
    /// float32 `[M]` per-image weights, or null.
    pub weights: *mut C_tensor,
}

impl CompressResponse {
    /// A response with status [`STATUS_ERROR`] and every pointer null (what the plugin
    /// starts from).
    pub fn empty() -> Self {
        Self {
            status: STATUS_ERROR,
            json: std::ptr::null_mut(),
            images: std::ptr::null_mut(),
            labels: std::ptr::null_mut(),
            soft_labels: std::ptr::null_mut(),
            indices: std::ptr::null_mut(),
            weights: std::ptr::null_mut(),
        }
    }
}
