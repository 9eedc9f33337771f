//! `secrets man`: one page per command besides secrets(1), agenix(1) and ragenix(1), each with
//! every option clap knows for its command, examples kept verbatim, and no reference to a page that does
//! not exist. The expected names come from clap's own `Command` (the library's `Cli`), never
//! from a list kept here, so a new command or flag without its page fails this test.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use clap::CommandFactory;
use secrets::cmd::Cli;

/// The commands `secrets --help` lists (clap's own `help` aside), as clap declares them.
fn commands() -> Vec<clap::Command> {
    let mut cli = Cli::command();
    cli.build();
    cli.get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name() != "help")
        .cloned()
        .collect()
}

fn man(args: &[&str]) -> Vec<u8> {
    let out = common::cmd().arg("man").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "secrets man {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "secrets man {args:?} wrote on stderr"
    );
    out.stdout
}

/// The page as a terminal shows it (`groff -man -Tutf8`, no bold/underline escapes), failing
/// on any warning groff gives about it; None (a skip) without groff.
fn render(page: &[u8]) -> Option<String> {
    if common::missing("groff") {
        return None;
    }
    let mut child = Command::new("groff")
        .args(["-man", "-Tutf8", "-P-cbou", "-ww"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run groff");
    child.stdin.take().unwrap().write_all(page).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "groff: {stderr}");
    let text = String::from_utf8(out.stdout).expect("groff -Tutf8 writes UTF-8");
    // No hyphen added at a line break: `--ver‐` `sion` cannot be read as an option to type.
    assert!(!text.contains('\u{2010}'), "hyphenated:\n{text}");
    Some(text)
}

/// Prose as roff fills it, with runs of spaces (justification) made one.
fn squeeze(text: &str) -> String {
    text.split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `name(1)` references in rendered text: `secrets-edit(1)` → `secrets-edit`. The header and
/// footer lines (the page's own title) are not references.
fn references(text: &str) -> BTreeSet<String> {
    let body: Vec<&str> = text.trim().lines().collect();
    let text = body[1..body.len() - 1].join("\n");
    let mut refs = BTreeSet::new();
    for (i, _) in text.match_indices("(1)") {
        let name: String = text[..i]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if !name.is_empty() {
            refs.insert(name);
        }
    }
    refs
}

/// The "Examples:" block of `secrets [COMMAND] --help`: its indented lines, common indentation
/// removed.
fn help_examples(command: &[&str]) -> Vec<String> {
    let out = common::cmd().args(command).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let Some((_, after)) = help.split_once("\nExamples:\n") else {
        return Vec::new();
    };
    let lines: Vec<&str> = after
        .lines()
        .take_while(|l| l.starts_with(' ') && !l.trim().is_empty())
        .collect();
    let indent = lines
        .iter()
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    lines.iter().map(|l| l[indent..].to_string()).collect()
}

#[test]
fn the_top_page_names_every_command_page() {
    let page = man(&[]);
    let roff = String::from_utf8(page.clone()).unwrap();
    assert!(roff.contains(".TH SECRETS 1 "), "{roff}");
    let Some(text) = render(&page) else {
        common::skip("groff is not installed: cannot render the man pages");
        return;
    };
    let refs = references(&text);
    for c in commands() {
        let want = format!("secrets-{}", c.get_name());
        assert!(
            refs.contains(&want),
            "secrets(1) does not name {want}(1):\n{text}"
        );
    }
    assert!(
        !refs.contains("secrets-help"),
        "a page for clap's help command:\n{text}"
    );
    for flag in ["--rules", "--identity", "--verbose", "--version"] {
        assert!(text.contains(flag), "secrets(1) lacks {flag}:\n{text}");
    }
    assert!(text.contains("\nEXIT STATUS\n"), "{text}");
}

#[test]
fn every_command_page_has_every_option_argument_and_secrets_1() {
    let Some(_) = render(b"") else {
        common::skip("groff is not installed: cannot render the man pages");
        return;
    };
    for c in commands() {
        let name = c.get_name();
        let text = squeeze(&render(&man(&[name])).unwrap());
        let header = format!("SECRETS-{}(1)", name.to_uppercase());
        assert!(text.starts_with(&header), "secrets man {name}:\n{text}");
        assert!(
            text.contains(&format!("secrets-{name} - ")),
            "secrets man {name}: no NAME line:\n{text}"
        );
        let mut seen = 0;
        for arg in c.get_arguments().filter(|a| !a.is_hide_set()) {
            let mut names: Vec<String> = Vec::new();
            if let Some(l) = arg.get_long() {
                names.push(format!("--{l}"));
            }
            if let Some(s) = arg.get_short() {
                names.push(format!("-{s}"));
            }
            if arg.is_positional() {
                // <FILE> when required, [FILES] when not.
                let value = arg.get_value_names().unwrap()[0].to_string();
                names.push(if arg.is_required_set() {
                    format!("<{value}>")
                } else {
                    format!("[{value}]")
                });
            }
            for n in names {
                assert!(text.contains(&n), "secrets-{name}(1) lacks {n}:\n{text}");
                seen += 1;
            }
            if let Some(help) = arg.get_help() {
                // The help's first words (roff may break the line after them).
                let start: String = help
                    .to_string()
                    .split(' ')
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" ");
                assert!(
                    text.contains(&start),
                    "secrets-{name}(1) lacks {start:?}:\n{text}"
                );
            }
        }
        // -h and -V at least: the loop above did look at something.
        assert!(seen >= 4, "secrets-{name}(1): only {seen} option names");
        let see_also = text.split("\nSEE ALSO\n").nth(1).unwrap_or_else(|| {
            panic!("secrets-{name}(1) has no SEE ALSO:\n{text}");
        });
        assert!(
            see_also.contains("secrets(1)"),
            "secrets-{name}(1):\n{text}"
        );
    }
}

#[test]
fn examples_keep_their_lines_and_spacing() {
    let Some(_) = render(b"") else {
        common::skip("groff is not installed: cannot render the man pages");
        return;
    };
    let mut multi_line = 0;
    let mut pages: Vec<Vec<String>> = vec![vec![]];
    pages.extend(commands().iter().map(|c| vec![c.get_name().to_string()]));
    for command in pages {
        let args: Vec<&str> = command.iter().map(String::as_str).collect();
        let examples = help_examples(&args);
        let page = args.first().copied().unwrap_or("secrets");
        assert!(!examples.is_empty(), "{page}: no examples in --help");
        let text = render(&man(&args)).unwrap();
        // The rendered lines, with the page's own indentation removed.
        let lines: Vec<String> = text
            .lines()
            .map(|l| l.strip_prefix("       ").unwrap_or(l).to_string())
            .collect();
        // The whole block, line for line, in a row: nothing refilled, no spacing changed.
        let found = lines
            .windows(examples.len())
            .any(|w| w == examples.as_slice());
        assert!(
            found,
            "{page}: examples not verbatim; want\n{}\nin\n{text}",
            examples.join("\n")
        );
        // An example whose description is on the next line (as `echo … | secrets edit`).
        multi_line += examples.iter().filter(|l| l.starts_with("  ")).count();
    }
    assert!(
        multi_line >= 3,
        "too few multi-line examples to prove anything"
    );
}

#[test]
fn shell_quotes_and_backslashes_survive() {
    let Some(edit) = render(&man(&["edit"])) else {
        common::skip("groff is not installed: cannot render the man pages");
        return;
    };
    assert!(edit.contains("VISUAL='code --wait' secrets edit"), "{edit}");
    let install = render(&man(&["install"])).unwrap();
    assert!(install.contains("--manifest m.json \\\n"), "{install}");
    let top = render(&man(&[])).unwrap();
    assert!(
        top.contains("echo -n hunter2 | secrets edit db.age\n"),
        "{top}"
    );
}

#[test]
fn out_dir_writes_every_page_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    // Created if missing, parents too (a package's share/man/man1).
    let dir = tmp.path().join("share/man/man1");
    let out = common::cmd()
        .args(["man", "--out-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    let files: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let mut want: BTreeSet<String> = commands()
        .iter()
        .map(|c| format!("secrets-{}.1", c.get_name()))
        .collect();
    want.insert("secrets.1".into());
    want.insert("agenix.1".into());
    want.insert("ragenix.1".into());
    assert_eq!(files, want, "no temp file left, one page per command");
    // Each file is the page `secrets man NAME` prints.
    assert_eq!(std::fs::read(dir.join("secrets.1")).unwrap(), man(&[]));
    assert_eq!(
        std::fs::read(dir.join("secrets-edit.1")).unwrap(),
        man(&["edit"])
    );
    for entry in ["agenix", "ragenix"] {
        assert_eq!(
            std::fs::read(dir.join(format!("{entry}.1"))).unwrap(),
            man(&[entry])
        );
    }
    for f in &files {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.join(f)).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o644, "{f}");
    }

    // Every page renders, and every page any of them refers to is there (age(1) is age's).
    if common::missing("groff") {
        common::skip("groff is not installed: cannot render the man pages");
        return;
    }
    for f in &files {
        let text = render(&std::fs::read(dir.join(f)).unwrap()).unwrap();
        for r in references(&text) {
            if r == "age" {
                continue;
            }
            assert!(
                files.contains(&format!("{r}.1")),
                "{f} refers to {r}(1), which was not written"
            );
        }
    }
    // Again over the existing pages: replaced, still nothing else in the directory.
    common::cmd()
        .args(["man", "--out-dir"])
        .arg(&dir)
        .assert()
        .success()
        .stdout("");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), want.len());
}

#[test]
fn an_unknown_page_is_a_usage_error_naming_the_pages() {
    let out = common::cmd().args(["man", "edti"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'edti'"), "{err}");
    for c in commands() {
        assert!(
            err.contains(c.get_name()),
            "{err} does not name {}",
            c.get_name()
        );
    }
    assert!(err.contains("agenix"), "{err}");
    // A page and --out-dir together: which one was meant is unclear.
    let dir = tempfile::tempdir().unwrap();
    common::cmd()
        .args(["man", "edit", "--out-dir"])
        .arg(dir.path())
        .assert()
        .code(2);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn out_dir_that_is_a_file_fails_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("man1");
    std::fs::write(&file, "x").unwrap();
    let out = common::cmd()
        .args(["man", "--out-dir"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&file.display().to_string()), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
}

#[test]
fn entry_point_pages_are_their_help_texts() {
    let entries = [
        ("agenix", "AGENIX(1)", secrets::agenix::HELP),
        ("ragenix", "RAGENIX(1)", secrets::agenix::RAGENIX_HELP),
    ];
    for (entry, title, help) in entries {
        let Some(text) = render(&man(&[entry])) else {
            common::skip("groff is not installed: cannot render the man pages");
            return;
        };
        assert!(text.starts_with(title), "{text}");
        let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut lines = help.lines().filter(|l| !l.trim().is_empty());
        // The first line is the NAME section, which roff fills like any paragraph.
        let name = lines.next().unwrap();
        assert!(
            words(&text).contains(&words(name)),
            "{entry}(1) lacks its NAME line {name:?}:\n{text}"
        );
        for line in lines {
            assert!(
                text.lines().any(|l| l.trim_start() == line.trim_start()),
                "{entry}(1) lacks the help line {line:?}:\n{text}"
            );
        }
    }
}
