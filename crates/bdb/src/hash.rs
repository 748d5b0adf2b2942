//! Hash access method (page layouts, reader, bulk writer).
