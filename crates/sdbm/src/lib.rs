//! SDBM `.dir`/`.pag` files as Perl's `SDBM_File` reads and writes them.
#![forbid(unsafe_code)]
