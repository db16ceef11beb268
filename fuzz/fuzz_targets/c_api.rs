//! The C API's input functions, called as a C program calls them, with arbitrary bytes:
//! every call returns a status of 0..=18 (never a crash, a hang or a panic: a panic caught at
//! the boundary would be `DKM_INTERNAL` and fails the target), a failed call leaves its
//! out-parameters cleared, and a success gives what the input promised.
//!
//! The input is split at the first two `0xff` bytes into three parts, fed to identity and
//! public-identity parsing, `dkm_ring_public_new` (part, pin), `dkm_host_unseal` on a ring
//! with one key holder (context: part 2), and `dkm_host_import_snapshot`.
#![no_main]

use std::ffi::{CStr, CString};
use std::ptr;
use std::sync::OnceLock;

use dkm::*;
use libfuzzer_sys::fuzz_target;

struct Fixture {
    host: *mut dkm_host,
    holder: *mut dkm_identity,
    sealed: Vec<u8>,
}

// SAFETY: the handles are thread safe once made (dkm.h), and the fixture is never freed.
unsafe impl Send for Fixture {}
// SAFETY: as above.
unsafe impl Sync for Fixture {}

fn ok(s: dkm_status) {
    assert_eq!(s, DKM_OK, "{:?}", unsafe { CStr::from_ptr(dkm_last_error_message()) });
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| unsafe {
        let mut store = ptr::null_mut();
        ok(dkm_store_memory_new(&mut store));
        let mut o = ptr::null_mut();
        ok(dkm_host_options_new(&mut o));
        ok(dkm_host_options_set_memory_pins(o));
        ok(dkm_host_options_set_fixed_clock(o, 1_767_225_600));
        let mut host = ptr::null_mut();
        ok(dkm_host_new(store, o, &mut host));
        dkm_host_options_free(o);
        dkm_store_free(store);
        let (mut admin, mut holder, mut public) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
        ok(dkm_identity_generate(&mut admin));
        ok(dkm_identity_generate(&mut holder));
        ok(dkm_identity_public(holder, &mut public));
        ok(dkm_host_create_ring(host, c"r".as_ptr(), admin, ptr::null(), ptr::null_mut()));
        ok(dkm_host_add_member(host, c"r".as_ptr(), admin, DKM_ROLE_SERVICE, public, ptr::null_mut()));
        ok(dkm_host_maintain(host, c"r".as_ptr(), holder, ptr::null_mut()));
        let mut b = dkm_buffer { ptr: ptr::null_mut(), len: 0, capacity: 0 };
        ok(dkm_host_seal(host, c"r".as_ptr(), holder, b"fuzz".as_ptr(), 4, ptr::null(), 0, &mut b));
        let sealed = std::slice::from_raw_parts(b.ptr, b.len).to_vec();
        dkm_buffer_free(&mut b);
        dkm_public_identity_free(public);
        dkm_identity_free(admin);
        Fixture { host, holder, sealed }
    })
}

fn status(s: dkm_status) -> dkm_status {
    assert!((0..=17).contains(&s), "status {s} (18 is a caught panic)");
    s
}

fn empty(b: &dkm_buffer) -> bool {
    b.ptr.is_null() && b.len == 0
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let mut parts = data.splitn(3, |b| *b == 0xff);
    let a = parts.next().unwrap_or_default();
    let b = parts.next().unwrap_or_default();
    let c = parts.next().unwrap_or_default();
    unsafe {
        let mut id = ptr::null_mut();
        if status(dkm_identity_from_text(a.as_ptr(), a.len(), &mut id)) == DKM_OK {
            let mut t = dkm_buffer { ptr: ptr::null_mut(), len: 0, capacity: 0 };
            ok(dkm_identity_to_text(id, &mut t));
            let mut again = ptr::null_mut();
            ok(dkm_identity_from_text(t.ptr, t.len, &mut again));
            dkm_buffer_free(&mut t);
            dkm_identity_free(again);
        } else {
            assert!(id.is_null());
        }
        dkm_identity_free(id);

        if let Ok(text) = CString::new(a) {
            let mut p = ptr::null_mut();
            if status(dkm_public_identity_from_text(text.as_ptr(), &mut p)) == DKM_OK {
                let mut t = dkm_buffer { ptr: ptr::null_mut(), len: 0, capacity: 0 };
                ok(dkm_public_identity_to_text(p, &mut t));
                dkm_buffer_free(&mut t);
            } else {
                assert!(p.is_null());
            }
            dkm_public_identity_free(p);
        }

        let mut rp = ptr::null_mut();
        if status(dkm_ring_public_new(a.as_ptr(), a.len(), b.as_ptr(), b.len(), &mut rp)) != DKM_OK {
            assert!(rp.is_null());
        }
        dkm_ring_public_free(rp);

        let mut pt = dkm_buffer { ptr: ptr::null_mut(), len: 0, capacity: 0 };
        let mut origin = 0;
        let s = status(dkm_host_unseal(
            f.host, c"r".as_ptr(), f.holder, a.as_ptr(), a.len(), b.as_ptr(), b.len(),
            DKM_ACCEPT_SEAL_ONLY, &mut pt, &mut origin,
        ));
        if s == DKM_OK {
            // Only the fixture's own secret, under the empty context, opens.
            assert_eq!(a, &f.sealed[..]);
            assert!(b.is_empty());
            assert_eq!(std::slice::from_raw_parts(pt.ptr, pt.len), b"fuzz");
        } else {
            assert!(empty(&pt));
        }
        dkm_buffer_free(&mut pt);

        let mut name = dkm_buffer { ptr: ptr::null_mut(), len: 0, capacity: 0 };
        if status(dkm_host_import_snapshot(f.host, c.as_ptr(), c.len(), &mut name)) != DKM_OK {
            assert!(empty(&name));
        }
        dkm_buffer_free(&mut name);
    }
});
