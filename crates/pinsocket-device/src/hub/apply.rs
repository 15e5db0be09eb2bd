//! Changes to the hardware and the state: a command's outputs all or
//! nothing, put back if the hardware refuses one; input edges as the
//! backend reports them.

use pinsocket_core::{Change, Level};

use super::fanout::event_message;
use super::{Hub, HubState};
use crate::backend::BackendError;
use crate::lock::lock;

/// Which pin a hardware failure was about, and whether putting the
/// others back failed too.
pub(super) struct ApplyFailure {
    pub(super) pin: usize,
    pub(super) rollback_failed: bool,
}

impl Hub {
    /// Applies changes to the hardware and the state, all or nothing:
    /// if the hardware refuses one, those already made are put back.
    /// Returns whether anything changed.
    pub(super) fn apply(
        &self,
        state: &mut HubState,
        changes: &[Change],
    ) -> Result<bool, ApplyFailure> {
        let mut done: Vec<(usize, Level)> = Vec::new();
        for change in changes {
            let (Some(pin), Some(current)) = (
                self.pins.get(change.pin),
                state.levels.get(change.pin).copied(),
            ) else {
                continue;
            };
            if current == change.level {
                continue;
            }
            if let Err(e) = drive(state, change.pin, pin.physical(change.level)) {
                tracing::error!("cannot set output {}: {e}", pin.name());
                let rollback_failed = self.undo(state, &done);
                return Err(ApplyFailure {
                    pin: change.pin,
                    rollback_failed,
                });
            }
            done.push((change.pin, current));
            if let Some(level) = state.levels.get_mut(change.pin) {
                *level = change.level;
            }
            tracing::debug!("output {} -> {}", pin.name(), change.level.as_str());
        }
        Ok(!done.is_empty())
    }

    /// Puts back the outputs a failed command already switched, latest
    /// first. Returns true if one of them could not be put back (its level
    /// in the state is then what the hardware holds).
    fn undo(&self, state: &mut HubState, done: &[(usize, Level)]) -> bool {
        let mut failed = false;
        for &(i, before) in done.iter().rev() {
            let Some(pin) = self.pins.get(i) else {
                continue;
            };
            match drive(state, i, pin.physical(before)) {
                Ok(()) => {
                    if let Some(level) = state.levels.get_mut(i) {
                        *level = before;
                    }
                }
                Err(e) => {
                    tracing::error!("cannot put output {} back: {e}", pin.name());
                    failed = true;
                }
            }
        }
        failed
    }

    /// An input edge from the backend: input `pin` now reads `physical`.
    /// Outputs, and levels the state already has, are ignored.
    pub(crate) fn input_changed(&self, pin: usize, physical: Level) {
        let Some(p) = self.pins.get(pin).filter(|p| !p.is_output()) else {
            return;
        };
        let level = p.physical(physical);
        let mut state = lock(&self.state);
        let Some(slot) = state.levels.get_mut(pin) else {
            return;
        };
        if *slot == level {
            return;
        }
        *slot = level;
        self.inputs_log.changed(pin, level);
        self.publish(state, Some(vec![event_message(p.name(), level)]));
    }
}

/// Drives pin `i` through the backend (`physical` level).
pub(super) fn drive(state: &mut HubState, i: usize, physical: Level) -> Result<(), BackendError> {
    match state.backend.as_mut() {
        Some(backend) => backend.set_output(i, physical),
        None => Err(BackendError::new("no backend")),
    }
}
