#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! The command as a thin surface over the host's verbs: ring snapshots (export, import,
//! tampered ones refused), the origin of an unsealed secret and `--key-holders-only`, the
//! views' JSON forms (`audit verify --json`), and a signed change request shown as applied.

mod common;

use common::*;

#[test]
fn a_ring_moves_to_another_store_by_snapshot() {
    let fx = Fx::new();
    let e = &fx.env;
    fx.policy_ring("mail");
    let sealed = e.ok_bytes(
        T1,
        &w(&format!("seal mail --as {} --context c", fx.svc1.file)),
        b"moved",
    );
    let snap = e.path("mail.snap");
    e.ok(T1, &w(&format!("ring export mail --out {snap}")));
    // Not over an existing file.
    e.refused(
        T1,
        &w(&format!("ring export mail --out {snap}")),
        "InvalidInput",
    );
    // Into another store, by a host that never saw the ring.
    let other = e.root().join("other");
    let run_other = |args: &[&str], stdin: &[u8]| {
        e.cmd(T1, args)
            .env("DKM_STORE", &other)
            .env("DKM_HOME", e.root().join("other-home"))
            .write_stdin(stdin.to_vec())
            .output()
            .unwrap()
    };
    let o = run_other(&["ring", "import", &snap], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "ring mail imported with its audit chain and request log"
    );
    let o = run_other(
        &["unseal", "mail", "--as", &fx.svc1.file, "--context", "c"],
        &sealed,
    );
    assert_eq!(o.stdout, b"moved");
    let o = run_other(&["audit", "verify", "mail"], b"");
    assert!(o.status.success());
    let o = run_other(&["ring", "import", &snap], b"");
    assert!(String::from_utf8_lossy(&o.stderr).starts_with("dkm: error: InvalidInput: "));
    // A tampered snapshot is refused and leaves the store as it was.
    let bytes = std::fs::read(&snap).unwrap();
    let mut bad = bytes.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x20;
    let bad = e.write("bad.snap", &bad);
    let third = e.root().join("third");
    let o = e
        .cmd(T1, &["ring", "import", &bad])
        .env("DKM_STORE", &third)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let names: Vec<_> = std::fs::read_dir(&third)
        .map(|d| d.filter_map(|x| x.ok()).map(|x| x.file_name()).collect())
        .unwrap_or_default();
    assert!(
        names.iter().all(|n| n.to_string_lossy().starts_with('.')),
        "{names:?}"
    );
    e.refused_unchanged(T1, &["ring", "import", "/dev/zero"], b"");
}

#[test]
fn key_holders_only_refuses_seal_only_secrets() {
    let fx = Fx::new();
    let e = &fx.env;
    fx.policy_ring("mail");
    let public = e.path("mail.pub");
    e.ok(T1, &w(&format!("ring export-public mail --out {public}")));
    let from_browser = e.ok_bytes(T1, &w(&format!("seal-to {public} --context c")), b"pw");
    let o = e.run(
        T1,
        &w(&format!("unseal mail --as {} --context c", fx.svc1.file)),
        &from_browser,
    );
    assert_eq!(o.stdout, b"pw");
    assert!(String::from_utf8_lossy(&o.stderr).contains("origin is not authenticated"));
    let line = e.refused_unchanged(
        T1,
        &w(&format!(
            "unseal mail --as {} --context c --key-holders-only",
            fx.svc1.file
        )),
        &from_browser,
    );
    assert!(line.starts_with("dkm: error: InvalidInput: "), "{line}");
    assert!(line.contains("seal-only"), "{line}");
    let by_holder = e.ok_bytes(
        T1,
        &w(&format!("seal mail --as {} --context c", fx.svc1.file)),
        b"ok",
    );
    let o = e.run(
        T1,
        &w(&format!(
            "unseal mail --as {} --context c --key-holders-only",
            fx.svc1.file
        )),
        &by_holder,
    );
    assert_eq!(
        (o.stdout.as_slice(), o.stderr.is_empty()),
        (&b"ok"[..], true)
    );
}

#[test]
fn json_views_and_applied_changes() {
    let fx = Fx::new();
    let e = &fx.env;
    fx.policy_ring("mail");
    let v = json(&e.ok(T1, &w("audit verify mail --json")));
    assert_eq!(v["verified"], true);
    assert!(v["records"].as_u64().unwrap() > 5);
    assert!(v["problem"].is_null());
    // A change that needs the quorum: requested, approved, applied, then shown as applied.
    let out = e.ok(
        T1,
        &w(&format!(
            "member add mail --as {} --role service --identity {}",
            fx.admin.file, fx.eng.public
        )),
    );
    let req = last_line(&out).to_owned();
    for (who, level) in [(&fx.ops, "ops"), (&fx.sec, "security")] {
        e.ok(
            T1,
            &w(&format!(
                "approve mail {req} --as {} --level {level}",
                who.file
            )),
        );
    }
    assert_eq!(e.request_state(T1, "mail", &req), "approved");
    e.ok(T1, &w(&format!("apply mail {req} --as {}", fx.admin.file)));
    assert_eq!(e.request_state(T1, "mail", &req), "applied");
    assert_eq!(e.request_state(T1 + 30 * DAY, "mail", &req), "applied");
    let r = e.request(T1, "mail", &req);
    assert!(r["duration_secs"].is_null() && r["change"].as_str().unwrap().contains("adds service"));
    let info = json(&e.ok(T1, &w("ring show mail --json")));
    assert_eq!(info["name"], "mail");
    assert_eq!(info["epoch_states"][0]["state"], "live");
}

#[test]
fn times_past_the_year_9999_print_and_parse() {
    // A 60-day interval puts an epoch's end (65,536 intervals on) past the year 9999.
    let fx = Fx::new();
    let e = &fx.env;
    e.ok(
        T0,
        &w(&format!(
            "ring create long --admin {} --interval 60d",
            fx.admin.file
        )),
    );
    e.ok(
        T0,
        &w(&format!(
            "member add long --as {} --role service --identity {}",
            fx.admin.file, fx.svc1.public
        )),
    );
    e.ok(T0, &w(&format!("maintain long --as {}", fx.svc1.file)));
    let keys = json(&e.ok(T0, &w("keys long --json")));
    let end = keys["epochs"][0]["end"].as_str().unwrap().to_owned();
    assert!(end.len() > 20 && end.ends_with('Z'), "{end}");
    e.ok(T0, &w("keys long"));
    // And it reads back as a time.
    e.ok(T0, &["--now", &end, "ring", "show", "long"]);
}
