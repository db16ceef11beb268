//! Gives the shared library its soname (`libdkm.so.MAJOR.MINOR` while the major version is 0,
//! as each 0.x minor may break the ABI), so programs linked against it find the right one.

fn main() {
    let target = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target == "linux" {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_default();
        let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap_or_default();
        let abi = if major == "0" {
            format!("0.{minor}")
        } else {
            major
        };
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libdkm.so.{abi}");
    }
}
