//! Directory modes, named once: which mode a directory gets says who may reach what is in it.

/// Nobody but the owner: the editor's private directory; the installer's generations while
/// they are written and once retired; every directory of a user-mode install.
pub const DIR_PRIVATE: u32 = 0o700;

/// The installer's directories secrets are read through (the mount point, a sealed
/// generation, directories inside one): root and the `keys` group list them; anybody else
/// may only pass through to a file whose name they know, which its own mode then guards.
pub const DIR_SHARED: u32 = 0o751;

/// A directory made on the way to one of the above or to a destination, like any system
/// directory.
pub const DIR_PARENT: u32 = 0o755;
