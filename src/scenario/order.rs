//! The order in which a study boots its variants: rounds are blocks that boot every
//! variant once, so drift of the host (heat, other jobs, frequency) falls on every
//! variant alike instead of on whichever ran last (../shared/REFERENCE.md, "Noise, order
//! and many hosts": randomized multiple interleaved trials, Abedi & Brecht 2017).
//!
//! - `alternate`: A B, B A, A B, ... — cancels a linear drift between two variants.
//! - `random`: each block is shuffled with a seeded PRNG — also cancels drift that has a
//!   period of its own (a cron job every other boot). The seed is recorded in the plan and
//!   meta.json, so the same seed gives the same boots again.
//!
//! The PRNG is SplitMix64, written here: the sequence for a seed must never change with a
//! crate's version, or a recorded seed would no longer reproduce its study.

// Building blocks of issue 11 (names for meta.json, the boot column): wired by the runner next.
#![allow(dead_code)]

use serde::Deserialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderChoice {
    Alternate,
    #[default]
    Random,
}

impl OrderChoice {
    /// As the scenario spells it.
    pub fn name(self) -> &'static str {
        match self {
            OrderChoice::Alternate => "alternate",
            OrderChoice::Random => "random",
        }
    }
}

/// How a study orders its boots, as planned and recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootOrder {
    pub choice: OrderChoice,
    /// Used by `random`; recorded for `alternate` too, where it changes nothing.
    pub seed: u64,
    /// The scenario gave no seed: it was taken from the clock. A resumed study must reuse
    /// the seed recorded in meta.json, or its remaining boots would follow another order.
    pub seed_from_clock: bool,
}

impl BootOrder {
    /// The variant indices (0-based, into `Plan::variants`) in the order round `round`
    /// (0-based) boots them.
    pub fn round(&self, variants: usize, round: u32) -> Vec<usize> {
        block(variants, round, self.choice, self.seed)
    }

    /// Every round's block, in boot order.
    pub fn sequence(&self, variants: usize, rounds: u32) -> Vec<Vec<usize>> {
        (0..rounds).map(|round| self.round(variants, round)).collect()
    }
}

/// The study-wide boot number (1-based) of the `position`-th boot (0-based) of round
/// `round`, counting planned boots only (a retried boot keeps its planned number): the
/// value for a `boot` column of runs.csv, which says in which order rows were measured.
pub fn planned_boot(variants: usize, round: u32, position: usize) -> u32 {
    round * variants as u32 + position as u32 + 1
}

/// A seed from the clock, for a scenario without `seed`. Kept below 2^63 because TOML
/// integers are signed: the recorded seed can be copied back into the scenario.
pub fn seed_from_clock() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    SplitMix64::new(nanos ^ u64::from(std::process::id())).next_u64() >> 1
}

/// One round's block: every variant once.
fn block(variants: usize, round: u32, choice: OrderChoice, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..variants).collect();
    match choice {
        OrderChoice::Alternate => {
            if round % 2 == 1 {
                order.reverse();
            }
        }
        OrderChoice::Random => {
            // Each round's own stream, so round r's block does not depend on how many
            // rounds come before it (a resumed study computes only the rounds it needs).
            let mut rng = SplitMix64::new(seed ^ SplitMix64::new(u64::from(round)).next_u64());
            shuffle(&mut order, &mut rng);
        }
    }
    order
}

/// Fisher–Yates, drawing each index without modulo bias.
fn shuffle<T>(items: &mut [T], rng: &mut SplitMix64) {
    for i in (1..items.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

/// SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators",
/// OOPSLA 2014; the constants of Vigna's reference C code): a 64-bit state advanced by a
/// fixed odd constant, output through a bijective mixer. Small, fast and well spread,
/// and fully defined here.
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (bound > 0), by rejecting the top partial range.
    pub fn below(&mut self, bound: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % bound;
        loop {
            let value = self.next_u64();
            if value < zone {
                return value % bound;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(seed: u64) -> BootOrder {
        BootOrder { choice: OrderChoice::Random, seed, seed_from_clock: false }
    }

    #[test]
    fn splitmix64_matches_the_reference_output() {
        // Vigna's splitmix64.c with x = 1234567: the first outputs.
        let mut rng = SplitMix64::new(1234567);
        assert_eq!(rng.next_u64(), 6457827717110365317);
        assert_eq!(rng.next_u64(), 3203168211198807973);
        assert_eq!(rng.next_u64(), 9817491932198370423);
    }

    #[test]
    fn the_same_seed_gives_the_same_boots() {
        assert_eq!(random(42).sequence(5, 8), random(42).sequence(5, 8));
        // A round's block does not depend on the rounds planned around it.
        assert_eq!(random(42).round(5, 6), random(42).sequence(5, 8)[6]);
    }

    #[test]
    fn different_seeds_give_different_orders() {
        assert_ne!(random(1).sequence(4, 6), random(2).sequence(4, 6));
        // Over many seeds, each of A and B comes first in every round about half the time.
        for round in 0..4 {
            let a_first = (0..1000).filter(|&seed| random(seed).round(2, round)[0] == 0).count();
            assert!((400..=600).contains(&a_first), "round {round}: A first for {a_first} of 1000 seeds");
        }
        // And each of three variants lands in each position.
        for position in 0..3 {
            for variant in 0..3 {
                let seen = (0..600).filter(|&seed| random(seed).round(3, 0)[position] == variant).count();
                assert!((130..=270).contains(&seen), "variant {variant} at {position}: {seen} of 600");
            }
        }
    }

    #[test]
    fn every_block_boots_every_variant_once() {
        for seed in 0..50 {
            for block in random(seed).sequence(4, 7) {
                let mut sorted = block.clone();
                sorted.sort();
                assert_eq!(sorted, [0, 1, 2, 3], "seed {seed}: {block:?}");
            }
        }
    }

    #[test]
    fn alternate_reverses_every_other_round() {
        let order = BootOrder { choice: OrderChoice::Alternate, seed: 7, seed_from_clock: false };
        assert_eq!(order.sequence(3, 3), [vec![0, 1, 2], vec![2, 1, 0], vec![0, 1, 2]]);
    }

    #[test]
    fn planned_boots_count_through_the_rounds() {
        assert_eq!(planned_boot(2, 0, 0), 1);
        assert_eq!(planned_boot(2, 0, 1), 2);
        assert_eq!(planned_boot(2, 2, 1), 6);
    }

    #[test]
    fn clock_seeds_fit_a_toml_integer() {
        assert!(seed_from_clock() <= i64::MAX as u64);
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = SplitMix64::new(9);
        assert!((0..10_000).all(|_| rng.below(3) < 3));
    }
}
