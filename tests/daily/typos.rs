//! Item 5: a name with no rule gets the closest rule names when it is probably a typo.

use super::*;

fn repo() -> Repo {
    let repo = Repo::new();
    quickstart(&repo, &pubkey("alice_ed25519"));
    repo.encrypt("db-password.age", "hunter2");
    repo
}

#[test]
fn typos_get_did_you_mean() {
    let repo = repo();
    let before = repo.snapshot();
    for (cmd, name) in [
        ("edit", "db-pasword.age"),
        ("edit", "db-password"),
        ("encrypt", "api-tokn.age"),
        ("rekey", "db-passwrd.age"),
    ] {
        let mut c = repo.cmd();
        c.args([cmd, name]).write_stdin("x");
        let out = run(&mut c);
        assert_eq!(out.code, 1, "{cmd} {name}: {out}");
        let want = if name.starts_with("api") {
            "api-token.age"
        } else {
            "db-password.age"
        };
        assert!(out.stderr.contains("no rule for this file in "), "{out}");
        assert!(
            out.stderr.contains(&format!("did you mean \"{want}\"?")),
            "{cmd} {name}: {out}"
        );
        assert!(
            out.stderr
                .contains(&format!("for a new secret, add an entry for \"{name}\"")),
            "{out}"
        );
    }
    // decrypt of a name that is neither a file nor a rule.
    let out = run(repo
        .cmd()
        .args(["decrypt", "-i"])
        .arg(alice_key())
        .arg("db-pasword.age"));
    assert!(
        out.stderr
            .contains("db-pasword.age: no such file, and no rule for this file in"),
        "{out}"
    );
    assert!(
        out.stderr.contains("did you mean \"db-password.age\"?"),
        "{out}"
    );
    assert_eq!(repo.snapshot(), before, "nothing written");
}

#[test]
fn a_name_far_from_every_rule_gets_no_suggestion() {
    let repo = repo();
    let out = run(repo.cmd().args(["edit", "web2-cert.age"]).write_stdin("x"));
    assert_eq!(out.code, 1);
    assert!(!out.stderr.contains("did you mean"), "{out}");
    assert!(
        out.stderr
            .contains("add an entry for \"web2-cert.age\" with its publicKeys"),
        "{out}"
    );
}
