//! Keeping plaintext from outliving a signal: while a `CatchSignals` is alive, every catchable
//! signal that would end the process only sets a flag, which the code holding plaintext polls
//! (`take`); it wipes the plaintext, then stops. Used by `edit` (the editor's file), by the
//! command generators (their dependencies' files) and by `encrypt`'s stream (its temporary
//! file).

use std::sync::atomic::{AtomicI32, Ordering};

static SIGNALED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNALED.store(sig, Ordering::SeqCst);
}

/// Every signal whose default action ends the process (signal(7): "Term" or "Core") and that
/// can be caught, so none of them can leave the plaintext behind. Caught even when inherited
/// as ignored: the Rust runtime ignores SIGPIPE for its own reasons, and any of these sent to
/// us by pid means the work is to stop. SIGKILL and SIGSTOP cannot be caught.
const TERMINATING: &[libc::c_int] = &[
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGPIPE,
    libc::SIGVTALRM,
    libc::SIGPROF,
    libc::SIGXCPU,
    libc::SIGXFSZ,
    libc::SIGSYS,
    libc::SIGABRT, // abort() in this process still ends it: glibc re-raises with the default
    #[cfg(target_os = "linux")]
    libc::SIGIO, // = SIGPOLL
    #[cfg(target_os = "linux")]
    libc::SIGPWR,
    #[cfg(target_os = "linux")]
    libc::SIGSTKFLT,
    // macOS: SIGIO and SIGINFO are ignored by default there; SIGEMT is not.
    #[cfg(target_os = "macos")]
    libc::SIGEMT,
];

/// The signals a fault in this process raises. Returning from the handler of a real fault runs
/// the faulting instruction again, so these are caught once only (SA_RESETHAND): one sent by
/// another process stops the work like the others, a real fault faults again and ends the
/// process as it always did.
const FAULTS: [libc::c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGTRAP,
];

/// All of the above, and on Linux the real-time signals, which terminate by default too
/// (those glibc keeps for itself below SIGRTMIN cannot be caught through it).
/// With `restart`, a system call a caught signal interrupts is restarted; without, it fails
/// with EINTR, so that a blocking read returns and the reader can look at the flag.
fn caught(restart: bool) -> Vec<(libc::c_int, libc::c_int)> {
    let once = libc::SA_RESTART | libc::SA_RESETHAND;
    let flags = if restart { libc::SA_RESTART } else { 0 };
    let mut v: Vec<_> = TERMINATING.iter().map(|&s| (s, flags)).collect();
    v.extend(FAULTS.iter().map(|&s| (s, once)));
    #[cfg(target_os = "linux")]
    v.extend((libc::SIGRTMIN()..=libc::SIGRTMAX()).map(|s| (s, flags)));
    v
}

/// While alive, the signals that would otherwise kill us with plaintext still present only set
/// a flag (`take`); dropping it puts back what was there before. A child started meanwhile
/// gets default dispositions at exec (caught signals are reset, and the standard library
/// resets SIGPIPE and the signal mask for its children), so it still reacts to Ctrl-C as usual.
///
/// Create it before the plaintext exists and drop it after the plaintext is gone: declare it
/// before the value that holds the plaintext, so it is dropped after it.
pub struct CatchSignals {
    previous: Vec<(libc::c_int, libc::sigaction)>,
}

impl CatchSignals {
    #[must_use = "the signals are caught only while the value is alive"]
    pub fn install() -> CatchSignals {
        Self::install_with(true)
    }

    /// `install`, but a blocking read (stdin, a pipe) that a caught signal interrupts fails
    /// with `ErrorKind::Interrupted` instead of going on waiting: for code that waits on input
    /// and must stop at Ctrl-C. Anything else it calls may then fail with EINTR too, so keep it
    /// to that wait.
    #[must_use = "the signals are caught only while the value is alive"]
    pub fn install_interrupting() -> CatchSignals {
        Self::install_with(false)
    }

    fn install_with(restart: bool) -> CatchSignals {
        // A flag left from an earlier catcher was taken by its drop; start clean regardless.
        SIGNALED.store(0, Ordering::SeqCst);
        let mut previous = Vec::new();
        for (sig, flags) in caught(restart) {
            // SAFETY: sigaction is plain old data; all-zero is a valid value for every field.
            let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
            sa.sa_sigaction = on_signal as *const () as usize;
            sa.sa_flags = flags;
            // SAFETY: the handler only stores to an atomic, which is async-signal-safe; the
            // mask and the old-action out-parameter are valid, initialised values on our stack.
            unsafe {
                libc::sigemptyset(&mut sa.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &sa, &mut old) == 0 {
                    previous.push((sig, old));
                }
            }
        }
        CatchSignals { previous }
    }

    /// The signal caught since the last call, if any (0 when none); the flag is cleared, so a
    /// signal reported as an error is not delivered again when the handlers are restored.
    pub fn take(&self) -> libc::c_int {
        SIGNALED.swap(0, Ordering::SeqCst)
    }
}

impl Drop for CatchSignals {
    fn drop(&mut self) {
        for (sig, old) in &self.previous {
            // SAFETY: restores an action that sigaction itself returned for this signal.
            unsafe { libc::sigaction(*sig, old, std::ptr::null_mut()) };
        }
        // A signal that came after the last `take` is delivered now, with the disposition it
        // would have had: the plaintext is already gone (it is dropped first) and nothing was
        // written yet, so a signal that ends the process still leaves the files unchanged
        // instead of being swallowed.
        let sig = SIGNALED.swap(0, Ordering::SeqCst);
        if sig != 0 {
            // SAFETY: raise has no preconditions; `sig` is a signal number the kernel gave us.
            unsafe { libc::raise(sig) };
        }
    }
}
