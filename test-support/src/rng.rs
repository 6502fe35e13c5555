//! A small deterministic generator (Knuth's MMIX linear congruential
//! constants), so every run of a load test or benchmark draws the same
//! numbers and a failure can be replayed. Not a library's: the generated
//! benchmark inputs must stay byte-identical across dependency updates.

pub struct Lcg(pub u64);

impl Lcg {
    /// The next 31 random bits.
    pub fn draw(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.draw() % n.max(1)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.draw() as f64) / ((1u64 << 31) as f64)
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.draw() as usize) % (i + 1);
            items.swap(i, j);
        }
    }
}
