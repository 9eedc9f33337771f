//! What the installer says: log lines on stderr as it goes (names and fingerprints, never
//! values), and the `--json` summary on stdout at the end.

use serde::Serialize;

/// The JSON summary (schema documented in README: "install --json").
#[derive(Serialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Schema version of this summary.
    pub version: u32,
    pub ok: bool,
    pub dry_run: bool,
    pub mount: Option<String>,
    pub identities: Vec<String>,
    pub phases: Vec<PhaseSummary>,
    pub items: Vec<ItemSummary>,
    pub restart: Vec<String>,
    pub reload: Vec<String>,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct PhaseSummary {
    pub phase: &'static str,
    pub generation: Option<u64>,
    pub previous: Option<u64>,
    pub path: Option<String>,
    pub switched: bool,
    pub aborted: bool,
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ItemSummary {
    /// "secret" or "template".
    pub kind: &'static str,
    pub name: String,
    pub phase: &'static str,
    /// "installed", "carried-over", "failed", "removed".
    pub status: &'static str,
    /// "added", "modified", "unchanged", "removed", or null when not installed.
    pub change: Option<&'static str>,
    /// What differs for "modified": any of "content", "mode", "owner", "group".
    pub changed: Vec<&'static str>,
    pub path: String,
    pub error: Option<String>,
}

pub struct Report {
    pub summary: Summary,
}

impl Report {
    pub fn new(dry_run: bool) -> Report {
        Report {
            summary: Summary {
                version: 1,
                dry_run,
                ..Default::default()
            },
        }
    }

    pub fn info(&mut self, msg: impl AsRef<str>) {
        eprintln!("{}", msg.as_ref());
    }

    pub fn warn(&mut self, msg: impl Into<String>) {
        let m = msg.into();
        eprintln!("warning: {m}");
        self.summary.warnings.push(m);
    }

    pub fn error(&mut self, msg: impl Into<String>) {
        let m = msg.into();
        eprintln!("error: {m}");
        self.summary.errors.push(m);
    }

    pub fn failed(&self) -> bool {
        !self.summary.errors.is_empty()
    }
}
