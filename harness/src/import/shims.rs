//! The C entry points through which the harness runs a [`Method`] of its own (the built-in
//! importer) behind the same plugin boundary (`distillery_api::host::call_compress`) as
//! every plugin. Generic over the method, so this module depends on nothing in the harness.
//!
//! Why not `distillery_api::export_plugin!`: that macro also defines the `#[no_mangle]` symbol
//! `distillery_plugin_entry`, which a host must not export (the `bench` binary and every test
//! binary linking the harness would look like a plugin, and a second use would clash at link
//! time). The two `extern "C"` functions below are the rest of the macro's expansion and call
//! the same `distillery_api::export` functions, so nothing of the ABI is copied here. If the
//! API crate offers this (generic `extern "C"` entry points beside `export::header`), this
//! module can go.

use distillery_api::abi::{CompressRequest, CompressResponse, PluginHeader};
use distillery_api::Method;

/// `compress` of `M`, as `export_plugin!` exports it.
///
/// # Safety
/// `req` and `resp` must be valid pointers supplied by the host (`call_compress`).
unsafe extern "C" fn compress<M: Method>(req: *const CompressRequest, resp: *mut CompressResponse) {
    unsafe { distillery_api::export::compress::<M>(req, resp) }
}

/// `free_response`, as `export_plugin!` exports it.
///
/// # Safety
/// `resp` must come from [`compress`].
unsafe extern "C" fn free(resp: *mut CompressResponse) {
    unsafe { distillery_api::export::free_response(resp) }
}

/// The plugin header of `M`. Its strings are leaked: build it once and keep it (a
/// `OnceLock` in the caller), as the exported entry point does.
pub(crate) fn header<M: Method>() -> PluginHeader {
    distillery_api::export::header::<M>(compress::<M>, free)
}
