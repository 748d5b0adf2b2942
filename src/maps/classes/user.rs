//! The `user` class: passwd lookups (user_map_open, user_map_lookup, finduser,
//! sm_pwfullname), from a passwd file instead of the system's name service.
//!
//! The key is looked up as given; if that fails and it has capitals, once more in lower
//! case (and the lower-cased key is what `-m` then returns). Not found: status 67
//! (EX_NOUSER). `-v` names the field: `name` (default), `passwd` (always `x`), `uid`,
//! `gid`, `gecos` (the full name as sendmail builds it: a leading `*` dropped, cut at the
//! first `,` `;` or `%`, `&` replaced by the login name with a capital), `dir`, `shell`.

use super::{Common, Ctx};
use crate::maps::lookup::Answer;
use crate::sysexits;

#[derive(Default)]
pub(crate) struct UserMap {
    column: usize,
}

impl UserMap {
    pub(crate) fn open(&mut self, name: &[u8], common: &Common) -> Result<(), Option<Vec<u8>>> {
        self.column = match &common.value_col {
            None => 0,
            Some(v) => {
                let l = v.to_ascii_lowercase();
                match l.as_slice() {
                    b"name" => 1,
                    b"passwd" => 2,
                    b"uid" => 3,
                    b"gid" => 4,
                    b"gecos" => 5,
                    b"dir" => 6,
                    b"shell" => 7,
                    _ => {
                        return Err(Some(
                            format!(
                                "User map {}: unknown column name {}",
                                String::from_utf8_lossy(name),
                                String::from_utf8_lossy(v)
                            )
                            .into_bytes(),
                        ));
                    }
                }
            }
        };
        Ok(())
    }

    pub(crate) fn lookup(
        &self,
        common: &Common,
        ctx: &Ctx,
        key: &[u8],
        args: &[Vec<u8>],
    ) -> Answer {
        let data = std::fs::read(&ctx.passwd).unwrap_or_default();
        let mut key = key.to_vec();
        let mut entry = getpwnam(&data, &key);
        if entry.is_none() && key.iter().any(u8::is_ascii_uppercase) {
            key.make_ascii_lowercase();
            entry = getpwnam(&data, &key);
        }
        let Some(f) = entry else {
            return Answer::status(sysexits::NOUSER);
        };
        if common.match_only {
            return Answer::found(common.rewrite(&key, None));
        }
        let number = |b: &[u8]| {
            let n: i64 = std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            (n as i32).to_string().into_bytes()
        };
        let value = match self.column {
            0 | 1 => f[0].to_vec(),
            2 => b"x".to_vec(),
            3 => number(f[2]),
            4 => number(f[3]),
            5 => fullname(f[4], f[0]),
            6 => f[5].to_vec(),
            _ => f[6].to_vec(),
        };
        Answer::found(common.rewrite(&value, Some(args)))
    }
}

/// The seven fields of the passwd line for `name`, as glibc's files backend finds it.
fn getpwnam<'a>(data: &'a [u8], name: &[u8]) -> Option<Vec<&'a [u8]>> {
    if name.is_empty() {
        return None;
    }
    data.split(|&b| b == b'\n').find_map(|line| {
        let f: Vec<&[u8]> = line.splitn(7, |&b| b == b':').collect();
        (f.len() == 7 && f[0] == name).then_some(f)
    })
}

/// sm_pwfullname.
fn fullname(gecos: &[u8], user: &[u8]) -> Vec<u8> {
    const BUFLEN: usize = 256;
    let gecos = gecos.strip_prefix(b"*").unwrap_or(gecos);
    let mut out = Vec::new();
    for &c in gecos {
        if matches!(c, b',' | b';' | b'%') {
            break;
        }
        if out.len() >= BUFLEN - 1 {
            return user.to_vec();
        }
        if c == b'&' {
            let start = out.len();
            out.extend_from_slice(user);
            if let Some(first) = out.get_mut(start) {
                *first = first.to_ascii_uppercase();
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_names() {
        assert_eq!(
            fullname(b"Alice Liddell,Room 1", b"alice"),
            b"Alice Liddell"
        );
        assert_eq!(fullname(b"&ert Builder", b"bob"), b"Bobert Builder");
        assert_eq!(fullname(b"*Dave; the rave", b"dave"), b"Dave");
    }

    #[test]
    fn passwd_lines() {
        let d = b"root:x:0:0:root:/root:/bin/sh\nbob:*:1002:100:&:/home/bob:/bin/zsh\n";
        assert_eq!(getpwnam(d, b"bob").unwrap()[5], b"/home/bob");
        assert!(getpwnam(d, b"Bob").is_none());
        assert!(getpwnam(d, b"").is_none());
    }
}
