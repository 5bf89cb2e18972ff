//! Give `bench` (and the test binaries) a RUNPATH to the libtorch it was built against and
//! keep libtorch_cuda in its NEEDED list, so that it runs without LD_LIBRARY_PATH and sees
//! the GPU where there is one (the linker would otherwise drop libtorch_cuda as unused).
fn main() {
    let lib = std::env::var("DEP_TCH_LIBTORCH_LIB")
        .expect("torch-sys did not export DEP_TCH_LIBTORCH_LIB; build through ./setup.sh");
    for kind in ["bins", "tests"] {
        println!("cargo:rustc-link-arg-{kind}=-Wl,-rpath,{lib}");
        println!("cargo:rustc-link-arg-{kind}=-Wl,--no-as-needed");
        if std::path::Path::new(&lib).join("libtorch_cuda.so").exists() {
            println!("cargo:rustc-link-arg-{kind}=-ltorch_cuda");
        }
        println!("cargo:rustc-link-arg-{kind}=-ltorch");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
