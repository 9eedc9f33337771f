//! README's "### NixOS options" section lists exactly the options the NixOS module declares
//! (issue 16): every visible `age.*` option, every `age.secrets.<name>` and
//! `age.templates.<name>` sub-option, and no other; where the README gives a plain default
//! (one Nix literal) it is the declared default, and its type column agrees with the
//! declared type. So the reference and the declarations cannot drift apart.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::{available, eval_case, repo};

/// The section's text: from its heading to the next heading of the same or a higher level.
fn section() -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("read README.md");
    let start = readme
        .find("\n### NixOS options\n")
        .expect("README has a \"### NixOS options\" section");
    let rest = &readme[start + 1..];
    let end = rest[4..]
        .find("\n### ")
        .into_iter()
        .chain(rest[4..].find("\n## "))
        .min()
        .map_or(rest.len(), |e| e + 4);
    rest[..end].to_string()
}

/// Rows of the table that follows `after` (a line of the section): name -> (type, default).
fn table(text: &str, after: &str) -> BTreeMap<String, (String, String)> {
    let from = text
        .find(after)
        .unwrap_or_else(|| panic!("{after:?} not in the section"));
    let mut rows = BTreeMap::new();
    for line in text[from..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
    {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        let name = cells[0]
            .split('`')
            .nth(1)
            .unwrap_or_else(|| panic!("no `option` in {line:?}"));
        rows.insert(
            name.to_string(),
            (cells[1].to_string(), cells[2].to_string()),
        );
    }
    rows
}

/// The README's type words agree with the declared type's description.
fn type_agrees(readme: &str, declared: &str) -> bool {
    let r = readme.trim();
    if r.starts_with('`') {
        // An enum: each `"value"` listed is one of the declared values.
        return declared.starts_with("one of")
            && r.split('`')
                .skip(1)
                .step_by(2)
                .all(|v| declared.contains(v));
    }
    let head = r.split(" (").next().unwrap_or(r).replace(", read-only", "");
    match head.as_str() {
        "bool" => declared == "boolean",
        "string" => declared.starts_with("string") || declared.starts_with("strings"),
        "path" => declared.ends_with("path"),
        "package" => declared == "package",
        "positive int" => declared.starts_with("positive integer"),
        "lines" => declared.starts_with("strings concatenated with"),
        "mode" => declared.starts_with("file mode as chmod takes it"),
        "user or group" => declared.starts_with("user or group name"),
        "list of unit names" => declared.starts_with("list of systemd unit name"),
        "list of path" => declared == "list of absolute path",
        "list of string" => declared == "list of string",
        "list of package" => declared == "list of package",
        "attrs of submodule" => declared.starts_with("attribute set of"),
        "attrs of string" => declared == "attribute set of string",
        other => panic!("README type {other:?} has no rule here; add one"),
    }
}

fn check(what: &str, rows: &BTreeMap<String, (String, String)>, declared: &Json, prefix: &str) {
    let declared = declared.as_object().expect("declared options");
    let names: Vec<String> = declared.keys().map(|k| format!("{prefix}{k}")).collect();
    let listed: Vec<String> = rows.keys().cloned().collect();
    assert_eq!(listed, names, "{what}: README rows vs declared options");
    for (k, d) in declared {
        let (ty, default) = &rows[&format!("{prefix}{k}")];
        let dty = d["type"].as_str().unwrap();
        assert!(
            type_agrees(ty, dty),
            "{what} {prefix}{k}: README type {ty:?}, declared {dty:?}"
        );
        // A plain default in the README (one literal) must be the declared one.
        let plain = default.len() > 2
            && default.starts_with('`')
            && default.ends_with('`')
            && default.matches('`').count() == 2;
        if let (true, Some(d)) = (plain, d["default"].as_str()) {
            assert_eq!(
                &default[1..default.len() - 1],
                d,
                "{what} {prefix}{k}: README default"
            );
        }
    }
}

#[test]
fn readme_options_reference_matches_the_declarations() {
    need_nix!();
    let declared = &eval_case("nosecrets")["declared"];
    let text = section();
    let top = table(&text, "| option | type | default | description |");
    check("age.*", &top, &declared["top"], "age.");
    check(
        "age.secrets.<name>",
        &table(&text, "`age.secrets.<name>`:"),
        &declared["secret"],
        "",
    );
    check(
        "age.templates.<name>",
        &table(&text, "`age.templates.<name>`:"),
        &declared["template"],
        "",
    );
}
