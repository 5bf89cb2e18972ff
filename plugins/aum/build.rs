// Gives this crate's unit-test binary (which links libtorch through tch) a RUNPATH to the
// libtorch that torch-sys found, as plugins/api/build.rs does for the API crate's tests.
fn main() {
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        if !lib.is_empty() {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
        }
    }
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    println!("cargo:rerun-if-changed=build.rs");
}
