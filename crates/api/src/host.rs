//! The host side of the ABI: validating a plugin's header and calling it. Lives next to
//! [`crate::export`] so both halves of the boundary change together.

use crate::abi::*;
use crate::method::{Family, RequestMeta, Split};
use std::ffi::{c_char, c_void, CStr, CString};
use tch::Tensor;

/// What a plugin declares, read from a validated header.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PluginInfo {
    /// `Method::NAME`: lowercase `[a-z0-9-]+`.
    pub name: String,
    /// `Method::FAMILY`.
    pub family: Family,
    /// `Method::VERSION`.
    pub version: String,
    /// `Method::PAPER`.
    pub paper: String,
    /// `Method::DESCRIPTION`.
    pub description: String,
    /// The plugin's rustc (equal to the host's).
    pub rustc_version: String,
    /// The plugin's distillery-api version (equal to the host's).
    pub api_version: String,
    /// The plugin's tch version (equal to the host's).
    pub tch_version: String,
    /// The plugin's libtorch version (equal to the host's).
    pub libtorch_version: String,
}

/// Why a library was rejected. Mismatches carry host and plugin values.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    /// The entry point returned a null pointer.
    #[error("the entry point returned a null header")]
    Null,
    /// The first 8 bytes are not [`MAGIC`].
    #[error("bad magic number {found:#018x} (expected {expected:#018x}): not a Distillery plugin header")]
    Magic {
        /// What the header holds.
        found: u64,
        /// [`MAGIC`].
        expected: u64,
    },
    /// The plugin was built for another C ABI ([`ABI_VERSION`]).
    #[error("plugin ABI version {plugin}, host ABI version {host}")]
    AbiVersion {
        /// The host's ABI version.
        host: u32,
        /// The plugin's ABI version.
        plugin: u32,
    },
    /// The header's declared size differs from the host's `PluginHeader`.
    #[error("plugin header size {plugin} bytes, host expects {host} bytes")]
    HeaderSize {
        /// The host's header size in bytes.
        host: u32,
        /// The plugin's header size in bytes.
        plugin: u32,
    },
    /// The plugin was built against another `distillery-api` (the plugin API: the `Method`
    /// trait and its types). The C ABI may be the same; the plugin's source may need the
    /// change named in [`crate::version::API_CHANGE`] before it builds again.
    #[error("the plugin was built against distillery-api {plugin}, and this bench needs distillery-api {host} ({})", crate::version::API_CHANGE)]
    ApiVersion {
        /// The host's `API_VERSION`.
        host: String,
        /// The plugin's `API_VERSION`.
        plugin: String,
    },
    /// The rustc, tch or libtorch version differs from the host's.
    #[error("{what} differs: host {host:?}, plugin {plugin:?}")]
    Version {
        /// Which version: `rustc version`, `tch version` or `libtorch version`.
        what: &'static str,
        /// The host's value.
        host: String,
        /// The plugin's value.
        plugin: String,
    },
    /// A string field is null or not UTF-8, the name is not `[a-z0-9-]+`, or the family is
    /// unknown.
    #[error("invalid header field {field}: {why}")]
    Field {
        /// The field's name.
        field: &'static str,
        /// What is wrong with it.
        why: String,
    },
}

unsafe fn cstr(p: *const c_char, field: &'static str) -> Result<String, HeaderError> {
    if p.is_null() {
        return Err(HeaderError::Field {
            field,
            why: "null string".into(),
        });
    }
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map(str::to_string)
        .map_err(|e| HeaderError::Field {
            field,
            why: e.to_string(),
        })
}

/// Validates a header in the documented order: magic, ABI version, header size, then the
/// rustc / API / tch / libtorch strings, then the declared name and family.
///
/// # Safety
/// `h` must be the pointer returned by a library's entry point (it may be null).
///
/// # Errors
/// The first [`HeaderError`] met in that order.
pub unsafe fn read_header(
    h: *const PluginHeader,
) -> Result<(&'static PluginHeader, PluginInfo), HeaderError> {
    if h.is_null() {
        return Err(HeaderError::Null);
    }
    // The first three fields have fixed offsets in every ABI version: read only them first.
    let magic = unsafe { std::ptr::read_unaligned(h as *const u64) };
    if magic != MAGIC {
        return Err(HeaderError::Magic {
            found: magic,
            expected: MAGIC,
        });
    }
    let abi = unsafe { std::ptr::read_unaligned((h as *const u8).add(8) as *const u32) };
    if abi != ABI_VERSION {
        return Err(HeaderError::AbiVersion {
            host: ABI_VERSION,
            plugin: abi,
        });
    }
    let size = unsafe { std::ptr::read_unaligned((h as *const u8).add(12) as *const u32) };
    let host_size = std::mem::size_of::<PluginHeader>() as u32;
    if size != host_size {
        return Err(HeaderError::HeaderSize {
            host: host_size,
            plugin: size,
        });
    }
    let h: &'static PluginHeader = unsafe { &*h };
    let check = |what: &'static str, host: &str, p: *const c_char| -> Result<String, HeaderError> {
        let plugin = unsafe { cstr(p, what)? };
        if plugin != host {
            return Err(HeaderError::Version {
                what,
                host: host.to_string(),
                plugin,
            });
        }
        Ok(plugin)
    };
    let rustc_version = check(
        "rustc version",
        crate::version::RUSTC_VERSION,
        h.rustc_version,
    )?;
    let api_version = unsafe { cstr(h.api_version, "distillery-api version")? };
    if api_version != crate::version::API_VERSION {
        return Err(HeaderError::ApiVersion {
            host: crate::version::API_VERSION.to_string(),
            plugin: api_version,
        });
    }
    let tch_version = check("tch version", crate::version::TCH_VERSION, h.tch_version)?;
    let libtorch_version = check(
        "libtorch version",
        crate::version::LIBTORCH_VERSION,
        h.libtorch_version,
    )?;
    let name = unsafe { cstr(h.name, "name")? };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(HeaderError::Field {
            field: "name",
            why: format!("{name:?} is not lowercase [a-z0-9-]+"),
        });
    }
    let family_s = unsafe { cstr(h.family, "family")? };
    let family = Family::parse(&family_s).ok_or_else(|| HeaderError::Field {
        field: "family",
        why: format!(
            "unknown family {family_s:?} (distillation, pruning, kd, reference, external)"
        ),
    })?;
    let info = PluginInfo {
        name,
        family,
        version: unsafe { cstr(h.version, "version")? },
        paper: unsafe { cstr(h.paper, "paper")? },
        description: unsafe { cstr(h.description, "description")? },
        rustc_version,
        api_version,
        tch_version,
        libtorch_version,
    };
    Ok((h, info))
}

/// What came back from a successful call, before the harness's checks.
pub struct RawOutput {
    /// `indices` or `images` as the plugin declared (anything else is the harness's to reject).
    pub kind: String,
    /// The method's metadata JSON (`null` when absent).
    pub metadata: serde_json::Value,
    /// `[M, C, H, W]` images, uint8 or float in [0, 1].
    pub images: Option<Tensor>,
    /// int64 `[M]` hard labels.
    pub labels: Option<Tensor>,
    /// float `[M, K]` soft labels.
    pub soft_labels: Option<Tensor>,
    /// int64 `[M]` indices into the train split.
    pub indices: Option<Tensor>,
    /// float32 `[M]` per-image weights.
    pub weights: Option<Tensor>,
    /// The method's label function / stored labels, as JSON (`null` when none); the harness
    /// parses and checks it.
    pub label_spec: serde_json::Value,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The method returned an error (its message; `unsupported: ...` for an unsupported
    /// budget).
    #[error("returned an error: {0}")]
    Error(String),
    /// The method panicked; the panic message.
    #[error("panicked: {0}")]
    Panic(String),
    /// The response broke the ABI contract (bad JSON, unknown status).
    #[error("returned a malformed response: {0}")]
    Malformed(String),
}

unsafe extern "C" fn progress_trampoline(data: *mut c_void, fraction: f64, msg: *const c_char) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let sink = unsafe { &mut *(data as *mut &mut dyn FnMut(f64, &str)) };
        let m = if msg.is_null() {
            String::new()
        } else {
            unsafe { CStr::from_ptr(msg) }
                .to_string_lossy()
                .into_owned()
        };
        sink(fraction, &m);
    }));
}

/// Calls `compress` on a validated header. `train`/`val` are passed as handles; the plugin
/// receives shallow clones, so the host should pass copies it does not reuse if it must be
/// robust to in-place modification.
///
/// # Errors
/// [`CallError::Error`] or [`CallError::Panic`] with the method's message, or
/// [`CallError::Malformed`] when the response breaks the ABI contract.
pub fn call_compress(
    header: &PluginHeader,
    meta: &RequestMeta,
    train: &Split,
    val: &Split,
    progress: &mut dyn FnMut(f64, &str),
) -> Result<RawOutput, CallError> {
    let meta_json = CString::new(serde_json::to_string(meta).expect("request serialises"))
        .expect("no NUL in JSON");
    let mut sink: &mut dyn FnMut(f64, &str) = progress;
    let req = CompressRequest {
        meta_json: meta_json.as_ptr(),
        train_images: train.images.as_ptr() as *mut C_tensor,
        train_labels: train.labels.as_ptr() as *mut C_tensor,
        val_images: val.images.as_ptr() as *mut C_tensor,
        val_labels: val.labels.as_ptr() as *mut C_tensor,
        progress: Some(progress_trampoline),
        progress_data: &mut sink as *mut &mut dyn FnMut(f64, &str) as *mut c_void,
    };
    let mut resp = CompressResponse::empty();
    unsafe { (header.compress)(&req, &mut resp) };
    let json = if resp.json.is_null() {
        String::new()
    } else {
        unsafe { CStr::from_ptr(resp.json) }
            .to_string_lossy()
            .into_owned()
    };
    let take = |p: &mut *mut C_tensor| -> Option<Tensor> {
        if p.is_null() {
            None
        } else {
            let t = unsafe { Tensor::from_ptr(*p) };
            *p = std::ptr::null_mut();
            Some(t)
        }
    };
    let result = match resp.status {
        STATUS_OK => {
            let v: Result<serde_json::Value, _> = serde_json::from_str(&json)
                .map_err(|e| CallError::Malformed(format!("response JSON: {e}")));
            match v {
                Err(e) => Err(e),
                Ok(v) => Ok(RawOutput {
                    kind: v
                        .get("kind")
                        .and_then(|k| k.as_str())
                        .unwrap_or("")
                        .to_string(),
                    metadata: v
                        .get("metadata")
                        .cloned()
                        .unwrap_or(serde_json::Value::Null),
                    images: take(&mut resp.images),
                    labels: take(&mut resp.labels),
                    soft_labels: take(&mut resp.soft_labels),
                    indices: take(&mut resp.indices),
                    weights: take(&mut resp.weights),
                    label_spec: v
                        .get("label_spec")
                        .cloned()
                        .unwrap_or(serde_json::Value::Null),
                }),
            }
        }
        STATUS_PANIC => Err(CallError::Panic(json)),
        STATUS_ERROR => Err(CallError::Error(json)),
        other => Err(CallError::Malformed(format!("unknown status {other}"))),
    };
    unsafe { (header.free_response)(&mut resp) };
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::method::{Compressed, Context, Input, Method, MethodError};

    #[derive(Default)]
    struct Probe;

    impl Method for Probe {
        const NAME: &'static str = "probe";
        const FAMILY: Family = Family::Pruning;
        const VERSION: &'static str = "1.0.0";
        const PAPER: &'static str = "none";
        const DESCRIPTION: &'static str = "a header for the loader's tests";
        fn compress(&mut self, _: &Input, _: &Context) -> Result<Compressed, MethodError> {
            Ok(Compressed::indices(vec![]))
        }
    }

    unsafe extern "C" fn no_compress(_: *const CompressRequest, _: *mut CompressResponse) {}
    unsafe extern "C" fn no_free(_: *mut CompressResponse) {}

    fn header() -> PluginHeader {
        crate::export::header::<Probe>(no_compress, no_free)
    }

    #[test]
    fn a_current_header_passes() {
        let h = Box::leak(Box::new(header()));
        let (_, info) = unsafe { read_header(h) }.unwrap();
        assert_eq!(info.name, "probe");
        assert_eq!(info.api_version, crate::version::API_VERSION);
    }

    /// What `bench plugin check` and `bench list` show (after the path, before the rebuild
    /// command) for a plugin built against the previous API.
    #[test]
    fn a_plugin_built_against_the_old_api_is_told_both_versions() {
        let mut h = header();
        h.api_version = c"0.1.0".as_ptr();
        let h = Box::leak(Box::new(h));
        let e = unsafe { read_header(h) }.err().expect("rejected");
        assert!(
            matches!(&e, HeaderError::ApiVersion { host, plugin }
                if plugin == "0.1.0" && host == crate::version::API_VERSION),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!(
                "the plugin was built against distillery-api 0.1.0, and this bench needs \
                 distillery-api {} (since distillery-api 0.2.0, `Method::compress` takes \
                 `ctx: &Context` instead of `ctx: &mut Context`)",
                crate::version::API_VERSION
            )
        );
    }

    #[test]
    fn other_version_mismatches_keep_their_message() {
        let mut h = header();
        h.tch_version = c"0.23.0".as_ptr();
        let h = Box::leak(Box::new(h));
        let e = unsafe { read_header(h) }.err().expect("rejected");
        assert_eq!(
            e.to_string(),
            "tch version differs: host \"0.24.0\", plugin \"0.23.0\""
        );
    }
}
