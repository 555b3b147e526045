//! Kapacitor's list `pattern`s (`path.Match` as far as ids use it): `*` and `?`.

/// Kapacitor's `pattern`: `*` and `?` globs.
///
/// Greedy matching that remembers only the last `*` and retries from there: at most
/// pattern × text steps, never exponential (`*a*a*a…*b` against a long id is quick).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // The position after the last `*` seen, and where in the text it started matching.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p + 1, t));
                p += 1;
            }
            Some('?') => {
                p += 1;
                t += 1;
            }
            Some(&c) if c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                // Let the last `*` swallow one more character and retry after it.
                Some((after, started)) => {
                    p = after;
                    t = started + 1;
                    star = Some((after, started + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_and_stay_linear() {
        let id = "a".repeat(200);
        // Exponential matching took over a minute on this one.
        assert!(!glob_match(&format!("{}b", "*a".repeat(13)), &id));
        assert!(glob_match("*a*a*a", &id));
        assert!(glob_match("a*?", "ab"));
        assert!(!glob_match("a*?", "a"));
        assert!(glob_match("*b*c", "abxbxc"));
        assert!(!glob_match("*b*c", "abxbx"));
    }
}
