//! Ctrl-C and SIGTERM: remembered, so the study stops between two waits, shuts its guest
//! down, keeps what was measured, and exits 130 or 143.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct Interrupt {
    signal: Arc<AtomicUsize>,
}

/// The study was stopped by a signal; carried through `anyhow` to the exit code.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by signal {0}")]
pub struct Interrupted(pub i32);

impl Interrupt {
    pub fn install() -> anyhow::Result<Interrupt> {
        let interrupt = Interrupt::default();
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            let flag = Arc::clone(&interrupt.signal);
            // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
            unsafe {
                signal_hook::low_level::register(signal, move || flag.store(signal as usize, Ordering::SeqCst))?;
            }
        }
        Ok(interrupt)
    }

    /// What the signal handler does; for a test that interrupts a study.
    #[cfg(test)]
    pub fn raise(&self, signal: i32) {
        self.signal.store(signal as usize, Ordering::SeqCst);
    }

    pub fn check(&self) -> Result<(), Interrupted> {
        match self.signal.load(Ordering::SeqCst) {
            0 => Ok(()),
            signal => Err(Interrupted(signal as i32)),
        }
    }
}

/// Lets a closed stdout (`bench compare … | head`) end the process quietly, as it does
/// any Unix filter, instead of panicking in `print!`. Only once no guest socket is open:
/// a write to a dead QEMU must stay an error, not a silent death.
pub fn restore_default_sigpipe() {
    // SAFETY: resetting a signal's disposition to the default; no handler runs.
    unsafe {
        let _ = nix::sys::signal::signal(nix::sys::signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl);
    }
}
