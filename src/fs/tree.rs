//! The one walk over a directory tree by name: regular files below a directory, as paths
//! relative to it. Symlinks are never followed (a Nix `result` link in a repository, a link
//! somebody left in a generation), so the walk stays inside the tree it was given.

use std::path::Path;

/// Regular files below `dir` (relative, `/`-separated, sorted), descending only into the
/// directories `descend` accepts by name. Names that are not UTF-8 are shown lossily.
pub fn regular_files(dir: &Path, descend: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((d, prefix)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = format!("{prefix}{name}");
            if ft.is_dir() && descend(&name) {
                stack.push((e.path(), format!("{rel}/")));
            } else if ft.is_file() {
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn walks_files_not_links_and_only_accepted_directories() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir_all(p.join("a/b")).unwrap();
        std::fs::create_dir_all(p.join(".git")).unwrap();
        std::fs::write(p.join("top"), "").unwrap();
        std::fs::write(p.join("a/b/deep"), "").unwrap();
        std::fs::write(p.join(".git/config"), "").unwrap();
        std::os::unix::fs::symlink(p.join("a"), p.join("link")).unwrap();
        let all = super::regular_files(p, |_| true);
        assert_eq!(all, [".git/config", "a/b/deep", "top"]);
        let visible = super::regular_files(p, |n| !n.starts_with('.'));
        assert_eq!(visible, ["a/b/deep", "top"]);
    }
}
