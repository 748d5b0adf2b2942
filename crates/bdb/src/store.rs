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
    }
}
