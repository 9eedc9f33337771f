//! One parallel map for the whole crate: decrypting secrets (CPU), fsyncing and renaming many
//! files (waiting on the disk), assessing files for rekey/check.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Cores available to this process (at least 1).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Map `f` over `items` on up to `threads` threads (0 = one per core), results in input
/// order. Work is handed out one item at a time, so a slow item does not hold up a chunk. A
/// panic in `f` is resumed in the caller.
pub fn par_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let n = if threads == 0 { cores() } else { threads }.clamp(1, items.len().max(1));
    if n == 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut parts: Vec<(usize, R)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        out.push((i, f(item)));
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    parts.sort_by_key(|(i, _)| *i);
    parts.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Mutex;

    #[test]
    fn keeps_order_and_uses_threads() {
        let items: Vec<u32> = (0..200).collect();
        for threads in [0, 1, 3, 16, 500] {
            let seen = Mutex::new(HashSet::new());
            let out = par_map(&items, threads, |&i| {
                seen.lock().unwrap().insert(std::thread::current().id());
                // Later items finish first, so order comes from the indices, not timing.
                std::thread::sleep(std::time::Duration::from_micros(u64::from(200 - i)));
                i * 2
            });
            assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
            let used = seen.lock().unwrap().len();
            if threads == 1 {
                assert_eq!(used, 1);
            }
            if threads >= 3 {
                assert!(used > 1, "{threads} threads asked, {used} used");
            }
        }
        assert!(par_map(&[] as &[u32], 4, |&i| i).is_empty());
    }

    #[test]
    #[should_panic(expected = "boom")]
    fn panics_reach_the_caller() {
        par_map(&[1, 2, 3, 4], 2, |&i| {
            if i == 3 {
                panic!("boom");
            }
            i
        });
    }
}
