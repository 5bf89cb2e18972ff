//! The versions a plugin and its host must agree on, fixed at compile time. A leaf module.
//!
//! The loader ([`crate::host::read_header`]) compares each of these strings, as compiled into
//! the plugin, with the host's own, and rejects the plugin on any difference.

/// Version of this crate (`distillery-api`), i.e. of the plugin API: the [`Method`] trait and
/// the types it sees. Bumped when a plugin's source must change to build against it (e.g.
/// 0.2.0: `compress` takes `ctx: &Context` instead of `&mut Context`), even when the C ABI
/// ([`crate::abi::ABI_VERSION`]) is unchanged. A plugin built against another version is
/// rejected with the rebuild command.
///
/// [`Method`]: crate::method::Method
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");
/// What a plugin's source must change to build against [`API_VERSION`], shown when the loader
/// rejects a plugin built against another API version.
pub const API_CHANGE: &str = "since distillery-api 0.2.0, `Method::compress` takes `ctx: &Context` instead of `ctx: &mut Context`";
/// The tch version this crate is pinned to (`tch = "=0.24.0"` in the workspace manifest).
pub const TCH_VERSION: &str = "0.24.0";
/// `rustc --version` of the compiler that built this crate (and therefore the plugin or
/// host), recorded by `build.rs`.
pub const RUSTC_VERSION: &str = env!("DISTILLERY_RUSTC_VERSION");
/// The libtorch (PyTorch wheel) version this crate was compiled against, e.g. `2.11.0+cu130`,
/// recorded by `build.rs` (`unknown` when it cannot be read).
pub const LIBTORCH_VERSION: &str = env!("DISTILLERY_LIBTORCH_VERSION");
/// The libtorch library folder this crate was compiled against.
pub const LIBTORCH_LIB: &str = env!("DISTILLERY_LIBTORCH_LIB");
