//! The plugin side of the ABI: what [`export_plugin!`] expands to call. Every entry point
//! runs inside `catch_unwind`, so a panic in a method becomes an error message instead of
//! unwinding across `extern "C"` (which would abort the process).

use crate::abi::*;
use crate::method::{Compressed, Context, Input, Method, Output, RequestMeta, Split};
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use tch::Tensor;

/// Exports a [`Method`] type as a Distillery plugin:
/// `export_plugin!(MyMethod);` in the `cdylib` crate's `lib.rs`.
#[macro_export]
macro_rules! export_plugin {
    ($method:ty) => {
        #[no_mangle]
        pub extern "C" fn distillery_plugin_entry() -> *const $crate::abi::PluginHeader {
            static HEADER: ::std::sync::OnceLock<$crate::abi::PluginHeader> =
                ::std::sync::OnceLock::new();
            HEADER.get_or_init(|| {
                $crate::export::header::<$method>(__distillery_compress, __distillery_free)
            })
        }

        unsafe extern "C" fn __distillery_compress(
            req: *const $crate::abi::CompressRequest,
            resp: *mut $crate::abi::CompressResponse,
        ) {
            unsafe { $crate::export::compress::<$method>(req, resp) }
        }

        unsafe extern "C" fn __distillery_free(resp: *mut $crate::abi::CompressResponse) {
            unsafe { $crate::export::free_response(resp) }
        }
    };
}

fn leak(s: &str) -> *const c_char {
    CString::new(s.replace('\0', " "))
        .unwrap_or_default()
        .into_raw()
}

/// Builds the header (called once, lazily, by the exported entry point).
pub fn header<M: Method>(compress: CompressFn, free_response: FreeResponseFn) -> PluginHeader {
    PluginHeader {
        magic: MAGIC,
        abi_version: ABI_VERSION,
        header_size: std::mem::size_of::<PluginHeader>() as u32,
        rustc_version: leak(crate::version::RUSTC_VERSION),
        api_version: leak(crate::version::API_VERSION),
        tch_version: leak(crate::version::TCH_VERSION),
        libtorch_version: leak(crate::version::LIBTORCH_VERSION),
        name: leak(M::NAME),
        family: leak(M::FAMILY.as_str()),
        version: leak(M::VERSION),
        paper: leak(M::PAPER),
        description: leak(M::DESCRIPTION),
        compress,
        free_response,
    }
}

/// Turns a panic payload into its message.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

fn into_raw(t: Tensor) -> *mut C_tensor {
    let mut t = t;
    let p = t.as_mut_ptr();
    std::mem::forget(t);
    p
}

/// The body of the exported `compress`.
///
/// # Safety
/// `req` and `resp` must be valid pointers supplied by the Distillery host.
pub unsafe fn compress<M: Method>(req: *const CompressRequest, resp: *mut CompressResponse) {
    let out = unsafe { &mut *resp };
    *out = CompressResponse::empty();
    let result = catch_unwind(AssertUnwindSafe(|| unsafe { run::<M>(&*req) }));
    match result {
        Ok(Ok((compressed, _))) => {
            let kind = match compressed.output {
                Output::Indices { indices, weights } => {
                    out.indices = into_raw(Tensor::from_slice(&indices));
                    if let Some(w) = weights {
                        out.weights = into_raw(Tensor::from_slice(&w));
                    }
                    "indices"
                }
                Output::Images {
                    images,
                    labels,
                    soft_labels,
                } => {
                    out.images = into_raw(images);
                    out.labels = into_raw(labels);
                    if let Some(s) = soft_labels {
                        out.soft_labels = into_raw(s);
                    }
                    "images"
                }
            };
            let json = serde_json::json!({
                "kind": kind,
                "metadata": compressed.metadata,
                "label_spec": compressed.label_spec,
            });
            out.json = CString::new(json.to_string())
                .unwrap_or_default()
                .into_raw();
            out.status = STATUS_OK;
        }
        Ok(Err(msg)) => {
            out.status = STATUS_ERROR;
            out.json = CString::new(msg.replace('\0', " "))
                .unwrap_or_default()
                .into_raw();
        }
        Err(payload) => {
            out.status = STATUS_PANIC;
            let msg = panic_message(payload.as_ref());
            out.json = CString::new(msg.replace('\0', " "))
                .unwrap_or_default()
                .into_raw();
        }
    }
}

unsafe fn borrow(p: *mut C_tensor, what: &str) -> Result<Tensor, String> {
    if p.is_null() {
        return Err(format!("host passed a null {what} tensor"));
    }
    Ok(unsafe { Tensor::clone_from_ptr(p) })
}

unsafe fn run<M: Method>(req: &CompressRequest) -> Result<(Compressed, ()), String> {
    let meta_json = unsafe { CStr::from_ptr(req.meta_json) }.to_string_lossy();
    let meta: RequestMeta = serde_json::from_str(&meta_json)
        .map_err(|e| format!("malformed request from host: {e}"))?;
    let train = Split {
        images: unsafe { borrow(req.train_images, "train images")? },
        labels: unsafe { borrow(req.train_labels, "train labels")? },
    };
    let val = Split {
        images: unsafe { borrow(req.val_images, "val images")? },
        labels: unsafe { borrow(req.val_labels, "val labels")? },
    };
    let class_names = meta.class_names.clone();
    let budget = meta.budget;
    let mut ctx =
        Context::try_new(meta).map_err(|e| format!("malformed request from host: {e}"))?;
    ctx.progress = req.progress.map(|f| (f, req.progress_data));
    let input = Input {
        train: &train,
        val: &val,
        class_names: &class_names,
        budget,
    };
    let mut method = M::default();
    method
        .compress(&input, &ctx)
        .map(|c| (c, ()))
        .map_err(|e| e.to_string())
}

/// Frees what `compress` allocated and the host did not take.
///
/// # Safety
/// `resp` must come from this plugin's `compress`.
pub unsafe fn free_response(resp: *mut CompressResponse) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let r = unsafe { &mut *resp };
        if !r.json.is_null() {
            drop(unsafe { CString::from_raw(r.json) });
            r.json = std::ptr::null_mut();
        }
        for p in [
            &mut r.images,
            &mut r.labels,
            &mut r.soft_labels,
            &mut r.indices,
            &mut r.weights,
        ] {
            if !p.is_null() {
                drop(unsafe { Tensor::from_ptr(*p) });
                *p = std::ptr::null_mut();
            }
        }
    }));
}
