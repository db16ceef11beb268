//! `uniffi-bindgen`, the same version as the uniffi that dkm-uniffi's scaffolding comes from:
//! `uniffi-bindgen generate --library target/debug/libdkm_uniffi.so --language kotlin --out-dir DIR`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
