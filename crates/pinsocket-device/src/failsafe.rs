//! The failsafe's two guards besides the hub's own rules: a watchdog thread
//! that pings the clients controlling failsafe outputs and acts when one
//! goes silent, and a panic hook that puts every device's outputs in their
//! safe state when any thread panics.
//!
//! The watchdog is a thread of its own, not a task on the server's
//! runtime, so it acts even if that runtime is stuck.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, Once, Weak};
use std::time::{Duration, Instant};

use crate::backend::BackendError;
use crate::hub::Hub;
use crate::lock::lock;

/// Name of the thread the panic hook starts; a panic in it is not handled again.
const PANIC_THREAD: &str = "pinsocket-panic-safe";

/// How long a panicking thread waits for the outputs to go safe before it
/// goes on unwinding (which releases any lock it holds that is in the way).
const PANIC_WAIT: Duration = Duration::from_millis(500);

/// Starts the watchdog for `hub` and registers it with the panic hook.
pub(crate) fn watch(hub: &Arc<Hub>) -> Result<(), BackendError> {
    register(hub);
    let weak = Arc::downgrade(hub);
    let thread = std::thread::Builder::new()
        .name("pinsocket-failsafe".into())
        .spawn(move || run(&weak))
        .map_err(|e| BackendError::new(format!("cannot start the failsafe thread: {e}")))?;
    let _ = hub.watchdog.set(thread.thread().clone());
    Ok(())
}

/// Wakes the watchdog, to look at a new controller.
pub(crate) fn wake(hub: &Hub) {
    if let Some(thread) = hub.watchdog.get() {
        thread.unpark();
    }
}

/// The watchdog: rounds of [`Hub::failsafe_round`] until the device
/// is dropped, sleeping until the next is due (or indefinitely while no
/// client controls anything, until woken).
fn run(hub: &Weak<Hub>) {
    while let Some(strong) = hub.upgrade() {
        let round = panic::catch_unwind(AssertUnwindSafe(|| strong.failsafe_round(Instant::now())));
        // A panic here was handled by the hook; keep watching.
        let wait = round.unwrap_or(Some(strong.failsafe_ping));
        drop(strong);
        match wait {
            Some(wait) => std::thread::park_timeout(wait),
            None => std::thread::park(),
        }
    }
}

/// Every live device, for the panic hook.
static DEVICES: Mutex<Vec<Weak<Hub>>> = Mutex::new(Vec::new());

fn register(hub: &Arc<Hub>) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            outputs_safe_after_panic();
            previous(info);
        }));
    });
    let mut devices = lock(&DEVICES);
    devices.retain(|d| d.strong_count() > 0);
    devices.push(Arc::downgrade(hub));
}

/// A thread panicked: a bug, so no state can be trusted. Every output of
/// every device goes to its safe level and clients are told, from a thread
/// of its own: the panicking one may hold a lock that this needs, which it
/// releases as it unwinds after waiting here a moment. The list of devices
/// is not waited for: if another thread holds it at that instant (a device
/// being registered), nothing is done.
fn outputs_safe_after_panic() {
    if std::thread::current().name() == Some(PANIC_THREAD) {
        return;
    }
    let devices: Vec<Arc<Hub>> = match DEVICES.try_lock() {
        Ok(devices) => devices.iter().filter_map(Weak::upgrade).collect(),
        Err(std::sync::TryLockError::Poisoned(p)) => {
            p.into_inner().iter().filter_map(Weak::upgrade).collect()
        }
        Err(std::sync::TryLockError::WouldBlock) => return,
    };
    if devices.is_empty() {
        return;
    }
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name(PANIC_THREAD.into())
        .spawn(move || {
            for hub in devices {
                let _ = hub.all_safe("a thread panicked");
            }
            let _ = done_tx.send(());
        });
    match spawned {
        Ok(_) => {
            let _ = done_rx.recv_timeout(PANIC_WAIT);
        }
        Err(e) => eprintln!("pinsocket: cannot put the outputs in their safe state: {e}"),
    }
}
