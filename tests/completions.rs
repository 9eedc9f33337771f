//! `secrets completions SHELL` and `secrets man` print plausible, non-empty output.

mod common;

fn stdout_of(args: &[&str]) -> String {
    let out = common::cmd().args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn completions_for_each_shell_mention_the_commands() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef secrets"),
        ("fish", "complete -c secrets"),
    ] {
        let s = stdout_of(&["completions", shell]);
        assert!(s.contains(marker), "{shell}: no `{marker}`");
        for word in ["rekey", "check", "dry-run", "json", "force"] {
            assert!(s.contains(word), "{shell} completion lacks {word}");
        }
    }
    common::cmd()
        .args(["completions", "tcsh-9"])
        .assert()
        .code(2);
}

#[test]
fn man_page_is_roff_with_the_commands() {
    let s = stdout_of(&["man"]);
    assert!(
        s.starts_with(".ie") || s.starts_with(".TH"),
        "{}",
        &s[..s.len().min(200)]
    );
    assert!(s.contains(".TH SECRETS 1"), "no .TH header");
    assert!(
        s.contains("rekey") && s.contains("check"),
        "man page lacks commands"
    );
}

#[test]
fn a_reader_that_goes_away_is_not_a_crash() {
    for args in [&["completions", "bash"][..], &["man"][..]] {
        let mut child = std::process::Command::new(common::bin())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end before the child writes: its writes hit EPIPE.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}
