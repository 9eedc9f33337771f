//! The passphrase kind: words drawn uniformly from the EFF large word list (7776 words,
//! 12.9 bits each), joined by a separator.
//!
//! The word list (`eff_large_wordlist.txt`, one word a line) is the Electronic Frontier
//! Foundation's "large" Diceware list, published under CC BY 3.0 US
//! (https://www.eff.org/dice); only the dice numbers were dropped.

use rand::rngs::OsRng;
use rand::Rng;
use zeroize::Zeroizing;

use crate::fs::SecretBytes;

const LIST: &str = include_str!("eff_large_wordlist.txt");
/// How many words the list must have: the documented entropy depends on it.
pub const WORDS: usize = 7776;

fn words() -> Vec<&'static str> {
    let w: Vec<&str> = LIST.lines().collect();
    debug_assert_eq!(w.len(), WORDS);
    w
}

pub fn make(count: usize, separator: &str) -> SecretBytes {
    let list = words();
    let longest = list.iter().map(|w| w.len()).max().unwrap_or(0);
    // Allocated once at the largest size it can reach: growing would leave unwiped copies.
    let cap = count * longest + count.saturating_sub(1) * separator.len();
    let mut out = Zeroizing::new(Vec::with_capacity(cap));
    for i in 0..count {
        if i > 0 {
            out.extend_from_slice(separator.as_bytes());
        }
        // gen_range is unbiased (rejection sampling).
        let w = list[OsRng.gen_range(0..list.len())];
        out.extend_from_slice(w.as_bytes());
    }
    debug_assert!(out.len() <= cap);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_whole_and_distinct() {
        let w = words();
        assert_eq!(w.len(), WORDS);
        let mut sorted = w.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), WORDS, "duplicate words");
        assert!(w
            .iter()
            .all(|x| !x.is_empty() && x.bytes().all(|c| c.is_ascii_lowercase() || c == b'-')));
    }

    #[test]
    fn words_and_separator() {
        let p = make(10, " ");
        let text = std::str::from_utf8(&p).unwrap();
        let parts: Vec<&str> = text.split(' ').collect();
        assert_eq!(parts.len(), 10);
        let list = words();
        assert!(parts.iter().all(|p| list.contains(p)));
    }
}
