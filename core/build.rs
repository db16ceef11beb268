//! Sets `cfg(dkm_fast_aes)` when the `fast-aes` feature is on and the target is one where
//! `ring`'s AES-256-GCM is a dependency (x86-64 or aarch64 Linux): the fast path is compiled
//! exactly where it can be.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(dkm_fast_aes)");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let feature = std::env::var_os("CARGO_FEATURE_FAST_AES").is_some();
    if feature && os == "linux" && (arch == "x86_64" || arch == "aarch64") {
        println!("cargo::rustc-cfg=dkm_fast_aes");
    }
}
