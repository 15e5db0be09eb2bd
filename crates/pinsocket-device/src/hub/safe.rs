//! Outputs to their safe level: for the failsafe, at exit, and when the
//! device goes away; and [`SafeError`], the outputs the hardware refused.

use std::sync::{MutexGuard, PoisonError};

use pinsocket_core::{Mode, Pin};

use super::apply::drive;
use super::{Hub, HubState};
use crate::backend::BackendError;
use crate::lock::lock;

/// Outputs the hardware did not drive to their safe level; each is logged
/// as it happens, and every other output was still tried.
#[derive(Debug, thiserror::Error)]
#[error("{} output(s) not driven to their safe level: {}", failures.len(), list(failures))]
pub struct SafeError {
    /// One error per output that failed, naming it.
    pub failures: Vec<BackendError>,
}

/// The failures, `; `-separated.
fn list(failures: &[BackendError]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Hub {
    /// Drives the outputs `pins` to their safe level, trying every one, and
    /// leaves them without a controller; publishes the change and returns
    /// the failures, each logged. Called with the lock held since the
    /// decision to act: no command can come between the decision and the
    /// action.
    pub(super) fn drive_safe(
        &self,
        mut state: MutexGuard<'_, HubState>,
        pins: &[usize],
        why: &str,
    ) -> Result<(), SafeError> {
        let mut failures = Vec::new();
        let mut changed = 0;
        for &i in pins {
            let (Some(pin), Some(current)) = (self.pins.get(i), state.levels.get(i).copied())
            else {
                continue;
            };
            let Mode::Output(output) = pin.mode else {
                continue;
            };
            if let Some(id) = state.controlled_by.get_mut(i) {
                *id = None;
            }
            if current == output.safe {
                continue;
            }
            match drive(&mut state, i, pin.physical(output.safe)) {
                Ok(()) => {
                    if let Some(level) = state.levels.get_mut(i) {
                        *level = output.safe;
                    }
                    changed += 1;
                }
                Err(e) => {
                    tracing::error!("failsafe ({why}): cannot drive {} safe: {e}", pin.name());
                    failures.push(BackendError::new(format!("{}: {e}", pin.name())));
                }
            }
        }
        if changed > 0 {
            tracing::warn!("failsafe ({why}): {changed} output(s) to their safe level");
            self.publish(state, None);
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(SafeError { failures })
        }
    }

    /// Every output to its safe level, including those already there (the
    /// hardware is driven again, in case it disagrees; a failure there is
    /// only logged), and every client told of what changed.
    pub(crate) fn all_safe(&self, why: &str) -> Result<(), SafeError> {
        let mut state = lock(&self.state);
        let outputs: Vec<usize> = (0..self.pins.len())
            .filter(|&i| self.pins.get(i).is_some_and(Pin::is_output))
            .collect();
        // Already safe by the state: drive them anyway, quietly.
        for &i in &outputs {
            let (Some(pin), Some(current)) = (self.pins.get(i), state.levels.get(i).copied())
            else {
                continue;
            };
            if let Mode::Output(o) = pin.mode
                && current == o.safe
                && let Err(e) = drive(&mut state, i, pin.physical(o.safe))
            {
                tracing::error!("{why}: cannot drive {} safe: {e}", pin.name());
            }
        }
        self.drive_safe(state, &outputs, why)
    }
}

impl Drop for Hub {
    /// The device is going away: its outputs go safe before the backend
    /// lets go of the lines.
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        let Some(backend) = state.backend.as_mut() else {
            return;
        };
        for (i, pin) in self.pins.iter().enumerate() {
            if let Mode::Output(o) = pin.mode
                && let Err(e) = backend.set_output(i, pin.physical(o.safe))
            {
                tracing::error!("device closing: cannot drive {} safe: {e}", pin.name());
            }
        }
        if let Some(watchdog) = self.watchdog.get() {
            watchdog.unpark();
        }
    }
}
