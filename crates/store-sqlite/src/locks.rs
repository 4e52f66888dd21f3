//! Taking the store's in-process locks (below `connection` and
//! `checkpoint`, which both take them).

use std::sync::{Mutex, MutexGuard};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a rusqlite connection in
    // a state worse than the error it returned; keep using it.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
