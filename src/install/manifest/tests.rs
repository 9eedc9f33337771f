use super::fields::{check_name, check_unit, parse_mode};
use super::*;

fn m(body: &str) -> Result<Plan> {
    parse(&format!("{{\"version\": 1, {body}}}"))
}

#[test]
fn defaults_and_unknown_fields() {
    let p = parse(r#"{"version":1}"#).unwrap();
    assert_eq!(p.secrets_dir, PathBuf::from("/run/agenix"));
    assert_eq!(p.keep_generations, 1);
    let e = m(r#""secretz": {}"#).unwrap_err();
    assert!(e.message().contains("unknown field"), "{e}");
    let e = m(r#""secrets": {"a": {"file": "/x", "mod": "0400"}}"#).unwrap_err();
    assert!(e.message().contains("unknown field"), "{e}");
    assert!(parse(r#"{"version":2}"#)
        .unwrap_err()
        .message()
        .contains("version 2"));
}

#[test]
fn names_modes_units() {
    assert!(check_name("a/b/c", "x").is_ok());
    for bad in ["", "/a", "a/../b", "a//b", "./a", "a/.", "a\nb"] {
        assert!(check_name(bad, "x").is_err(), "{bad:?}");
    }
    assert_eq!(parse_mode("0440", "x").unwrap(), 0o440);
    assert!(parse_mode("4755", "x").is_err());
    assert!(Principal::parse("alice@corp.example", "owner", "x").is_ok());
    for bad in ["a b", "-a", "a:b", "a/b", ""] {
        assert!(Principal::parse(bad, "owner", "x").is_err(), "{bad:?}");
    }
    assert_eq!(parse_mode("400", "x").unwrap(), 0o400);
    assert_eq!(parse_mode("u=r,g=r", "x").unwrap(), 0o440);
    assert_eq!(parse_mode("00400", "x").unwrap(), 0o400);
    for bad in [
        "u+s", "g+s,u=r", "+t", "", "u", "u=r,", "u=q", "0o400", "u=r g=r",
    ] {
        assert!(parse_mode(bad, "x").is_err(), "{bad:?}");
    }
    assert!(check_unit("postgresql.service", "x").is_ok());
    assert!(check_unit("foo@bar\\x2dbaz.service", "x").is_ok());
    for bad in [
        "x",
        "a;b.service",
        "a b.service",
        "a\n.service",
        "-x.service",
        ".service",
    ] {
        assert!(check_unit(bad, "x").is_err(), "{bad:?}");
    }
}

/// Symbolic modes give what GNU chmod gives to agenix's file: created 0400, then chmod
/// under umask 022. (GNU `stat -c`: Linux.)
#[test]
#[cfg(target_os = "linux")]
fn symbolic_modes_match_chmod() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    for m in [
        "u=r,g=r",
        "+r",
        "a=r",
        "u+w",
        "go-rwx",
        "ug=rw",
        "u=rw,g=u",
        "=",
        "o+x",
        "a+X",
        "u+x,a+X",
        "g+r-w",
        "u=rwx,go=rx",
        "-r",
        "a-r",
        "+w",
        "ugo=",
        "o=u",
        "u+rw,o+r",
        "a+w,=r",
        "go+w,=",
        "a+rwx,=w",
        "g+w,+r",
    ] {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg("umask 022; rm -f \"$1\"; (umask 377; : > \"$1\"); chmod \"$2\" \"$1\" && stat -c %a \"$1\"")
            .args(["sh", f.to_str().unwrap(), m])
            .output()
            .unwrap();
        assert!(out.status.success(), "chmod {m}: {out:?}");
        let want = u32::from_str_radix(String::from_utf8_lossy(&out.stdout).trim(), 8).unwrap();
        assert_eq!(parse_mode(m, "x").unwrap(), want, "mode {m:?}");
    }
}

#[test]
fn shared_destination_and_prefix() {
    let e = m(r#""secrets": {"a": {"file": "/x", "path": "/etc/s"}, "b": {"file": "/y", "path": "/etc/s"}}"#)
        .unwrap_err();
    assert!(e.message().contains("share the destination"), "{e}");
    let e =
        m(r#""secrets": {"a": {"file": "/x"}, "b": {"file": "/y", "name": "a/b"}}"#).unwrap_err();
    assert!(e.message().contains("directory"), "{e}");
    let e = m(r#""secrets": {"a": {"file": "/x", "path": "/run/agenix/other"}}"#).unwrap_err();
    assert!(e.message().contains("inside secretsDir"), "{e}");
    let e = m(r#""secrets": {"a": {"file": "/x", "neededForUsers": true, "owner": "alice"}}"#)
        .unwrap_err();
    assert!(e.message().contains("owned by root"), "{e}");
}

/// Manifests written before structured secrets (no `format`, no `key`) mean the whole file;
/// a format and key are parsed at load, and a key the format cannot take is refused there.
#[test]
fn format_and_key_default_to_the_whole_file() {
    use crate::structured::Format;
    let p = m(r#""secrets": {"a": {"file": "/x"}}"#).unwrap();
    assert_eq!(p.secrets[0].format, Format::Binary);
    assert!(p.secrets[0].key.is_whole() && !p.secrets[0].is_structured());
    let p =
        m(r#""secrets": {"a": {"file": "/x", "format": "yaml", "key": "db.password"}}"#).unwrap();
    assert_eq!(p.secrets[0].format, Format::Yaml);
    assert_eq!(p.secrets[0].key.as_str(), "db.password");
    assert!(p.secrets[0].is_structured());
    let e = m(r#""secrets": {"a": {"file": "/x", "format": "ini", "key": "a.b.c"}}"#).unwrap_err();
    assert!(
        e.message()
            .starts_with("secret \"a\": ini key `a.b.c`: an ini key is"),
        "{e}"
    );
    let e =
        m(r#""secrets": {"a": {"file": "/x", "format": "yaml", "key": "a\u0007"}}"#).unwrap_err();
    assert!(e.message().contains("secret \"a\" key"), "{e}");
}
