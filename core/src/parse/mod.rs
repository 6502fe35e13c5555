//! Source parsers: bytes in, rows and problems out. (being written)
