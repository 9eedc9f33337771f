//! The installer's permission policy in one place: what a secret gets when the manifest says
//! nothing, which bits are compared, and the two directory modes (root-only while being
//! written or once retired; root:keys 0751 where owners must reach their files by name), and
//! the interim mode of a file waiting for its owner.

/// A secret's mode when the manifest gives none (agenix's default).
pub const DEFAULT_FILE_MODE: &str = "0400";

/// Permission bits we set and compare (set-id and sticky bits are rejected in manifests).
pub const MODE_BITS: u32 = 0o777;

/// A file's mode while it is root's and waits for its owner (`--defer-owners`), and when its
/// owner cannot be had: its owner bits only, so it is never more permissive than its final
/// mode and nobody but root can read it.
pub fn interim_mode(mode: u32) -> u32 {
    mode & 0o700
}

/// The per-generation state file: root's (the user's in user mode), read-only.
pub const STATE_FILE_MODE: u32 = 0o400;

/// Nobody but the owner (root; the user in user mode): a generation while it is written and
/// once retired, the mount point of a user's installer.
pub const PRIVATE_DIR: u32 = crate::fs::DIR_PRIVATE;

/// The mount point and a switched generation: root:keys, listable by the keys group and
/// passable by everybody, so an owner reaches their own file by name and nothing else.
pub const SHARED_DIR: u32 = 0o751;

/// Directories inside a generation (`nginx/` of `nginx/cert`, `rendered/`): passable like
/// the generation itself; a user's installer has nobody to let through.
pub fn subdir_mode(user_mode: bool) -> u32 {
    if user_mode {
        PRIVATE_DIR
    } else {
        SHARED_DIR
    }
}

/// Missing directories on the way to a stable path: an ordinary system directory.
pub const PARENT_DIR: u32 = 0o755;
