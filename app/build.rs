//! With the `split` feature (the page's release build), the page's wasm keeps
//! the linker's relocations (`--emit-relocs`): the split step
//! (scripts/wasm-split.sh) needs them to move the `#[lazy]` views' code into
//! modules of their own. Only the page's binary: the engine worker is not split.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let wasm =
        std::env::var("CARGO_CFG_TARGET_FAMILY").is_ok_and(|f| f.split(',').any(|f| f == "wasm"));
    if wasm && std::env::var_os("CARGO_FEATURE_SPLIT").is_some() {
        println!("cargo:rustc-link-arg-bin=scoreboard-app=--emit-relocs");
    }
}
