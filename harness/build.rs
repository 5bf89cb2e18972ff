//! Give `bench` (and the test binaries) a RUNPATH to the libtorch it was built against and
//! keep libtorch_cuda in its NEEDED list, so that it runs without LD_LIBRARY_PATH and sees
//! the GPU where there is one (the linker would otherwise drop libtorch_cuda as unused).
fn main() {
    let lib = std::env::var("DEP_TCH_LIBTORCH_LIB")
        .expect("torch-sys did not export DEP_TCH_LIBTORCH_LIB; build through ./setup.sh");
    // The RUNPATH goes on every linked target (bench, examples, integration tests and the
    // library's own unit-test binary); keeping libtorch_cuda matters for the binaries.
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    for kind in ["bins", "tests"] {
        println!("cargo:rustc-link-arg-{kind}=-Wl,--no-as-needed");
        if std::path::Path::new(&lib).join("libtorch_cuda.so").exists() {
            println!("cargo:rustc-link-arg-{kind}=-ltorch_cuda");
        }
        println!("cargo:rustc-link-arg-{kind}=-ltorch");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
