//! What an install writes: modes, owners, nested paths, copies to a destination, templates,
//! and the links and names it must not be fooled by.

use std::path::Path;

use serde_json::json;

use crate::common;
use crate::install_support::{assert_not_leaked, assert_ok, in_private_ns, mode, owner, text, Env};
use crate::{install_as_user, mount_line, runtime_dir};

#[test]
fn modes_owners_nested_custom_and_copy() {
    if !in_private_ns("files::modes_owners_nested_custom_and_copy") {
        return;
    }
    let env = Env::new();
    let etc = env.path().join("etc");
    let m = env.manifest(
        json!({
            "named": {"file": env.encrypt_age_cli("named", b"value-named"), "mode": "0440",
                      "owner": "daemon", "group": "nogroup"},
            "numeric": {"file": env.encrypt("numeric", b"value-numeric"), "owner": "1234",
                        "group": "5678"},
            "nested": {"file": env.encrypt("nested", b"value-nested"), "name": "a/b/c",
                       "mode": "u=r,g=r"},
            "linked": {"file": env.encrypt("linked", b"value-linked"), "path": etc.join("app/linked"),
                       "owner": "1234", "group": "5678", "mode": "0400"},
            "copied": {"file": env.encrypt("copied", b"value-copied"), "path": etc.join("copied"),
                       "symlink": false, "mode": "0640", "owner": "1234", "group": "5678"},
        }),
        json!({}),
    );
    let o = env.install(&m, &[]);
    assert_ok(&o);
    assert_not_leaked(&o, &["value-"]);

    // Mount: a tmpfs with the hardening options, mode 0751.
    let line = mount_line(&env.mp());
    assert!(line.contains(" - tmpfs "), "not a tmpfs: {line}");
    for opt in ["nodev", "nosuid", "noexec", "noswap"] {
        assert!(line.contains(opt), "{opt} missing: {line}");
    }
    assert_eq!(mode(&env.mp()), 0o751);

    let g = env.current();
    assert_eq!(g, env.mp().join("1"));
    assert_eq!(mode(&g), 0o751);
    let s = env.stable();
    assert_eq!(std::fs::read(s.join("named")).unwrap(), b"value-named");
    assert_eq!(mode(&g.join("named")), 0o440);
    assert_eq!(owner(&g.join("named")), (1, 65534)); // daemon:nogroup on Debian
    assert_eq!(owner(&g.join("numeric")), (1234, 5678));
    assert_eq!(mode(&g.join("numeric")), 0o400);
    assert_eq!(std::fs::read(s.join("a/b/c")).unwrap(), b"value-nested");
    // A symbolic mode, as agenix passed it to chmod.
    assert_eq!(mode(&g.join("a/b/c")), 0o440);
    assert_eq!(mode(&g.join("a")), 0o751);
    assert_eq!(mode(&g.join("a/b")), 0o751);
    assert_eq!(owner(&g.join("a/b/c")), (0, 0));

    // Custom path: a symlink to the stable path, owned like the secret.
    let link = etc.join("app/linked");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_link(&link).unwrap(), s.join("linked"));
    assert_eq!(owner(&link), (1234, 5678));
    assert_eq!(std::fs::read(&link).unwrap(), b"value-linked");
    assert_eq!(mode(&etc.join("app")), 0o755);

    // Copy: a regular file with the secret's mode and owner.
    let copy = etc.join("copied");
    assert!(std::fs::symlink_metadata(&copy).unwrap().is_file());
    assert_eq!(std::fs::read(&copy).unwrap(), b"value-copied");
    assert_eq!(mode(&copy), 0o640);
    assert_eq!(owner(&copy), (1234, 5678));
    // No temp files left next to destinations.
    let names: Vec<_> = std::fs::read_dir(&etc)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    // Second run: unchanged copy and link stay correct, a new generation.
    let o = env.install(&m, &[]);
    assert_ok(&o);
    assert_eq!(env.current(), env.mp().join("2"));
    assert_eq!(std::fs::read(&copy).unwrap(), b"value-copied");
    assert_eq!(env.gens(), vec!["2"]);
}

#[test]
fn destination_directory_and_foreign_symlink() {
    if !in_private_ns("files::destination_directory_and_foreign_symlink") {
        return;
    }
    let env = Env::new();
    let etc = env.path().join("etc");
    std::fs::create_dir_all(etc.join("isdir")).unwrap();
    std::fs::write(etc.join("isdir/keep"), b"keep me").unwrap();
    let victim = env.path().join("victim");
    std::fs::write(&victim, b"victim content").unwrap();
    std::os::unix::fs::symlink(&victim, etc.join("evil")).unwrap();
    std::os::unix::fs::symlink(&victim, etc.join("evilcopy")).unwrap();
    let m = env.manifest(
        json!({
            "d": {"file": env.encrypt("d", b"d-val"), "path": etc.join("isdir")},
            "l": {"file": env.encrypt("l", b"l-val"), "path": etc.join("evil")},
            "c": {"file": env.encrypt("c", b"c-val"), "path": etc.join("evilcopy"), "symlink": false},
            "ok": {"file": env.encrypt("ok", b"ok-val")},
        }),
        json!({}),
    );
    let o = env.install(&m, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("isdir") && err.contains("directory"), "{err}");
    assert!(
        err.contains("replaced a symlink to") && err.contains("victim"),
        "{err}"
    );
    // The directory is untouched, the victim never written through.
    assert_eq!(std::fs::read(etc.join("isdir/keep")).unwrap(), b"keep me");
    assert_eq!(std::fs::read(&victim).unwrap(), b"victim content");
    assert_eq!(
        std::fs::read_link(etc.join("evil")).unwrap(),
        env.stable().join("l")
    );
    assert!(std::fs::symlink_metadata(etc.join("evilcopy"))
        .unwrap()
        .is_file());
    assert_eq!(std::fs::read(etc.join("evilcopy")).unwrap(), b"c-val");
    assert_eq!(mode(&etc.join("evilcopy")), 0o400);
    // Everything else is installed.
    assert_eq!(std::fs::read(env.stable().join("ok")).unwrap(), b"ok-val");
    assert_eq!(std::fs::read(env.stable().join("d")).unwrap(), b"d-val");
}

/// A malformed placeholder with a multi-byte character right after it is a validation error
/// (exit 1, names the template), not a panic (exit 101), in --check and in install.
#[test]
fn malformed_placeholder_with_multibyte_char() {
    let env = Env::new();
    let content = format!("<SECRET:{}é", "a".repeat(15));
    let m = env.manifest(
        json!({"s": {"file": env.encrypt("s", b"v")}}),
        json!({"templates": {"t": {"content": content}}}),
    );
    for args in [&["--check"][..], &[][..]] {
        let o = env.install(&m, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("template \"t\"") && err.contains("malformed placeholder"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(!env.mp().exists() && !env.stable().exists());
}

/// A secret named like another's old temp file (`.a.new` next to `a`) installs fine, both
/// with their own values, on the first and on later runs.
#[test]
fn secret_named_like_a_temp_file() {
    if !in_private_ns("files::secret_named_like_a_temp_file") {
        return;
    }
    let env = Env::new();
    let mut secrets = serde_json::Map::new();
    for i in 0..20 {
        let a = format!("a{i}");
        let t = format!(".a{i}.new");
        secrets.insert(a.clone(), json!({"file": env.encrypt(&a, a.as_bytes())}));
        secrets.insert(
            t.clone(),
            json!({"file": env.encrypt(&format!("t{i}"), t.as_bytes())}),
        );
    }
    let m = env.manifest(serde_json::Value::Object(secrets), json!({}));
    for _ in 0..2 {
        let o = env.install(&m, &[]);
        assert_ok(&o);
        for i in 0..20 {
            for n in [format!("a{i}"), format!(".a{i}.new")] {
                let got = std::fs::read(env.stable().join(&n))
                    .unwrap_or_else(|e| panic!("{n}: {e}\n{}", text(&o)));
                assert_eq!(got, n.as_bytes(), "{n}");
            }
        }
    }
}

/// A symlink in a custom destination's directories (here `conf` -> the victim directory, as
/// a user owning /var/lib/app could plant) is never written through, in root and user mode:
/// the victim directory stays byte-for-byte as it was (no link, copy, temp file or cleanup
/// there), the secret reports an error naming the symlink, other secrets install.
#[test]
fn symlinked_destination_directory_is_not_followed() {
    if !in_private_ns("files::symlinked_destination_directory_is_not_followed") {
        return;
    }
    let env = Env::new();
    let victim = env.path().join("victim-etc");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("key"), b"victim key").unwrap();
    std::fs::write(victim.join("copy"), b"victim copy").unwrap();
    // Looks like our stale temp file: must not be cleaned up through the symlink either.
    std::fs::write(victim.join(".key.link-1-00"), b"not ours").unwrap();
    let app = env.path().join("var/lib/app");
    std::fs::create_dir_all(&app).unwrap();
    std::os::unix::fs::symlink(&victim, app.join("conf")).unwrap();
    let before = common::full_snapshot(&victim);

    let secrets = |base: &str| {
        json!({
            "linked": {"file": env.encrypt("linked", b"linked-val"),
                       "path": format!("{base}/var/lib/app/conf/key")},
            "copied": {"file": env.encrypt("copied", b"copied-val"), "symlink": false,
                       "path": format!("{base}/var/lib/app/conf/copy")},
            "deeper": {"file": env.encrypt("deeper", b"deeper-val"),
                       "path": format!("{base}/var/lib/app/conf/new/dir/x")},
            "ok": {"file": env.encrypt("ok", b"ok-val"),
                   "path": format!("{base}/var/lib/app/real/ok")},
        })
    };
    let check = |o: &std::process::Output, stable: &Path| {
        assert_eq!(o.status.code(), Some(1), "{}", text(o));
        let err = String::from_utf8_lossy(&o.stderr);
        for n in ["linked", "copied", "deeper"] {
            assert!(
                err.lines()
                    .any(|l| l.contains(&format!("for {n}:")) && l.contains("conf is a symlink")),
                "{n}: {err}"
            );
        }
        assert_eq!(common::full_snapshot(&victim), before, "{err}");
        assert_eq!(std::fs::read(app.join("real/ok")).unwrap(), b"ok-val");
        // The secrets themselves are installed in the generation.
        assert_eq!(std::fs::read(stable.join("linked")).unwrap(), b"linked-val");
    };

    // Root mode.
    let m = env.manifest(secrets(env.path().to_str().unwrap()), json!({}));
    let o = env.install(&m, &[]);
    check(&o, &env.stable());

    // User mode ($XDG_RUNTIME_DIR expansion, no mount, no chown).
    std::fs::remove_dir_all(app.join("real")).unwrap();
    let xdg = runtime_dir(&env);
    let manifest = json!({
        "version": 1, "userMode": true,
        "secretsDir": "$XDG_RUNTIME_DIR/agenix",
        "secretsMountPoint": "$XDG_RUNTIME_DIR/agenix.d",
        "identityPaths": [env.host_key()],
        "restartMode": "none",
        "secrets": secrets("$HOME"),
    });
    let o = install_as_user(&env, &xdg, &manifest)
        .env("HOME", env.path())
        .env_remove("NIXOS_ACTION")
        .output()
        .unwrap();
    check(&o, &xdg.join("agenix"));
}

/// Counts opens of files with inotify (IN_OPEN), to see how often the installer reads them.
struct OpenCounter {
    fd: i32,
    watches: Vec<(i32, std::path::PathBuf)>,
}

impl OpenCounter {
    fn new(files: &[&Path]) -> OpenCounter {
        use std::os::unix::ffi::OsStrExt;
        // SAFETY: plain syscalls with valid NUL-terminated paths.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        assert!(fd >= 0);
        let watches = files
            .iter()
            .map(|f| {
                let c = std::ffi::CString::new(f.as_os_str().as_bytes()).unwrap();
                let wd = unsafe { libc::inotify_add_watch(fd, c.as_ptr(), libc::IN_OPEN) };
                assert!(wd >= 0);
                (wd, f.to_path_buf())
            })
            .collect();
        OpenCounter { fd, watches }
    }

    /// Opens of each watched file (in the order given to `new`) since the last call.
    fn opens(&self) -> Vec<usize> {
        let mut n = vec![0; self.watches.len()];
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: buf is writable for its length.
            let r = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
            if r <= 0 {
                break;
            }
            let mut off = 0;
            while off < r as usize {
                // SAFETY: the kernel writes whole inotify_event records.
                let ev: libc::inotify_event =
                    unsafe { std::ptr::read_unaligned(buf[off..].as_ptr().cast()) };
                if let Some(i) = self.watches.iter().position(|(w, _)| *w == ev.wd) {
                    if ev.mask & libc::IN_OPEN != 0 {
                        n[i] += 1;
                    }
                }
                off += std::mem::size_of::<libc::inotify_event>() + ev.len as usize;
            }
        }
        n
    }
}

impl Drop for OpenCounter {
    fn drop(&mut self) {
        unsafe { libc::close(self.fd) };
    }
}

/// With `--phase all`, a neededForUsers secret used by a (main-phase) template is read and
/// decrypted once: the users phase hands its value on to the main phase.
#[test]
fn users_secret_in_template_is_decrypted_once() {
    if !in_private_ns("files::users_secret_in_template_is_decrypted_once") {
        return;
    }
    use secrets::install::template::placeholder;
    let env = Env::new();
    let pw = env.encrypt("pw", b"hash");
    let app = env.encrypt("app", b"app-val");
    let content = format!("pw={} app={}\n", placeholder("pw"), placeholder("app"));
    let m = env.manifest(
        json!({"pw": {"file": pw, "neededForUsers": true}, "app": {"file": app}}),
        json!({"templates": {"t": {"content": content}}}),
    );
    let counter = OpenCounter::new(&[&pw, &app]);
    let o = env.install(&m, &[]);
    assert_ok(&o);
    assert_eq!(
        std::fs::read(env.stable().join("rendered/t")).unwrap(),
        b"pw=hash app=app-val\n"
    );
    assert_eq!(counter.opens(), [1, 1], "opens of pw, app\n{}", text(&o));
    // The main phase alone decrypts the users secret itself.
    let o = env.install(&m, &["--phase", "main"]);
    assert_ok(&o);
    assert_eq!(counter.opens(), [1, 1], "opens of pw, app\n{}", text(&o));
}

/// A secret removed from the manifest takes its custom-path copy with it, but only while the
/// file there is still exactly what we wrote (bytes, owner, group, mode); an edited or
/// re-owned file stays.
#[test]
fn removed_secret_copy_is_removed_only_if_ours() {
    if !in_private_ns("files::removed_secret_copy_is_removed_only_if_ours") {
        return;
    }
    let env = Env::new();
    let etc = env.path().join("etc");
    let copy = |n: &str| {
        json!({"file": env.encrypt(n, format!("{n}-val").as_bytes()), "symlink": false,
               "path": etc.join(n), "mode": "0440", "owner": "1234", "group": "5678"})
    };
    let m1 = env.manifest(
        json!({"gone": copy("gone"), "edited": copy("edited"), "chowned": copy("chowned"),
               "kept": copy("kept")}),
        json!({}),
    );
    assert_ok(&env.install(&m1, &[]));
    assert_eq!(std::fs::read(etc.join("gone")).unwrap(), b"gone-val");
    // The admin changed two of the copies since.
    std::fs::write(etc.join("edited"), b"admin's own").unwrap();
    std::os::unix::fs::lchown(etc.join("chowned"), Some(0), Some(0)).unwrap();

    let m2 = env.manifest(json!({"kept": copy("kept")}), json!({}));
    let o = env.install(&m2, &[]);
    assert_ok(&o);
    assert!(!etc.join("gone").exists(), "{}", text(&o));
    assert_eq!(std::fs::read(etc.join("edited")).unwrap(), b"admin's own");
    assert_eq!(std::fs::read(etc.join("chowned")).unwrap(), b"chowned-val");
    assert_eq!(std::fs::read(etc.join("kept")).unwrap(), b"kept-val");
}

/// SECRETS_MAX_VALUE bounds a value a template needs (held whole): over it the template's
/// secret fails naming itself, the limit and the variable; the plain secret is streamed and
/// has no limit; raised, the same manifest installs and renders.
#[test]
fn template_input_over_the_value_limit() {
    if !in_private_ns("files::template_input_over_the_value_limit") {
        return;
    }
    use secrets::install::template::placeholder;
    let env = Env::new();
    let value = "v".repeat(3000);
    let m = env.manifest(
        json!({"big": {"file": env.encrypt("big", value.as_bytes())},
               "plain": {"file": env.encrypt("plain", value.as_bytes())}}),
        json!({"templates": {"t": {"content": format!("x={}\n", placeholder("big"))}}}),
    );
    let install = |limit: &str| {
        let mut c = common::cmd();
        c.arg("install").arg("--manifest").arg(&m);
        c.env_remove("NIXOS_ACTION").env("SECRETS_MAX_VALUE", limit);
        c.output().unwrap()
    };
    let o = install("1K");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("secret big: cannot decrypt")
            && err.contains("big.age: the decrypted value is larger than 1024 bytes")
            && err.contains("raise it with SECRETS_MAX_VALUE"),
        "{err}"
    );
    assert!(err.contains("template t: needs secret \"big\""), "{err}");
    assert!(!env.stable().join("rendered/t").exists());
    // The plain secret of the same size went through streamed.
    assert_eq!(
        std::fs::read(env.stable().join("plain")).unwrap().len(),
        3000
    );
    assert_not_leaked(&o, &[&value]);
    let o = install("4K");
    assert_ok(&o);
    assert_eq!(
        std::fs::read_to_string(env.stable().join("rendered/t")).unwrap(),
        format!("x={value}\n")
    );
}
