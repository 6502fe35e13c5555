//! The receiver's memory budget: every byte a request in flight holds (its
//! body as it arrives, the decompressed copy, what decoding will allocate)
//! is reserved here first, so the receiver's memory stays under
//! `OtlpConfig::memory_budget_bytes` whatever the requests look like.
//!
//! A quarter of the budget is kept for small requests (at most
//! [`SMALL_REQUEST_BYTES`], which every Claude Code batch is): large ones,
//! legitimate collector batches or attacks alike, cannot take the memory
//! that engineers' own batches need. Reservations never wait: when the
//! budget is spent the request is shed with 503 + Retry-After, which OTLP
//! clients retry.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Reservations are counted in KiB (a semaphore permit each).
const UNIT: usize = 1024;

/// A request that needs at most this much stays in the small requests' share.
pub const SMALL_REQUEST_BYTES: usize = 1024 * 1024;

pub struct Budget {
    small: Arc<Semaphore>,
    large: Arc<Semaphore>,
    large_units: usize,
}

/// Not enough of the budget is free now (shed: 503), or never could be (413).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exhausted {
    Now,
    Never,
}

fn units(bytes: usize) -> usize {
    bytes.div_ceil(UNIT)
}

impl Budget {
    pub fn new(total_bytes: usize) -> Budget {
        let total = units(total_bytes).max(8);
        let small = (total / 4).max(units(SMALL_REQUEST_BYTES));
        let large = total.saturating_sub(small).max(1);
        Budget {
            small: Arc::new(Semaphore::new(small)),
            large: Arc::new(Semaphore::new(large)),
            large_units: large,
        }
    }

    /// The most one large request can ever hold.
    pub fn largest_request_bytes(&self) -> usize {
        self.large_units * UNIT
    }

    pub fn reserve(self: &Arc<Self>) -> Reservation {
        Reservation {
            budget: self.clone(),
            small: None,
            large: None,
            units: 0,
        }
    }
}

/// What one request holds; released when dropped.
pub struct Reservation {
    budget: Arc<Budget>,
    small: Option<OwnedSemaphorePermit>,
    large: Option<OwnedSemaphorePermit>,
    units: usize,
}

impl Reservation {
    /// Makes the reservation cover `total` bytes (it never shrinks).
    pub fn cover(&mut self, total: usize) -> Result<(), Exhausted> {
        let want = units(total);
        if want <= self.units {
            return Ok(());
        }
        if want <= units(SMALL_REQUEST_BYTES) && self.large.is_none() {
            let more = u32::try_from(want - self.units).map_err(|_| Exhausted::Never)?;
            let p = self
                .budget
                .small
                .clone()
                .try_acquire_many_owned(more)
                .map_err(|_| Exhausted::Now)?;
            match &mut self.small {
                Some(held) => held.merge(p),
                None => self.small = Some(p),
            }
        } else {
            if want > self.budget.large_units {
                return Err(Exhausted::Never);
            }
            // Moves to the large share: the whole amount comes from there.
            let have = self.large.as_ref().map_or(0, |p| p.num_permits());
            let more = u32::try_from(want - have).map_err(|_| Exhausted::Never)?;
            let p = self
                .budget
                .large
                .clone()
                .try_acquire_many_owned(more)
                .map_err(|_| Exhausted::Now)?;
            match &mut self.large {
                Some(held) => held.merge(p),
                None => self.large = Some(p),
            }
            self.small = None;
        }
        self.units = want;
        Ok(())
    }

    /// Holds more than a small request may.
    /// Gives back what is held beyond `total` bytes (what a request needs
    /// once its body is decoded and reduced to facts is much less than what
    /// decoding it could take).
    pub fn release_to(&mut self, total: usize) {
        let want = units(total);
        if want >= self.units {
            return;
        }
        for held in [&mut self.small, &mut self.large].into_iter().flatten() {
            let extra = held.num_permits().saturating_sub(want);
            // Dropping the split-off permits returns them to the budget.
            drop(held.split(extra));
        }
        self.units = want;
    }

    /// Bytes held now.
    pub fn held(&self) -> usize {
        self.units * UNIT
    }

    pub fn is_large(&self) -> bool {
        self.large.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reservation_gives_back_what_it_no_longer_needs() {
        // A quarter, 1 MiB, for small requests.
        let b = Arc::new(Budget::new(4 * 1024 * 1024));
        let mut first = b.reserve();
        assert_eq!(first.cover(1024 * 1024 - 4096), Ok(()));
        assert!(!first.is_large());
        let mut second = b.reserve();
        assert_eq!(second.cover(64 * 1024), Err(Exhausted::Now));
        first.release_to(8 * 1024);
        assert_eq!(second.cover(64 * 1024), Ok(()));
        // Covering again takes only what is missing.
        assert_eq!(first.cover(16 * 1024), Ok(()));
        first.release_to(usize::MAX);
        assert_eq!(first.held(), 16 * 1024);
        // And a large one gives back its share of the large pool.
        let mut big = b.reserve();
        assert_eq!(big.cover(3 * 1024 * 1024 - 64 * 1024), Ok(()));
        assert_eq!(b.reserve().cover(2 * 1024 * 1024), Err(Exhausted::Now));
        big.release_to(64 * 1024);
        assert_eq!(b.reserve().cover(2 * 1024 * 1024), Ok(()));
    }

    #[test]
    fn large_requests_cannot_take_the_small_requests_share() {
        let b = Arc::new(Budget::new(8 * 1024 * 1024));
        let mut big = b.reserve();
        assert_eq!(big.cover(6 * 1024 * 1024), Ok(()));
        assert!(big.is_large());
        let mut other_big = b.reserve();
        assert_eq!(other_big.cover(2 * 1024 * 1024), Err(Exhausted::Now));
        // The small share (2 MiB) is untouched.
        let mut small = b.reserve();
        assert_eq!(small.cover(900 * 1024), Ok(()));
        assert!(!small.is_large());
        let mut huge = b.reserve();
        assert_eq!(huge.cover(7 * 1024 * 1024), Err(Exhausted::Never));
        drop(big);
        assert_eq!(other_big.cover(2 * 1024 * 1024), Ok(()));
    }
}
