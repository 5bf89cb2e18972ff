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
pub const STATUS_OK: i32 = 0;
pub const STATUS_ERROR: i32 = 1;
pub const STATUS_PANIC: i32 = 2;

pub type EntryFn = unsafe extern "C" fn() -> *const PluginHeader;
pub type CompressFn = unsafe extern "C" fn(*const CompressRequest, *mut CompressResponse);
pub type FreeResponseFn = unsafe extern "C" fn(*mut CompressResponse);
pub type ProgressFn = unsafe extern "C" fn(*mut c_void, f64, *const c_char);

#[repr(C)]
pub struct PluginHeader {
    pub magic: u64,
    pub abi_version: u32,
    /// `size_of::<PluginHeader>()` as the plugin saw it.
    pub header_size: u32,
    pub rustc_version: *const c_char,
    pub api_version: *const c_char,
    pub tch_version: *const c_char,
    pub libtorch_version: *const c_char,
    pub name: *const c_char,
    pub family: *const c_char,
    pub version: *const c_char,
    pub paper: *const c_char,
    pub description: *const c_char,
    pub compress: CompressFn,
    pub free_response: FreeResponseFn,
}

// SAFETY: the header is immutable after construction and its strings are 'static.
unsafe impl Sync for PluginHeader {}
unsafe impl Send for PluginHeader {}

/// Input of one `compress` call. All pointers are owned by the host and valid for the call.
#[repr(C)]
pub struct CompressRequest {
    /// JSON of [`crate::method::RequestMeta`].
    pub meta_json: *const c_char,
    pub train_images: *mut C_tensor,
    pub train_labels: *mut C_tensor,
    pub val_images: *mut C_tensor,
    pub val_labels: *mut C_tensor,
    pub progress: Option<ProgressFn>,
    pub progress_data: *mut c_void,
}

/// Output of one `compress` call, filled by the plugin and released with `free_response`
/// (after the host has taken the tensors it wants: it nulls the pointers it takes).
#[repr(C)]
pub struct CompressResponse {
    pub status: i32,
    /// On success, JSON `{"kind": "indices"|"images", "metadata": {...}}`; otherwise the
    /// error or panic message.
    pub json: *mut c_char,
    pub images: *mut C_tensor,
    pub labels: *mut C_tensor,
    pub soft_labels: *mut C_tensor,
    pub indices: *mut C_tensor,
    pub weights: *mut C_tensor,
}

impl CompressResponse {
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
