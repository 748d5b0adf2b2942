//! A unified diff of two texts, for `cfmap migrate --dry-run`. The changes a migration
//! makes are few and line-local (a K line rewritten, a define line added), so lines are
//! matched greedily: at a difference, the nearest point where both texts agree again is
//! taken. Not a minimal diff in general; a correct one always (applying it gives `new`).

fn lines(t: &[u8]) -> Vec<&[u8]> {
    t.split_inclusive(|&b| b == b'\n').collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Same,
    Del,
    Add,
}

/// The edit script: (op, index in old or new).
fn script(a: &[&[u8]], b: &[&[u8]]) -> Vec<(Op, usize)> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push((Op::Same, i));
            i += 1;
            j += 1;
            continue;
        }
        // The smallest k = da + db at which a[i+da] == b[j+db].
        let mut found = None;
        'search: for k in 1..=(a.len() - i + b.len() - j) {
            for da in 0..=k {
                let db = k - da;
                if i + da < a.len() && j + db < b.len() && a[i + da] == b[j + db] {
                    found = Some((da, db));
                    break 'search;
                }
            }
        }
        let (da, db) = found.unwrap_or((a.len() - i, b.len() - j));
        for x in 0..da {
            out.push((Op::Del, i + x));
        }
        for y in 0..db {
            out.push((Op::Add, j + y));
        }
        i += da;
        j += db;
    }
    out
}

/// `--- old_name` / `+++ new_name` and hunks with three lines of context; empty when
/// the texts are equal.
pub fn unified(old_name: &str, new_name: &str, old: &[u8], new: &[u8]) -> Vec<u8> {
    let (a, b) = (lines(old), lines(new));
    let s = script(&a, &b);
    let changed: Vec<usize> = (0..s.len()).filter(|&k| s[k].0 != Op::Same).collect();
    if changed.is_empty() {
        return Vec::new();
    }
    let mut out = format!("--- {old_name}\n+++ {new_name}\n").into_bytes();
    // Group changes whose context overlaps.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for &k in &changed {
        let lo = k.saturating_sub(3);
        let hi = (k + 4).min(s.len());
        match groups.last_mut() {
            Some(g) if lo <= g.1 => g.1 = hi,
            _ => groups.push((lo, hi)),
        }
    }
    // Line numbers of old and new at each script position.
    let mut pos = Vec::with_capacity(s.len() + 1);
    let (mut oi, mut nj) = (0, 0);
    for &(op, _) in &s {
        pos.push((oi, nj));
        match op {
            Op::Same => {
                oi += 1;
                nj += 1;
            }
            Op::Del => oi += 1,
            Op::Add => nj += 1,
        }
    }
    pos.push((oi, nj));
    for (lo, hi) in groups {
        let ocount = s[lo..hi].iter().filter(|x| x.0 != Op::Add).count();
        let ncount = s[lo..hi].iter().filter(|x| x.0 != Op::Del).count();
        let (o0, n0) = pos[lo];
        let start = |at: usize, n: usize| if n == 0 { at } else { at + 1 };
        out.extend_from_slice(
            format!(
                "@@ -{},{ocount} +{},{ncount} @@\n",
                start(o0, ocount),
                start(n0, ncount)
            )
            .as_bytes(),
        );
        for &(op, idx) in &s[lo..hi] {
            let (mark, line) = match op {
                Op::Same => (b' ', a[idx]),
                Op::Del => (b'-', a[idx]),
                Op::Add => (b'+', b[idx]),
            };
            out.push(mark);
            out.extend_from_slice(line);
            if !line.ends_with(b"\n") {
                out.extend_from_slice(b"\n\\ No newline at end of file\n");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_changed_line_and_one_added() {
        let old = b"a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n";
        let new = b"a\nb\nC\nd\ne\nf\ng\nh\ni\nj\nnew\nk\n";
        let d = String::from_utf8(unified("x", "y", old, new)).unwrap();
        assert_eq!(
            d,
            "--- x\n+++ y\n@@ -1,6 +1,6 @@\n a\n b\n-c\n+C\n d\n e\n f\n@@ -8,4 +8,5 @@\n h\n i\n j\n+new\n k\n"
        );
        assert!(unified("x", "y", old, old).is_empty());
    }
}
