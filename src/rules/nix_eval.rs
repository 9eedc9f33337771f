//! Evaluating a `secrets.nix` with `nix-instantiate`, fenced in: the rules file is code from
//! the repository (a pull request can change it), so its evaluation sees no environment, reads
//! only the rules file's directory tree, reaches no network, builds nothing and runs no other
//! program. What it can still do is in SECURITY.md ("Rules files are code").

use std::ffi::OsString;
#[cfg(target_os = "linux")]
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{describe_io, Error, Result};

/// The search path prefix under which the rules directory is passed. Restricted evaluation
/// allows reading exactly the search path entries; a prefix is needed so that a directory
/// name containing `=` is not split into prefix and path.
const RULES_PREFIX: &str = "secrets-rules-dir";

/// What our own expression throws when `builtins.getFlake` or `builtins.fetchClosure` exists
/// although experimental features were switched off on the command line (a Nix that ignores
/// the option, or turns them on some other way): both fetch from any URL even in restricted
/// mode, so nothing is evaluated. (fetchTree cannot be looked for: Nix 2.8 always has it, and
/// refuses it when flakes are off.)
const FEATURES_ON: &str = "secrets: this Nix has flakes or fetch-closure on although \
                           experimental-features was pinned to nothing; refusing to evaluate \
                           the rules";

/// The expression run against the rules file (see eval.nix for what it prints).
fn expression() -> String {
    include_str!("eval.nix")
        .replace("@FEATURES_ON@", FEATURES_ON)
        .replace("@TYPE_MARK@", super::parse::TYPE_MARK)
}

/// Evaluate `file` (canonical, in the canonical directory `dir`) to JSON text: the rules'
/// known attributes (`KNOWN_ATTRS`) only, a rule that throws or has a value of the wrong type
/// attribute by attribute (see eval.nix).
pub(super) fn eval_rules(file: &Path, dir: &Path) -> Result<String> {
    let known = serde_json::to_string(super::parse::KNOWN_ATTRS).unwrap_or_default();
    let out = run(file, dir, &[("mode", "inspect"), ("known", &known)])?;
    if !out.status.success() {
        let stderr = printable(&String::from_utf8_lossy(&out.stderr));
        let mut msg = format!(
            "{}: nix-instantiate could not evaluate it:\n{}",
            file.display(),
            stderr.trim_end()
        );
        if let Some(h) = hint(&stderr, dir) {
            msg.push_str("\nhint: ");
            msg.push_str(&h);
        }
        msg.push('\n');
        msg.push_str(&restrictions(dir));
        msg.push_str(
            "\nnote: a `throw` or a failed `assert` inside one rule makes only that rule \
             unusable; any other error (a type error, a missing attribute, `abort`, a refused \
             file) stops the evaluation of the whole file",
        );
        return Err(Error::new(msg));
    }
    String::from_utf8(out.stdout).map_err(|_| {
        Error::new(format!(
            "{}: evaluation gave non-UTF-8 output",
            file.display()
        ))
    })
}

/// What evaluating rule `rule` (its attribute `attr`, or all of it for "") throws: Nix's
/// message on one line, escaped and quoted, with where it was thrown when Nix says so.
/// Evaluated again, alone, because builtins.tryEval keeps the message to itself.
pub(super) fn thrown_message(file: &Path, dir: &Path, rule: &str, attr: &str) -> String {
    let args = [("mode", "force"), ("ruleName", rule), ("attrName", attr)];
    match run(file, dir, &args) {
        Ok(out) if !out.status.success() => last_error(&String::from_utf8_lossy(&out.stderr)),
        _ => "it throws an error (an assert or a throw) that Nix did not repeat".to_string(),
    }
}

/// The last `error:` line of Nix's output (the innermost error), and the `at FILE:LINE:COL`
/// after it if there is one.
fn last_error(stderr: &str) -> String {
    let plain = strip_colours(stderr);
    let lines: Vec<&str> = plain.lines().map(str::trim).collect();
    let Some(i) = lines.iter().rposition(|l| l.starts_with("error:")) else {
        return "it throws an error without a message".to_string();
    };
    let mut text: String = lines[i]["error:".len()..]
        .trim()
        .chars()
        .take(300)
        .collect();
    if text.is_empty() {
        text = lines.get(i + 1).copied().unwrap_or_default().to_string();
    }
    let mut msg = format!("\"{}\"", crate::names::escaped(&text));
    if let Some(at) = lines[i + 1..].iter().find(|l| l.starts_with("at ")) {
        let at = at.trim_end_matches(':');
        msg.push_str(&format!(" ({})", crate::names::escaped(at)));
    }
    msg
}

/// Run the expression in `mode` with these string arguments, fenced in.
fn run(file: &Path, dir: &Path, args: &[(&str, &str)]) -> Result<std::process::Output> {
    let program = find_program("nix-instantiate").ok_or_else(|| {
        Error::new(format!(
            "{}: nix-instantiate was not found on PATH; install Nix, or write the rules as \
             secrets.json instead (`secrets schema` prints its JSON Schema)",
            file.display()
        ))
    })?;
    let mut cmd = fenced(&program, dir);
    // Paths and names travel as string arguments, never spliced into Nix code, so spaces,
    // quotes and `${` in them are harmless.
    cmd.args(["--argstr", "rulesFile"]).arg(file);
    for (name, value) in args {
        cmd.args(["--argstr", name, value]);
    }
    cmd.args(["--expr", &expression()]);
    cmd.output().map_err(|e| {
        Error::new(format!(
            "cannot run {}: {}",
            program.display(),
            describe_io(&e)
        ))
    })
}

/// nix-instantiate with every fence: no environment, restricted evaluation reading only
/// `dir`, no store, no network, no experimental features, no program to run.
fn fenced(program: &Path, dir: &Path) -> Command {
    let mut search_entry = OsString::from(format!("{RULES_PREFIX}="));
    search_entry.push(dir);
    let mut cmd = Command::new(program);
    cmd
        // Nothing from our environment (CI tokens, NIX_PATH, NIX_CONFIG) reaches the rules.
        .env_clear()
        // Nix runs git or hg for fetchGit/fetchMercurial on a path inside the rules directory,
        // and a repository there can carry a config that runs commands. With an unset PATH
        // execvp would fall back to /bin:/usr/bin; /dev/null is never a directory, so every
        // lookup fails.
        .env("PATH", "/dev/null")
        .args(["--eval", "--strict", "--json"])
        // No store at all (--eval alone already writes nothing): nothing to build or to
        // substitute from, no daemon to talk to (so it also works for a user who may not use
        // the daemon); store paths are only computed.
        .args(["--store", "dummy://"])
        // Only search path entries are readable, symlinks are resolved before the check,
        // getEnv returns "", and fetchers refuse every URI not in allowed-uris.
        .args(["--option", "restrict-eval", "true"])
        .args(["--option", "allowed-uris", ""])
        // The command line wins over nix.conf, so no configuration can widen any of these.
        .args(["--option", "nix-path", ""])
        .args(["--option", "pure-eval", "false"])
        .args(["--option", "allow-import-from-derivation", "false"])
        .args([
            "--option",
            "allow-unsafe-native-code-during-evaluation",
            "false",
        ])
        // No experimental feature, whatever nix.conf says (cachix/install-nix-action turns on
        // flakes): with flakes on, builtins.getFlake fetches any URL despite restricted mode
        // and allowed-uris, and fetchClosure talks to any binary cache. The expression checks
        // that this took before it imports the rules.
        .args(["--option", "experimental-features", ""])
        .arg("-I")
        .arg(search_entry);
    without_network(&mut cmd);
    cmd
}

/// Run the evaluation in a network namespace of its own, which holds only a loopback interface
/// that is down: nothing at all to connect to, whatever Nix is made to fetch. Defence in depth
/// behind the options, which already refuse every fetch. Linux only: macOS has no network
/// namespaces, and there the options are the fence.
#[cfg(target_os = "linux")]
fn without_network(cmd: &mut Command) {
    // SAFETY: the hook runs in the forked child before exec, where only async-signal-safe
    // calls are allowed; `enter_empty_netns` makes nothing but unshare(2) calls (no allocation,
    // no lock).
    unsafe { cmd.pre_exec(enter_empty_netns) };
}

#[cfg(not(target_os = "linux"))]
fn without_network(_: &mut Command) {}

#[cfg(target_os = "linux")]
fn enter_empty_netns() -> std::io::Result<()> {
    // SAFETY: unshare takes only flags and affects only the calling (forked, single-threaded)
    // process.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0 {
        return Ok(());
    }
    // Not root (or a container withholding CAP_SYS_ADMIN): a new user namespace grants it.
    // Nix evaluates normally in one (file access is still checked against the real user). A
    // kernel that forbids unprivileged user namespaces refuses (EPERM, EINVAL, ENOSPC); then
    // the options above remain the fence, and unshare has changed nothing.
    // SAFETY: as above.
    let _ = unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) };
    Ok(())
}

/// A rules file named through a symlink must stay in the link's own directory. Evaluation is
/// confined to the target's directory, so a committed `secrets.nix -> /proc/self/environ` (or
/// a link to a file in someone's home) would otherwise have Nix parse that file and quote it
/// in its error message.
pub(super) fn refuse_escaping_link(given: &Path, file: &Path) -> Result<()> {
    let parent = match given.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // The directory as given may itself be a link (a checkout under /home -> /data/home):
    // compare with where it really is.
    let inside = std::fs::canonicalize(parent).is_ok_and(|d| file.starts_with(d));
    if inside {
        return Ok(());
    }
    Err(Error::new(format!(
        "rules file {}: it is a symlink to {}, outside its own directory, and a committed \
         link must not choose which file is evaluated; pass --rules {} if that file is meant, \
         or replace the link with the file",
        given.display(),
        file.display(),
        file.display()
    )))
}

/// `name` in one of our own $PATH directories. Looked up here because a command whose PATH
/// is replaced would be searched for on the replacement.
fn find_program(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// What restricted evaluation refused, and the fix, from Nix's message.
fn hint(stderr: &str, dir: &Path) -> Option<String> {
    let dir = dir.display();
    let restricted = stderr.contains("forbidden in restricted mode");
    let experimental = ["getFlake", "fetchTree", "fetchClosure"]
        .iter()
        .any(|b| stderr.contains(&format!("attribute '{b}' missing")))
        || stderr.contains("experimental Nix feature");
    Some(if stderr.contains(FEATURES_ON) {
        "this nix-instantiate keeps flakes or fetch-closure on although its command line turns \
         them off, and builtins.getFlake and fetchClosure would fetch from the network despite \
         restricted mode, so it is refused: use a Nix that honours `--option \
         experimental-features \"\"`, or write the rules as secrets.json"
            .to_string()
    } else if experimental {
        format!(
            "the rules use flakes (builtins.getFlake, fetchTree), fetchClosure or another \
             experimental Nix feature, which is refused (getFlake and fetchClosure fetch from \
             the network even in restricted mode): import files from {dir} instead"
        )
    } else if restricted && stderr.contains("access to URI") {
        format!(
            "the rules download something (fetchurl, fetchTarball, fetchGit…), which is \
             refused: put what they need (public keys) in files in {dir} and import those"
        )
    } else if restricted {
        format!(
            "the rules read a file outside {dir} (directly or through a symlink), which is \
             refused: copy the file into {dir} and import it relatively (import ./keys.nix)"
        )
    } else if stderr.contains("was not found in the Nix search path") {
        format!(
            "the rules look something up with <…> (such as <nixpkgs>), and there is no \
             NIX_PATH: use builtins (builtins.map, builtins.attrValues, builtins.concatLists…) \
             instead of nixpkgs' lib, and relative imports for files in {dir}"
        )
    } else if stderr.contains("allow-import-from-derivation")
        || (stderr.contains("/nix/store/") && stderr.contains("is not valid"))
    {
        format!(
            "the rules use a store path (the output of a derivation, or a file copied with \
             \"${{./file}}\"), and nothing is built or copied to the store: write the keys into \
             files in {dir} and read those directly (builtins.readFile ./file)"
        )
    } else if stderr.contains("executing 'git'") || stderr.contains("executing 'hg'") {
        format!(
            "the rules call fetchGit or fetchMercurial, which would run git or hg and is \
             refused: import the files from {dir} directly instead"
        )
    } else {
        return None;
    })
}

/// Said after every failed evaluation: a rules file written for agenix may rely on any of these.
fn restrictions(dir: &Path) -> String {
    format!(
        "note: secrets evaluates rules in Nix's restricted mode: only files below {} can be \
         read, builtins.getEnv gives \"\", and there is no NIX_PATH, no network, no flakes, no \
         build and no other program; lines from Nix start with `{}`",
        dir.display(),
        NIX_LINE.trim_end()
    )
}

/// Marks each line of Nix's output, so that a line the rules throw ("\nhint: run …") cannot
/// pass for one of ours.
const NIX_LINE: &str = "nix| ";

/// Nix's message made safe to print among ours: its colour sequences dropped, every character
/// that could rewrite the terminal or reorder the text shown escaped (a hostile rules file can
/// throw any string, and Nix also quotes its source), each line marked with `NIX_LINE`.
fn printable(s: &str) -> String {
    let plain = strip_colours(s);
    let mut out = String::with_capacity(plain.len() + 64);
    for (i, line) in plain.trim_end().split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        // Tabs are layout; everything else `names` would refuse in a name is escaped.
        let line = line
            .split('\t')
            .map(crate::names::escaped)
            .collect::<Vec<_>>()
            .join("\t");
        out.push_str(if line.is_empty() {
            NIX_LINE.trim_end()
        } else {
            NIX_LINE
        });
        out.push_str(&line);
    }
    out
}

/// `s` without its colour (CSI) sequences.
fn strip_colours(s: &str) -> String {
    let mut plain = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            // A CSI sequence ends at its first byte in @..~.
            chars.next();
            for n in chars.by_ref() {
                if ('@'..='~').contains(&n) {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_drops_colours_and_escapes_controls() {
        assert_eq!(
            printable("\u{1b}[31;1merror:\u{1b}[0m x\n\n\ty\n"),
            "nix| error: x\nnix|\nnix| \ty"
        );
        assert_eq!(
            printable("a\u{1b}]0;title\u{7}b\rc"),
            "nix| a\\u{001B}]0;title\\u{0007}b\\u{000D}c"
        );
        // Reordering text, and a thrown line made to look like ours.
        assert_eq!(
            printable("x\u{202E}EGAP\nhint: run this"),
            "nix| x\\u{202E}EGAP\nnix| hint: run this"
        );
        // An unterminated sequence swallows the rest, never panics.
        assert_eq!(printable("a\u{1b}[12"), "nix| a");
    }

    #[test]
    fn a_throw_is_quoted_on_one_line_with_where() {
        // Nix 2.8, and the nested form of later versions, coloured.
        assert_eq!(
            last_error("error: no key yet\n(use '--show-trace' to show detailed location)\n"),
            "\"no key yet\""
        );
        let nested = "error:\n       … while evaluating\n\n       \u{1b}[31;1merror:\u{1b}[0m \
                      assertion 'false' failed\n\n       at /r/secrets.nix:9:18:\n";
        assert_eq!(
            last_error(nested),
            "\"assertion 'false' failed\" (at /r/secrets.nix:9:18)"
        );
        // What the rules throw cannot start a line of its own or reorder ours.
        assert_eq!(last_error("error: a\u{202E}b\r"), "\"a\\u{202E}b\"");
    }

    #[test]
    fn hints_name_what_was_refused() {
        let d = Path::new("/r");
        let h = |s: &str| hint(s, d).unwrap_or_default();
        assert!(
            h("error: access to absolute path '/etc/x' is forbidden in restricted mode")
                .contains("outside /r")
        );
        assert!(
            h("error: access to URI 'http://x' is forbidden in restricted mode")
                .contains("download")
        );
        assert!(h("error: file 'nixpkgs' was not found in the Nix search path").contains("<…>"));
        assert!(h("error: path '/nix/store/a-x.drv' is not valid").contains("derivation"));
        assert!(h("error: executing 'git': Not a directory").contains("fetchGit"));
        assert!(h("error: attribute 'getFlake' missing").contains("flakes"));
        assert!(h("error: experimental Nix feature 'flakes' is disabled").contains("getFlake"));
        assert!(h("error: attribute 'fetchClosure' missing").contains("getFlake"));
        assert!(h(&format!("error: {FEATURES_ON}")).contains("honours"));
        assert!(hint("error: syntax error, unexpected end of file", d).is_none());
    }

    /// True (after saying so, or failing under SECRETS_TEST_NO_SKIP) without nix-instantiate.
    fn no_nix() -> bool {
        if find_program("nix-instantiate").is_some() {
            return false;
        }
        assert!(
            std::env::var_os("SECRETS_TEST_NO_SKIP").is_none(),
            "nix-instantiate is missing and SECRETS_TEST_NO_SKIP is set"
        );
        eprintln!("SKIP: nix-instantiate is not on PATH");
        true
    }

    /// Usual rules are passed as they are (eval.nix's "plain" answer); a rule that throws is
    /// looked at attribute by attribute, alone (that both give the same rules is the next
    /// test).
    #[test]
    fn usual_rules_are_passed_as_they_are() {
        if no_nix() {
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().canonicalize().unwrap();
        let file = dir.join("secrets.nix");
        let eval = |rules: &str| {
            std::fs::write(&file, rules).unwrap();
            let json = eval_rules(&file, &dir).unwrap();
            serde_json::from_str::<serde_json::Value>(&json).unwrap()
        };
        let usual = r#"let k = [ "age1x" ]; in {
            "a.age".publicKeys = k;
            "b.age" = { publicKeys = k; armor = true; generator = { kind = "hex"; }; owner = 1; };
        }"#;
        let v = eval(usual);
        assert_eq!(
            v["plain"]["a.age"],
            serde_json::json!({ "publicKeys": ["age1x"] })
        );
        assert_eq!(v["plain"]["b.age"]["armor"], true);
        assert_eq!(v["ignored"], serde_json::json!({ "b.age": ["owner"] }));
        assert!(v.get("rules").is_none(), "{v}");
        // One rule that throws: only it is looked at attribute by attribute.
        let v = eval(&usual.replace("owner = 1;", "owner = 1; format = throw \"x\";"));
        assert_eq!(
            v["plain"],
            serde_json::json!({ "a.age": { "publicKeys": ["age1x"] } })
        );
        assert_eq!(v["ignored"], serde_json::json!({}));
        assert_eq!(v["rules"].as_object().unwrap().len(), 1, "{v}");
        assert_eq!(v["rules"]["b.age"]["attrs"]["format"]["thrown"], true);
        assert_eq!(v["rules"]["b.age"]["extra"], serde_json::json!(["owner"]));
    }

    /// The rules as parse.rs makes them of eval.nix's usual answer, and of its "inspectEach"
    /// answer (every rule attribute by attribute, the way that tells each problem).
    fn both_ways(file: &Path, dir: &Path) -> (super::super::parse::Raw, super::super::parse::Raw) {
        let known = serde_json::to_string(super::super::parse::KNOWN_ATTRS).unwrap();
        let parse = |json: &str| {
            super::super::parse::parse_nix_json(json, &mut |r, a| format!("throw in {r}/{a}"))
                .unwrap()
        };
        let usual = eval_rules(file, dir).unwrap();
        let each = [("mode", "inspectEach"), ("known", known.as_str())];
        let out = run(file, dir, &each).unwrap();
        assert!(out.status.success(), "{out:?}");
        (
            parse(&usual),
            parse(&String::from_utf8(out.stdout).unwrap()),
        )
    }

    /// Whichever way eval.nix takes (all rules at once, each on its own, attribute by
    /// attribute), a rule comes out the same: good, broken for the same reason, with the same
    /// ignored attributes. Each rule alone beside good ones, then all of them together.
    #[test]
    fn every_way_through_eval_nix_gives_the_same_rules() {
        if no_nix() {
            return;
        }
        let good = [
            r#""a.age".publicKeys = [ k ];"#,
            r#""b.age" = { publicKeys = [ k "age1y" ]; armor = true; };"#,
            r#""c.age" = { publicKeys = [ k ]; owner = "x"; note = throw "never"; f = x: x; };"#,
            r#""d.age" = { publicKeys = [ k ]; generator = { kind = "hex"; length = 64; }; };"#,
            r#""e.age" = { publicKeys = [ k ]; format = "json"; generator = "alnum"; };"#,
            r#""f.age" = { publicKeys = [ ]; };"#,
            r#""g.age" = { armor = true; };"#,
            r#""h.age" = { publicKeys = [ k ]; generator = null; format = null; };"#,
            r#""i j.age".publicKeys = [ "${k}" ];"#,
            r#""l.age" = { publicKeys = [ k ]; format = 1.5; generator = [ 1 true null "s" ]; };"#,
            r#""m.age" = { };"#,
        ];
        let odd = [
            r#""n1.age" = { publicKeys = null; };"#,
            r#""n2.age" = { publicKeys = [ k ]; armor = null; };"#,
            r#""n3.age" = { publicKeys = [ k ]; armor = "yes"; };"#,
            r#""n4.age".publicKeys = [ k 42 ];"#,
            r#""n5.age".publicKeys = [ k null ];"#,
            r#""n6.age" = { publicKeys = [ k ]; generator = ./secrets.nix; };"#,
            r#""n7.age".publicKeys = k;"#,
            r#""n8.age" = "age1x";"#,
            r#""n9.age" = x: x;"#,
            r#""o1.age" = throw "no";"#,
            r#""o2.age" = assert false; { publicKeys = [ k ]; };"#,
            r#""o3.age".publicKeys = [ k (throw "later") ];"#,
            r#""o4.age" = { publicKeys = [ k ]; generator = { outPath = "alnum"; }; };"#,
            r#""o5.age" = { publicKeys = [ k ]; generator = { __toString = _: "alnum"; }; };"#,
            r#""o6.age" = { publicKeys = [ k ]; generator = { kind = "hex"; length = throw "x"; }; };"#,
            r#""o7.age" = { publicKeys = [ k ]; format = [ "json" ]; extra = 1; };"#,
            r#""o8.age" = { publicKeys = [ k ]; generator = { nested = { f = x: x; }; }; };"#,
            r#""o9.age" = { publicKeys = [ (x: x) ]; armor = throw "x"; };"#,
            r#""p1.age" = { publicKeys = [ k ]; format = ./secrets.nix; owner = "o"; };"#,
            r#""p2.age" = { publicKeys = [ k ]; generator = [ "a" (x: x) ]; };"#,
        ];
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().canonicalize().unwrap();
        let file = dir.join("secrets.nix");
        let write = |rules: &[&str]| {
            let text = format!("let k = \"age1x\"; in {{\n{}\n}}\n", rules.join("\n"));
            std::fs::write(&file, text).unwrap();
        };
        let mut cases: Vec<Vec<&str>> = vec![good.to_vec()];
        for o in odd {
            let mut c = good.to_vec();
            c.push(o);
            cases.push(c);
        }
        cases.push(good.iter().chain(&odd).copied().collect());
        for case in cases {
            write(&case);
            let (usual, each) = both_ways(&file, &dir);
            assert_eq!(usual, each, "{}", case.last().unwrap());
        }
        // What each way found broken here (the comparison above would also pass if both ways
        // broke everything); the others go on to `resolve`, which checks keys, generators and
        // formats for every rule alike.
        write(&good.iter().chain(&odd).copied().collect::<Vec<_>>());
        let (usual, _) = both_ways(&file, &dir);
        let broken: Vec<&str> = usual.broken.keys().map(String::as_str).collect();
        let want = [
            "n3.age", "n4.age", "n5.age", "n7.age", "n8.age", "n9.age", "o1.age", "o2.age",
            "o3.age", "o6.age", "o9.age",
        ];
        assert_eq!(broken, want);
        assert_eq!(usual.secrets.len(), good.len() + odd.len() - want.len());
        assert_eq!(usual.ignored["c.age"], ["f", "note", "owner"]);
    }

    /// The child gets a network namespace of its own: as root always, as anyone else where
    /// the kernel allows user namespaces.
    #[cfg(target_os = "linux")]
    #[test]
    fn evaluation_runs_without_network() {
        let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "readlink /proc/self/ns/net"]);
        without_network(&mut cmd);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let theirs = String::from_utf8_lossy(&out.stdout);
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            assert_ne!(
                theirs.trim(),
                ours.to_string_lossy(),
                "same network namespace"
            );
        }
    }
}
