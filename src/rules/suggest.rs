//! "Did you mean …?" for a file name with no rule: the rule names closest to it by edit
//! distance, only when close enough to be a typo (`db-pasword.age`), or the name with `.age`
//! added (`db-password`).

/// At most this many names are suggested.
const MAX: usize = 3;

/// The rule names among `names` that `wanted` is probably a typo of, closest first.
pub fn similar<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    // One edit per five characters, at least one, at most three: `db.age` vs `dc.age` is a
    // typo, `db.age` vs `web.age` is another secret.
    let limit = (wanted.chars().count() / 5).clamp(1, 3);
    let with_age = format!("{wanted}.age");
    let mut close: Vec<(usize, &str)> = names
        .filter_map(|n| {
            // A missing `.age` is no typo at all: it counts as one edit, whatever the limit.
            let d = if n == with_age {
                1
            } else {
                distance(wanted, n).min(distance(&with_age, n))
            };
            (d <= limit && n != wanted).then_some((d, n))
        })
        .collect();
    close.sort();
    close.into_iter().take(MAX).map(|(_, n)| n).collect()
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_and_a_missing_suffix_are_suggested_far_names_are_not() {
        let names = ["db-password.age", "api-token.age", "web.age", "db.age"];
        let s = |w: &str| similar(w, names.iter().copied());
        assert_eq!(s("db-pasword.age"), ["db-password.age"]);
        assert_eq!(s("db-password"), ["db-password.age"]);
        assert_eq!(s("dc.age"), ["db.age"]);
        assert!(s("web2-cert.age").is_empty());
        assert!(s("x").is_empty());
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
