//! Source files and spans.
//!
//! A `.cf` file is kept as the bytes sendmail reads after turning `CR LF` into `LF`
//! (`fgetfolded`). Spans are byte ranges into those normalized bytes; [`SourceFile::locate`]
//! maps them back to the original file's byte offset, 1-based line and 1-based column, so
//! a diagnostic points at the right place even in a CRLF file.

use std::path::{Path, PathBuf};

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub u32);

/// A byte range `start..end` in one source file (normalized bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: start as u32,
            end: end as u32,
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(self) -> bool {
        self.end == self.start
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// Where a byte is, as a person counts: 1-based line and column (in bytes), plus the byte
/// offset in the file as it is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    pub offset: usize,
    pub line: usize,
    pub column: usize,
}

/// One configuration file, read as bytes.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub id: FileId,
    pub path: PathBuf,
    /// The bytes with every `CR LF` turned into `LF`.
    pub text: Vec<u8>,
    /// Normalized offsets at which a `CR` was removed, ascending.
    removed_cr: Vec<usize>,
    /// Normalized offset of the first byte of each line.
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(id: FileId, path: impl Into<PathBuf>, raw: &[u8]) -> SourceFile {
        let mut text = Vec::with_capacity(raw.len());
        let mut removed_cr = Vec::new();
        // Copied a run at a time up to each CR that ends a line (most files have none).
        let mut from = 0;
        for cr in memchr::memchr_iter(b'\r', raw) {
            if raw.get(cr + 1) == Some(&b'\n') {
                text.extend_from_slice(&raw[from..cr]);
                removed_cr.push(text.len());
                from = cr + 1;
            }
        }
        text.extend_from_slice(&raw[from..]);
        let mut line_starts = vec![0];
        line_starts.extend(memchr::memchr_iter(b'\n', &text).map(|i| i + 1));
        SourceFile {
            id,
            path: path.into(),
            text,
            removed_cr,
            line_starts,
        }
    }

    pub fn name(&self) -> String {
        self.path.display().to_string()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Location of a normalized byte offset.
    pub fn locate(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let column = offset - self.line_starts[line] + 1;
        let crs = self.removed_cr.partition_point(|&c| c < offset);
        Location {
            offset: offset + crs,
            line: line + 1,
            column,
        }
    }

    /// Start and end locations of a span (end is exclusive, as a column after the last byte).
    pub fn locate_span(&self, span: Span) -> (Location, Location) {
        (
            self.locate(span.start as usize),
            self.locate(span.end as usize),
        )
    }

    pub fn slice(&self, span: Span) -> &[u8] {
        let end = (span.end as usize).min(self.text.len());
        let start = (span.start as usize).min(end);
        &self.text[start..end]
    }

    /// The whole lines around `start..end` with `before` and `after` lines of context:
    /// (first byte, end byte, 0-based number of the first line, number of lines).
    pub fn context(
        &self,
        start: usize,
        end: usize,
        before: usize,
        after: usize,
    ) -> (usize, usize, usize, usize) {
        let line_of = |o: usize| match self.line_starts.binary_search(&o.min(self.text.len())) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let first = line_of(start).saturating_sub(before);
        let last_line = line_of(end.saturating_sub(1).max(start));
        let last = (last_line + after).min(self.line_starts.len() - 1);
        let from = self.line_starts[first];
        let to = self
            .line_starts
            .get(last + 1)
            .map_or(self.text.len(), |&s| s.saturating_sub(1).max(from));
        (from, to, first, last - first + 1)
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_is_normalized_and_located_in_original_offsets() {
        let f = SourceFile::new(FileId(0), "x.cf", b"ab\r\ncd\r\nef");
        assert_eq!(f.text, b"ab\ncd\nef");
        let l = f.locate(3);
        assert_eq!((l.line, l.column, l.offset), (2, 1, 4));
        let l = f.locate(7);
        assert_eq!((l.line, l.column, l.offset), (3, 2, 9));
    }

    #[test]
    fn lone_cr_is_kept() {
        let f = SourceFile::new(FileId(0), "x.cf", b"a\rb\n");
        assert_eq!(f.text, b"a\rb\n");
    }
}
