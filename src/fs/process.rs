//! Process hardening for commands that hold plaintext or keys.

/// Keep plaintext out of core dumps and (Linux) away from ptrace by unprivileged peers.
///
/// macOS has no counterpart of PR_SET_DUMPABLE, so there only RLIMIT_CORE is set (no core
/// file); which other processes may read this one's memory is left to macOS's own rules.
/// PT_DENY_ATTACH is deliberately not used: it is an anti-debugging measure that covers
/// ptrace only, not access through the Mach task port.
pub fn harden_process() {
    // SAFETY: plain syscalls without pointers to our memory (setrlimit reads a local struct).
    unsafe {
        #[cfg(target_os = "linux")]
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        let lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &lim);
    }
}

/// Set the process umask (returns the old one).
pub fn set_umask(mask: u32) -> u32 {
    // SAFETY: umask has no preconditions.
    unsafe { libc::umask(mask as libc::mode_t) as u32 }
}
