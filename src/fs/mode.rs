//! Directory modes that every command shares, named once: which mode a directory gets says
//! who may reach what is in it. The installer's own policy (shared generations, parents of
//! stable paths) is in `install::modes`.

/// Nobody but the owner: the editor's private directory; the installer's generations while
/// they are written and once retired; every directory of a user-mode install.
pub const DIR_PRIVATE: u32 = 0o700;
