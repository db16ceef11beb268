#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! `dkm --store etcd://...`: the walk-through on etcd, a ring copied from a file store into
//! etcd with `ring import --from`, and store locations that are not stores (an unknown scheme
//! is an error, never a directory named after it).

#[path = "../../host/tests/etcd_server/mod.rs"]
mod etcd_server;

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;

fn dkm(home: &Path, store: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dkm"))
        .current_dir(home)
        .env("DKM_HOME", home.join("home"))
        .env("DKM_STORE", store)
        .env_remove("DKM_NOW")
        .env_remove("DKM_ETCD_PASSWORD")
        .args(args)
        .output()
        .unwrap()
}

fn ok(home: &Path, store: &str, args: &[&str]) -> String {
    let out = dkm(home, store, args);
    assert!(
        out.status.success(),
        "dkm {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(home: &Path, store: &str, args: &[&str], kind: &str) -> String {
    let out = dkm(home, store, args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "dkm {} succeeded", args.join(" "));
    assert!(err.starts_with(&format!("dkm: error: {kind}: ")), "{err}");
    err
}

fn public(home: &Path, id: &str) -> String {
    ok(home, ".", &["identity", "show", id])
        .split_whitespace()
        .find(|w| w.starts_with("dkmpub1"))
        .unwrap()
        .to_owned()
}

/// A ring `name` with a key holder, in `store`.
fn ring(home: &Path, store: &str, name: &str) {
    ok(
        home,
        store,
        &["ring", "create", name, "--admin", "admin.id"],
    );
    let svc = public(home, "svc.id");
    ok(
        home,
        store,
        &[
            "member",
            "add",
            name,
            "--as",
            "admin.id",
            "--role",
            "service",
            "--identity",
            &svc,
        ],
    );
    ok(home, store, &["maintain", name, "--as", "svc.id"]);
}

#[test]
fn the_dkm_command_runs_on_etcd_and_copies_rings_into_it() {
    let etcd = etcd_server::Etcd::single();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    ok(
        home,
        ".",
        &["identity", "new", "admin", "--out", "admin.id"],
    );
    ok(home, ".", &["identity", "new", "svc", "--out", "svc.id"]);
    let store = etcd.url("cli");
    ring(home, &store, "r");
    std::fs::write(home.join("plain"), b"mail password").unwrap();
    ok(
        home,
        &store,
        &[
            "seal",
            "r",
            "--as",
            "svc.id",
            "--context",
            "acct",
            "--in",
            "plain",
            "--out",
            "sealed",
        ],
    );
    let out = ok(
        home,
        &store,
        &[
            "unseal",
            "r",
            "--as",
            "svc.id",
            "--context",
            "acct",
            "--in",
            "sealed",
        ],
    );
    assert_eq!(out, "mail password");
    assert!(ok(home, &store, &["audit", "verify", "r"]).contains("verifies"));
    // The same store through another member list spelling: the pin book's location is the
    // cluster's, so the ring is the same ring.
    let spelled = store.replacen("127.0.0.1", "localhost", 1);
    assert!(ok(home, &spelled, &["ring", "show", "r"]).contains("ring r"));

    // A ring of a file store copied into etcd, with its audit chain and request log.
    ring(home, "files", "q");
    ok(
        home,
        "files",
        &[
            "seal",
            "q",
            "--as",
            "svc.id",
            "--context",
            "c",
            "--in",
            "plain",
            "--out",
            "q.sealed",
        ],
    );
    let said = ok(
        home,
        &store,
        &["ring", "import", "--from", "files", "--ring", "q"],
    );
    assert!(said.contains("ring q copied from files"), "{said}");
    let out = ok(
        home,
        &store,
        &[
            "unseal",
            "q",
            "--as",
            "svc.id",
            "--context",
            "c",
            "--in",
            "q.sealed",
        ],
    );
    assert_eq!(out, "mail password");
    let file_audit = ok(home, "files", &["audit", "show", "q", "--json"]);
    let etcd_audit = ok(home, &store, &["audit", "show", "q", "--json"]);
    assert_eq!(file_audit, etcd_audit);
    // Twice is refused: the name is taken.
    fails(
        home,
        &store,
        &["ring", "import", "--from", "files", "--ring", "q"],
        "InvalidInput",
    );
    // file:// names the file store too.
    let url = format!("file://{}", home.join("files").display());
    assert!(ok(home, &url, &["ring", "show", "q"]).contains("ring q"));
}

#[test]
fn a_store_location_that_is_not_a_store_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    ok(
        home,
        ".",
        &["identity", "new", "admin", "--out", "admin.id"],
    );
    for store in ["foo://x", "s3://bucket/prefix", "etcd:/x", "file://"] {
        let err = fails(
            home,
            store,
            &["ring", "create", "r", "--admin", "admin.id"],
            "InvalidInput",
        );
        assert!(err.contains("etcd://") || err.contains("store"), "{err}");
    }
    // Nothing was created under a name made from the location.
    let names: Vec<_> = std::fs::read_dir(home)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.iter().all(|n| n == "admin.id" || n == "home"),
        "{names:?}"
    );
    fails(
        home,
        "etcd://127.0.0.1:1",
        &["ring", "show", "r"],
        "InvalidInput",
    );
    let err = fails(
        home,
        "etcd://127.0.0.1:1/p?password=x",
        &["ring", "show", "r"],
        "InvalidInput",
    );
    assert!(err.contains("never part of the URL"), "{err}");
    fails(
        home,
        "etcd://127.0.0.1:1/p?colour=blue",
        &["ring", "show", "r"],
        "InvalidInput",
    );
    // Unreachable: StoreUnavailable within the timeout given.
    let started = std::time::Instant::now();
    fails(
        home,
        "etcd://127.0.0.1:1/p?timeout=1s",
        &["ring", "show", "r"],
        "StoreUnavailable",
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
