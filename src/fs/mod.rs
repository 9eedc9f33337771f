//! What every command needs from the filesystem, one concern per module: `secret` (wiped
//! buffers and reads into them), `read` (bounded, non-blocking reads of files somebody else may
//! have put in place), `write` (atomic, durable replacement of one file; the repository lock),
//! `batch` (many files replaced at once), `ram` (RAM-backed filesystems, where plaintext may
//! go), `privdir` (the editor's private directory), `signals` (no plaintext left behind by a
//! signal), `process` (hardening), `tree` (the one walk
//! over a directory tree), `mode` (directory modes) and `at` (the descriptor-relative system calls the installer's `SafeDir` shares).

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
compile_error!("secrets supports Linux and macOS only");

pub(crate) mod at;
mod batch;
mod hashing;
mod mode;
mod privdir;
mod process;
mod ram;
mod read;
mod secret;
mod signals;
mod tree;
mod write;

pub use batch::{commit_staged, stage_with, stage_write, Staged, SyncPoints};
pub use hashing::{hash_file, hex, HashingReader, HashingWriter};
pub use mode::DIR_PRIVATE;
pub use privdir::PrivateDir;
pub use process::{harden_process, set_umask};
#[cfg(target_os = "macos")]
pub use ram::{fs_info, FsInfo};
#[cfg(target_os = "linux")]
pub use ram::{fs_type, RAMFS_MAGIC};
pub use ram::{is_ram_backed, secure_tmp_base};
pub use read::{
    open_path, open_regular, read_bounded, read_path, read_regular, read_regular_text,
    read_secret_nofollow, value_limit, value_limit_error, MAX_KEY_FILE, VALUE_LIMIT_VAR,
};
pub use secret::{copy_wiped, read_all_wiped, read_at_most, SecretBytes};
pub use signals::CatchSignals;
pub use tree::regular_files;
pub use write::{atomic_write, atomic_write_with, existing_mode, lock_dir, parent_dir, DirLock};
