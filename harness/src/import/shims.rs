//! The C entry points of the built-in importer, so that it runs behind the same plugin
//! boundary (`distillery_api::host::call_compress`) as every method.
//!
//! Why hand-written here rather than `distillery_api::export_plugin!`: that macro also defines
//! the `#[no_mangle]` symbol `distillery_plugin_entry`, which a host must not export (it would
//! make the `bench` binary and every test binary linking the harness look like a plugin, and a
//! second use would clash at link time). The two `extern "C"` functions below are the rest of
//! the macro's expansion, calling the same `distillery_api::export` functions. If the API crate
//! ever offers the header without the symbol (e.g. generic `extern "C"` entry points, so that
//! `export::header::<M>()` needs no arguments), this module can go.

use super::importer::Importer;
use distillery_api::abi::{CompressRequest, CompressResponse, PluginHeader};

unsafe extern "C" fn compress(req: *const CompressRequest, resp: *mut CompressResponse) {
    unsafe { distillery_api::export::compress::<Importer>(req, resp) }
}

unsafe extern "C" fn free(resp: *mut CompressResponse) {
    unsafe { distillery_api::export::free_response(resp) }
}

/// The importer's plugin header, built once, as `export_plugin!`'s entry point would.
pub(crate) fn header() -> &'static PluginHeader {
    static HEADER: std::sync::OnceLock<PluginHeader> = std::sync::OnceLock::new();
    HEADER.get_or_init(|| distillery_api::export::header::<Importer>(compress, free))
}
