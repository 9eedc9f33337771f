//! The repository store: the encrypted files the rules name and `secrets.lock.json` next to
//! them. It is their one writer, and the one place that reads and decrypts one such file:
//! streamed in constant memory (`decrypt_file_to`, and `restage` for rekey: decrypted
//! straight into the new encryption), or whole for the values that must be
//! (`decrypt_file`, bounded by `fs::value_limit`).
//!
//! Every write is the same transaction: take the rules directory's write guard, replace the
//! ciphertext(s) atomically, record them in the lock file read again under the guard. So a
//! rekey never renames over a file an edit wrote after the rekey read it, and no run drops
//! another's lock entries. Readers (check, decrypt) need no guard: files are only ever
//! replaced by rename.

use std::io::Write;
use std::path::Path;

use crate::error::{describe_io, Error, ErrorKind, Result};
use crate::fs::{self, SecretBytes, SyncPoints};
use crate::header::stream::Opened;
use crate::keys::{Identities, Kind};
use crate::lockfile::{self, entry_for, Entry, LockFile};
use crate::rules::{Rule, Rules};

/// The mode a file we create here gets: ciphertexts and the lock file are public data,
/// committed to git. An existing file keeps its own mode.
const NEW_FILE_MODE: u32 = 0o644;

fn mode_for(path: &Path) -> u32 {
    fs::existing_mode(path).unwrap_or(NEW_FILE_MODE)
}

/// An exclusive flock on a rules directory, held while `secrets` replaces encrypted files and
/// updates the lock file there: edit/encrypt hold it for their write, rekey for its commit.
pub struct WriteGuard {
    _flock: Option<fs::DirLock>,
}

impl WriteGuard {
    /// Take the rules directory's write guard, waiting for another `secrets` run to finish its
    /// writes. Where flock does not work (some network filesystems) a warning is printed and
    /// the run goes on unprotected, as before the guard existed.
    pub fn take(rules_dir: &Path) -> WriteGuard {
        match fs::lock_dir(rules_dir) {
            Ok(l) => WriteGuard { _flock: Some(l) },
            Err(e) => {
                eprintln!(
                    "warning: cannot lock {} ({}); concurrent secrets runs in this directory are \
                     not kept apart",
                    rules_dir.display(),
                    describe_io(&e)
                );
                WriteGuard { _flock: None }
            }
        }
    }
}

/// Open an encrypted file and parse its header, reading no further. Errors have kind
/// `Unreadable` or `NotAge` (the reason only; each caller words it with the file's name).
fn open_file<'a>(raw: impl std::io::Read + Send + 'a) -> Result<Opened<'a>> {
    crate::header::stream::open(raw)
}

fn open_path(path: &Path) -> Result<std::fs::File> {
    fs::open_path(path, true)
        .map(|(f, _)| f)
        .map_err(|e| Error::of_kind(ErrorKind::Unreadable, describe_io(&e)))
}

/// Read and decrypt an encrypted file whole, in a wiped buffer, for the values that must be
/// held whole (at most `fs::value_limit()` bytes). The header is read first so that only
/// identities with a matching stanza are tried (and only those may ask for a passphrase).
/// The error's kind says why (`Unreadable`, `NotAge`, or a decryption kind); each caller
/// words it with the file's name.
pub fn decrypt_file(path: &Path, ids: &Identities) -> Result<SecretBytes> {
    crate::crypto::decrypt_whole(open_file(open_path(path)?)?, ids)
}

/// Decrypt an encrypted file into `out` in constant memory, one authenticated 64 KiB chunk
/// at a time; returns the bytes written. A file damaged or cut short past its first chunk
/// fails after `out` took the chunks before the damage: callers that must not keep a
/// prefix write into a temporary file (`fs::atomic_write_with`). Errors as `decrypt_file`'s;
/// a failed write is `write_err`'s.
pub fn decrypt_file_to(
    path: &Path,
    ids: &Identities,
    out: &mut dyn Write,
    write_err: &dyn Fn(std::io::Error) -> Error,
) -> Result<u64> {
    let mut plain = crate::crypto::decrypt_stream(open_file(open_path(path)?)?, ids)?;
    crate::crypto::copy_plain(&mut plain, out, write_err)
}

/// How a rule's file's errors read on the command line.
fn rule_error(rule: &Rule, e: Error) -> Error {
    let shown = rule.path.display();
    match e.kind() {
        ErrorKind::Unreadable => e.context(format_args!("{shown}: cannot read")),
        _ => e.context(shown),
    }
}

/// Read and decrypt a rule's file whole, worded for the command line.
pub fn decrypt_rule(rule: &Rule, ids: &Identities) -> Result<SecretBytes> {
    decrypt_file(&rule.path, ids).map_err(|e| rule_error(rule, e))
}

/// `decrypt_file_to` for a rule's file, worded for the command line (a failed write is
/// `write_err`'s, as it is).
pub fn decrypt_rule_to(
    rule: &Rule,
    ids: &Identities,
    out: &mut dyn Write,
    write_err: &dyn Fn(std::io::Error) -> Error,
) -> Result<u64> {
    let failed_write = std::cell::Cell::new(false);
    let mark = |e: std::io::Error| {
        failed_write.set(true);
        write_err(e)
    };
    decrypt_file_to(&rule.path, ids, out, &mark).map_err(|e| {
        if failed_write.get() {
            e
        } else {
            rule_error(rule, e)
        }
    })
}

/// Encrypt `plain` to the rule's recipients and replace the rule's file atomically, keeping
/// its mode, under the write guard; then record it in the lock file.
pub fn encrypt_and_replace(rules: &Rules, rule: &Rule, plain: &[u8]) -> Result<()> {
    let cipher = crate::crypto::encrypt(plain, &rule.recipients, rule.armor)
        .map_err(|e| e.context(rule.path.display()))?;
    let dir = fs::parent_dir(&rule.path);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create directory", &dir, e))?;
    let mode = mode_for(&rule.path);
    let guard = WriteGuard::take(&rules.dir);
    fs::atomic_write(&rule.path, &cipher, mode)?;
    // X25519/plugin recipients are invisible in headers; the lock records them for drift checks.
    record(&guard, rules, rule, entry_for(&cipher, &rule.recipients));
    Ok(())
}

/// `encrypt_and_replace` for plaintext that `input` yields, in constant memory: it is
/// encrypted as it is read into a temporary file next to the rule's file, which replaces the
/// file (under the write guard, so a slow `input` holds up no other run) only once all of
/// `input` was read. A failed read or write, or a signal (Ctrl-C while the value is typed),
/// leaves the file as it was and removes the temporary file. `read_err` words a read error.
/// Returns how many bytes were encrypted.
pub fn encrypt_stream_and_replace(
    rules: &Rules,
    rule: &Rule,
    input: &mut dyn std::io::Read,
    read_err: &dyn Fn(std::io::Error) -> Error,
) -> Result<u64> {
    let dir = fs::parent_dir(&rule.path);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create directory", &dir, e))?;
    let interrupted = |sig: i32| {
        Error::with_code(
            format!(
                "interrupted by signal {sig}; {} is unchanged",
                rule.path.display()
            ),
            128 + sig,
        )
    };
    // Caught only while the temporary file exists and input is awaited: a signal then stops
    // the read (EINTR), and the temporary file is removed on the way out.
    let signals = fs::CatchSignals::install_interrupting();
    let staged = fs::stage_with(&rule.path, mode_for(&rule.path), |f| {
        let write_err = |e| Error::io("cannot write a temporary file for", &rule.path, e);
        let out = fs::HashingWriter::new(std::io::BufWriter::with_capacity(STREAM_OUT, &mut *f));
        let mut w = crate::crypto::sealer(out, &rule.recipients, rule.armor)
            .map_err(|e| e.context(rule.path.display()))?;
        let mut buf = zeroize::Zeroizing::new(vec![0u8; STREAM_OUT]);
        let mut len = 0u64;
        loop {
            let sig = signals.take();
            if sig != 0 {
                return Err(interrupted(sig));
            }
            let n = match input.read(&mut buf[..]) {
                Ok(0) => break,
                Ok(n) => n,
                // The flag is looked at first thing in the next round.
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_err(e)),
            };
            w.write_all(&buf[..n]).map_err(write_err)?;
            len += n as u64;
        }
        let (mut buffered, digest) = w.finish().map_err(write_err)?.into_parts();
        buffered.flush().map_err(write_err)?;
        drop(buffered);
        f.sync_all().map_err(write_err)?;
        Ok((digest, len))
    });
    let sig = signals.take();
    // Dropping `staged` (a signal came at the very end) removes the temporary file.
    let (staged, (digest, len)) = if sig != 0 {
        return Err(interrupted(sig));
    } else {
        staged?
    };
    drop(signals);
    let guard = WriteGuard::take(&rules.dir);
    staged.put_in_place()?;
    let entry = Entry {
        ciphertext: digest,
        ..entry_for(b"", &rule.recipients)
    };
    record(&guard, rules, rule, entry);
    Ok(len)
}

/// Record one freshly written file. A failure is a warning: the secret itself is written, and
/// a missing entry only makes the file "unverified" until the next `secrets rekey`.
fn record(held: &WriteGuard, rules: &Rules, rule: &Rule, entry: Entry) {
    let res = update_lockfile(held, &rules.dir, needs_lock(rule), |lf| {
        lf.files.insert(rule.name.clone(), entry);
    });
    if let Err(e) = res {
        eprintln!(
            "warning: {} was written, but {} could not be updated: {e}",
            rule.name,
            lockfile::FILE_NAME
        );
    }
}

/// A new ciphertext for a rule's file, written next to it but not yet in place (see
/// `replace_staged`). Dropping it deletes the temporary file.
pub struct Staged {
    name: String,
    file: fs::Staged,
    entry: Entry,
    needs_lock: bool,
}

impl Staged {
    /// Stage `cipher` as the rule's next file, keeping the current file's mode. Needs no
    /// guard, so many can be staged in parallel.
    pub fn new(rule: &Rule, cipher: &[u8]) -> Result<Staged> {
        let file = fs::stage_write(&rule.path, cipher, mode_for(&rule.path))?;
        Ok(Staged {
            name: rule.name.clone(),
            file,
            entry: entry_for(cipher, &rule.recipients),
            needs_lock: needs_lock(rule),
        })
    }
}

/// Re-encrypt a rule's file to the rule's recipients (and armor) as a stream, in constant
/// memory: the file is decrypted chunk by chunk straight into the new encryption, written to
/// a temporary file next to it (keeping its mode). The plaintext never exists whole, nor on
/// disk; a file that fails to decrypt at any chunk leaves no temporary file. Returns the
/// staged file and the SHA-256 (hex) of the bytes it was made from, for `replace_staged`.
/// Needs no guard, so many can be restaged in parallel.
pub fn restage(rule: &Rule, ids: &Identities) -> Result<(Staged, String)> {
    let mut raw = fs::HashingReader::new(open_path(&rule.path)?);
    let opened = open_file(&mut raw)?;
    let mut plain = crate::crypto::decrypt_stream(opened, ids)?;
    let (file, digest) = fs::stage_with(&rule.path, mode_for(&rule.path), |f| {
        let write_err = |e| Error::io("cannot write a temporary file for", &rule.path, e);
        let out = fs::HashingWriter::new(std::io::BufWriter::with_capacity(STREAM_OUT, f));
        let mut w = crate::crypto::sealer(out, &rule.recipients, rule.armor)?;
        crate::crypto::copy_plain(&mut plain, &mut w, &write_err)?;
        let (mut buffered, digest) = w.finish().map_err(write_err)?.into_parts();
        buffered.flush().map_err(write_err)?;
        Ok(digest)
    })?;
    drop(plain);
    // The hash of every byte of the file, whatever the decryption did not need to read.
    let read = raw
        .finish()
        .map_err(|e| Error::of_kind(ErrorKind::Unreadable, describe_io(&e)))?;
    let entry = Entry {
        ciphertext: digest,
        ..entry_for(b"", &rule.recipients)
    };
    Ok((
        Staged {
            name: rule.name.clone(),
            file,
            entry,
            needs_lock: needs_lock(rule),
        },
        read,
    ))
}

/// Write buffer of a streamed ciphertext: whole chunks reach the file in one write each.
const STREAM_OUT: usize = 64 << 10;

/// One file of a batch: its staged replacement, and the SHA-256 (hex) of the bytes the file
/// held when it was read.
pub struct Replacement {
    pub staged: Staged,
    pub read: String,
}

/// Why a file of a batch was left as it is.
#[derive(Debug)]
pub enum NotReplaced {
    /// It no longer holds what was read: another program wrote it meanwhile, and wins.
    Changed,
    /// Putting it in place failed.
    Failed(Error),
}

/// What a batch does to the lock file besides recording the files it replaced.
pub struct LockfileUpdate {
    /// False when the lock file could not be read at the start: it is then left as it is
    /// (saving would silently drop the entries of every file not replaced in this run).
    pub writable: bool,
    /// Drop the entries of files without a rule (after a run over all of them).
    pub prune: bool,
}

/// Put a batch of staged files in place together, under the write guard, and only over files
/// that still hold what was read; then record the replaced ones in the lock file. Returns one
/// result per replacement, in order. An empty batch only updates the lock file.
pub fn replace_staged(
    rules: &Rules,
    batch: Vec<Replacement>,
    points: &SyncPoints,
    lockfile: LockfileUpdate,
) -> Vec<Result<(), NotReplaced>> {
    let guard = WriteGuard::take(&rules.dir);
    let mut results = Vec::with_capacity(batch.len());
    let mut staged = Vec::new();
    let mut pending = Vec::new();
    for r in batch {
        // Compared by hash, in constant memory: the file may be of any size.
        let now = fs::hash_file(&r.staged.file.target).ok();
        if now.as_deref() == Some(r.read.as_str()) {
            staged.push(r.staged.file);
            pending.push((
                results.len(),
                r.staged.name,
                r.staged.entry,
                r.staged.needs_lock,
            ));
            results.push(Ok(()));
        } else {
            // Dropping the staged file deletes it.
            results.push(Err(NotReplaced::Changed));
        }
    }
    let mut written = Vec::new();
    let mut create = false;
    for ((i, name, entry, needs), res) in pending.into_iter().zip(fs::commit_staged(staged, points))
    {
        results[i] = match res {
            Ok(()) => {
                create |= needs;
                written.push((name, entry));
                Ok(())
            }
            Err(e) => Err(NotReplaced::Failed(e)),
        };
    }
    record_batch(&guard, rules, written, create, lockfile);
    results
}

/// Record a batch's new entries; with `prune`, drop entries of files without a rule (a rule
/// that cannot be used still names its file: that entry stays). Applied to the lock file as it
/// is now, not to a copy read at the start, so entries that an edit recorded meanwhile are
/// kept.
fn record_batch(
    guard: &WriteGuard,
    rules: &Rules,
    written: Vec<(String, Entry)>,
    create: bool,
    lockfile: LockfileUpdate,
) {
    if !lockfile.writable {
        eprintln!(
            "warning: {} was left unchanged because it could not be read; fix it (or delete it \
             and run `secrets rekey --force`)",
            lockfile::path_in(&rules.dir).display()
        );
        return;
    }
    let res = update_lockfile(guard, &rules.dir, create, |l| {
        l.files.extend(written);
        if lockfile.prune {
            l.files.retain(|name, _| rules.names_file(name));
        }
    });
    if let Err(e) = res {
        eprintln!(
            "warning: {e}; the rekeyed files are written, but X25519/plugin files stay \
             \"unverified\" until the lock can be written"
        );
    }
}

/// Whether a rule's files need the lock: it has a recipient a header cannot name (X25519, a
/// plugin's). SSH stanzas carry their key's tag, so ssh-only rules are checked without it.
fn needs_lock(rule: &Rule) -> bool {
    rule.recipients
        .iter()
        .any(|r| matches!(r.kind, Kind::X25519 | Kind::Plugin(_)))
}

/// Change the lock file while holding the write guard: it is read again, changed by `change`,
/// and written back, so two `secrets` processes never drop each other's entries. An
/// unreadable lock file is an error and is left as it is. Once it exists it is kept up to
/// date for every file; it is created only when `create` (a file that needs it was written),
/// and that is said once, on stderr, since it must be committed.
fn update_lockfile(
    _held: &WriteGuard,
    rules_dir: &Path,
    create: bool,
    change: impl FnOnce(&mut LockFile),
) -> Result<()> {
    let mut lf = LockFile::load(rules_dir)?;
    change(&mut lf);
    // symlink_metadata: a dangling link is "there" (writing refuses it), not a new file.
    let exists = lf.path.symlink_metadata().is_ok();
    if !exists && (!create || lf.files.is_empty()) {
        return Ok(());
    }
    save_lockfile(&lf)?;
    if !exists {
        eprintln!(
            "created {}: commit it with the .age files; it records which X25519/plugin \
             recipients each file was encrypted to, which the files' headers cannot show \
             (`secrets check` and `secrets rekey` need it to see recipient changes)",
            lf.path.display()
        );
    }
    Ok(())
}

/// Write the lock file atomically, only when its content changes.
fn save_lockfile(lf: &LockFile) -> Result<()> {
    let text = lf.render();
    if std::fs::read(&lf.path).is_ok_and(|old| old == text.as_bytes()) {
        return Ok(());
    }
    fs::atomic_write(&lf.path, text.as_bytes(), mode_for(&lf.path))
}
