//! Where a reader's pages come from: a byte buffer, or the file itself, one page read on
//! first use. A lookup in a large map touches a handful of pages; reading the whole file
//! on open made a single lookup in a 1,000,000-pair map cost 30 ms.

use std::cell::OnceCell;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The first bytes of the file, enough for every meta page field the readers parse.
pub const HEAD: usize = 512;

#[derive(Debug)]
enum Inner {
    Memory(Vec<u8>),
    Disk {
        file: File,
        len: u64,
        head: Vec<u8>,
        page_size: usize,
        /// One cell per whole page of the file, filled on first read.
        pages: Vec<OnceCell<Box<[u8]>>>,
    },
}

/// The pages of one database file.
#[derive(Debug)]
pub struct Store {
    inner: Inner,
}

impl Store {
    /// Open `path`; only its first [`HEAD`] bytes are read now.
    pub fn open(path: &Path) -> std::io::Result<Store> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        let mut head = vec![0u8; HEAD.min(len as usize)];
        file.read_exact_at(&mut head, 0)?;
        Ok(Store {
            inner: Inner::Disk {
                file,
                len,
                head,
                page_size: 0,
                pages: Vec::new(),
            },
        })
    }

    /// Pages from a buffer holding the whole file.
    pub fn from_bytes(bytes: Vec<u8>) -> Store {
        Store {
            inner: Inner::Memory(bytes),
        }
    }

    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        match &self.inner {
            Inner::Memory(b) => b.len() as u64,
            Inner::Disk { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first bytes of the file (all of them when it is shorter than [`HEAD`]).
    pub fn head(&self) -> &[u8] {
        match &self.inner {
            Inner::Memory(b) => &b[..b.len().min(HEAD)],
            Inner::Disk { head, .. } => head,
        }
    }

    /// Fix the page size once the meta page has been checked.
    pub fn set_page_size(&mut self, ps: usize) {
        if let Inner::Disk {
            len,
            page_size,
            pages,
            ..
        } = &mut self.inner
        {
            *page_size = ps;
            let n = (*len / ps as u64) as usize;
            *pages = (0..n).map(|_| OnceCell::new()).collect();
        }
    }

    /// Bytes `start..start + ps` of page-aligned page `pgno` (page size `ps`, as set with
    /// [`Store::set_page_size`] for a file on disk); `None` past the end of the file or
    /// when the page cannot be read.
    pub fn page(&self, pgno: u32, ps: usize) -> Option<&[u8]> {
        match &self.inner {
            Inner::Memory(b) => {
                let s = (pgno as usize).checked_mul(ps)?;
                b.get(s..s.checked_add(ps)?)
            }
            Inner::Disk {
                file,
                page_size,
                pages,
                ..
            } => {
                debug_assert_eq!(ps, *page_size);
                let cell = pages.get(pgno as usize)?;
                let data = cell.get_or_init(|| {
                    let mut buf = vec![0u8; ps];
                    match file.read_exact_at(&mut buf, u64::from(pgno) * ps as u64) {
                        Ok(()) => buf.into_boxed_slice(),
                        // A file cut short under us: the page reads as missing.
                        Err(_) => Box::new([]),
                    }
                });
                (data.len() == ps).then_some(&data[..])
            }
        }
    }

    /// Copy whole pages `first, first + 1, …` (size `ps`) into `buf`, without caching
    /// them, for a reader that goes through the file once: as many pages as `buf` holds
    /// and the file has. Returns how many pages were copied (fewer, even 0, at the end
    /// of the file or when reading fails; the cached [`Store::page`] then reports it).
    pub fn read_pages(&self, first: u32, ps: usize, buf: &mut [u8]) -> usize {
        let want = buf.len() / ps * ps;
        let Some(start) = (first as usize).checked_mul(ps) else {
            return 0;
        };
        match &self.inner {
            Inner::Memory(b) => {
                let n = b.len().saturating_sub(start).min(want) / ps * ps;
                buf[..n].copy_from_slice(&b[start..start + n]);
                n / ps
            }
            Inner::Disk { file, .. } => {
                let mut got = 0;
                while got < want {
                    match file.read_at(&mut buf[got..want], (start + got) as u64) {
                        Ok(0) => break,
                        Ok(n) => got += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                got / ps
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_and_memory_agree() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        let bytes: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &bytes).unwrap();
        let mut disk = Store::open(&p).unwrap();
        disk.set_page_size(1024);
        let mem = Store::from_bytes(bytes.clone());
        assert_eq!(disk.head(), &bytes[..HEAD]);
        assert_eq!(disk.len(), 4096);
        for pg in 0..4 {
            assert_eq!(disk.page(pg, 1024), mem.page(pg, 1024));
            assert_eq!(
                disk.page(pg, 1024).unwrap(),
                &bytes[pg as usize * 1024..][..1024]
            );
        }
        assert_eq!(disk.page(4, 1024), None);
        assert_eq!(mem.page(4, 1024), None);
        for store in [&disk, &mem] {
            let mut buf = vec![0u8; 3 * 1024 + 100];
            assert_eq!(store.read_pages(2, 1024, &mut buf), 2);
            assert_eq!(&buf[..2048], &bytes[2048..]);
            assert_eq!(store.read_pages(0, 1024, &mut buf), 3);
            assert_eq!(&buf[..3072], &bytes[..3072]);
            assert_eq!(store.read_pages(4, 1024, &mut buf), 0);
        }
    }
}
