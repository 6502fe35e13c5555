//! Model price table. (being written)
