//! `f64` arithmetic on an `AtomicU64` holding the bit pattern.

use std::sync::atomic::{AtomicU64, Ordering};

/// Adds `delta` with a compare-and-swap loop; lock-free, never blocks.
#[inline]
pub(crate) fn add(bits: &AtomicU64, delta: f64) {
    let mut current = bits.load(Ordering::Relaxed);
    loop {
        let next = (f64::from_bits(current) + delta).to_bits();
        match bits.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => current = actual,
        }
    }
}
