//! Drift detection per recipient type: check names what changed, rekey fixes exactly the
//! drifted file, and an X25519 file without a lock entry is `unverified` until rekeyed.

use super::*;

fn names(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|w| match &w["name"] {
                    serde_json::Value::String(s) => s.clone(),
                    _ => format!("?{}", w["type"].as_str().unwrap_or("")),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// One drift scenario: the file is encrypted to `old`, the rule then says `new`.
/// `with_lock`: the file was written by `secrets` (lock entry) or by plain `age` (none).
/// `expect`: Some((added, removed)) names check must report as a `recipients` problem,
/// None when it can only say `unverified` (X25519 without a lock entry).
fn drift_case(old: &[&str], new: &[&str], with_lock: bool, expect: Option<(&[&str], &[&str])>) {
    if common::missing("age") {
        return;
    }
    drift_case_in(Fleet::new(), old, new, with_lock, expect);
}

fn drift_case_in(
    f: Fleet,
    old: &[&str],
    new: &[&str],
    with_lock: bool,
    expect: Option<(&[&str], &[&str])>,
) {
    let ctx = format!("old {old:?} → new {new:?}, lock {with_lock}");
    if with_lock {
        f.rules(&[("s.age", old, false), ("keep.age", &["alice"], false)]);
        f.secrets_encrypt("s.age");
        f.secrets_encrypt("keep.age");
    } else {
        f.age_encrypt("s.age", old, false);
        f.age_encrypt("keep.age", &["alice"], false);
    }
    f.rules(&[("s.age", new, false), ("keep.age", &["alice"], false)]);

    let (code, report) = f.check_json();
    assert_eq!(code, 1, "{ctx}: check must fail on drift: {report:#}");
    let problems = report["problems"].as_array().unwrap();
    let for_s: Vec<_> = problems.iter().filter(|p| p["file"] == "s.age").collect();
    match expect {
        Some((added, removed)) => {
            let p = for_s
                .iter()
                .find(|p| p["kind"] == "recipients")
                .unwrap_or_else(|| panic!("{ctx}: no recipients problem: {report:#}"));
            assert_eq!(names(&p["added"]), set(added), "{ctx}: added");
            assert_eq!(names(&p["removed"]), set(removed), "{ctx}: removed");
        }
        None => assert!(
            for_s.iter().any(|p| p["kind"] == "unverified"),
            "{ctx}: expected unverified: {report:#}"
        ),
    }
    assert!(
        problems.iter().all(|p| p["file"] != "keep.age"),
        "{ctx}: keep.age is in sync (with a lock entry or by its SSH tag): {report:#}"
    );

    let keep_before = f.read("keep.age");
    let s_before = f.read("s.age");
    let dry = f.cmd().args(["rekey", "--dry-run"]).output().unwrap();
    let dry_out = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{ctx}: {dry:?}");
    assert!(dry_out.contains("would rekey s.age"), "{ctx}: {dry_out}");
    assert!(!dry_out.contains("keep.age"), "{ctx}: {dry_out}");
    assert_eq!(f.read("s.age"), s_before, "{ctx}: dry run wrote");

    f.cmd().arg("rekey").args(f.all_ids()).assert().success();
    assert_ne!(f.read("s.age"), s_before, "{ctx}: s.age not rekeyed");
    assert_eq!(
        f.read("keep.age"),
        keep_before,
        "{ctx}: keep.age must keep its bytes"
    );
    let (code, report) = f.check_json();
    assert_eq!(code, 0, "{ctx}: check after rekey: {report:#}");
    for k in new {
        if let Some(key) = f.key_of(k) {
            assert_eq!(
                f.age_decrypt(&key, &f.path().join("s.age")).as_deref(),
                Ok(PAYLOAD),
                "{ctx}: {k} cannot decrypt the rekeyed file with age"
            );
        }
    }
    // (The test plugin's identity opens any of its stanzas: not checked for plug.)
    for k in old
        .iter()
        .filter(|k| !new.contains(k) && !k.starts_with("plug"))
    {
        if let Some(key) = f.key_of(k) {
            assert_age_refuses(
                f.age_decrypt(&key, &f.path().join("s.age")),
                &format!("{ctx}: removed recipient {k}"),
            );
        }
    }
    // A second run finds nothing to do.
    let again = f.snapshot_all();
    f.cmd().arg("rekey").assert().success();
    assert_eq!(f.snapshot_all(), again, "{ctx}: no-op rekey changed files");
}

#[test]
fn drift_ssh_ed25519() {
    for lock in [false, true] {
        drift_case(&["alice"], &["alice", "web1"], lock, Some((&["web1"], &[])));
        drift_case(&["alice", "web1"], &["alice"], lock, Some((&[], &["web1"])));
        drift_case(
            &["bob", "web1"],
            &["bob", "alice"],
            lock,
            Some((&["alice"], &["web1"])),
        );
    }
}

#[test]
fn drift_ssh_rsa() {
    for lock in [false, true] {
        drift_case(&["alice"], &["alice", "bob"], lock, Some((&["bob"], &[])));
        drift_case(&["alice", "bob"], &["alice"], lock, Some((&[], &["bob"])));
        drift_case(
            &["alice", "bob"],
            &["alice", "carol"],
            lock,
            Some((&["carol"], &["bob"])),
        );
    }
}

#[test]
fn drift_x25519_with_lock_names_the_keys() {
    drift_case(&["alice"], &["alice", "dave"], true, Some((&["dave"], &[])));
    drift_case(&["alice", "dave"], &["alice"], true, Some((&[], &["dave"])));
    drift_case(
        &["alice", "dave"],
        &["alice", "eve"],
        true,
        Some((&["eve"], &["dave"])),
    );
}

/// Plugin recipients, like X25519 ones, are not named in the header: the lock file names them.
#[test]
fn drift_plugin_with_lock_names_the_keys() {
    if common::missing("age") {
        return;
    }
    for (old, new, expect) in [
        (
            &["alice"][..],
            &["alice", "plug"][..],
            (&["plug"][..], &[][..]),
        ),
        (&["alice", "plug"], &["alice"], (&[], &["plug"])),
        (
            &["alice", "plug"],
            &["alice", "plug2"],
            (&["plug2"], &["plug"]),
        ),
    ] {
        let Some(f) = Fleet::with_plugin() else {
            return;
        };
        drift_case_in(f, old, new, true, Some(expect));
    }
}

#[test]
fn drift_x25519_without_lock_is_detected_or_unverified() {
    // Without a lock entry the header only shows how many X25519 stanzas there are: none at
    // all means the rule's X25519 key was added, for certain; otherwise unverified.
    drift_case(
        &["alice"],
        &["alice", "dave"],
        false,
        Some((&["dave"], &[])),
    );
    drift_case(
        &["alice", "dave"],
        &["alice"],
        false,
        Some((&[], &["?X25519"])),
    );
    drift_case(&["alice", "dave"], &["alice", "eve"], false, None);
}

#[test]
fn x25519_rewritten_by_another_tool_is_unverified_then_fixed() {
    if common::missing("age") {
        return;
    }
    let f = Fleet::new();
    f.rules(&[("x.age", &["alice", "dave"], false)]);
    f.secrets_encrypt("x.age");
    assert_eq!(f.check_json().0, 0);
    // Same recipients, but new bytes the lock does not know.
    f.age_encrypt("x.age", &["alice", "dave"], false);
    let (code, report) = f.check_json();
    assert_eq!(code, 1);
    assert_eq!(report["problems"][0]["kind"], "unverified", "{report:#}");
    assert!(
        report["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("changed since"),
        "{report:#}"
    );
    f.repo
        .cmd()
        .arg("rekey")
        .args(f.all_ids())
        .assert()
        .success();
    assert_eq!(f.check_json().0, 0);
}
