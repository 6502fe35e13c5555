//! LEB128 varints (seven bits a byte, low bits first, the top bit set on
//! every byte but the last) and zigzag for signed numbers: the number
//! format of the compact rows answer ([`crate::api::rows_wire`]) and of
//! the server's stored day blobs, so both read and write numbers alike.
//!
//! By hand, over slices: a decode of a million rows reads tens of millions
//! of them, where a library's `io::Read`-based reader would cost a call
//! per byte.

/// Why a varint could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarintError {
    /// The bytes end before the number's last byte.
    CutOff,
    /// The number does not fit 64 bits.
    TooLarge,
}

/// Appends `v` as a varint.
#[inline]
pub fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads the varint `bytes` start with and moves `bytes` past it.
#[inline]
pub fn take(bytes: &mut &[u8]) -> Result<u64, VarintError> {
    let mut v = 0u64;
    for (i, b) in bytes.iter().enumerate() {
        // The tenth byte holds the 64th bit only.
        if i == 9 && *b > 1 {
            return Err(VarintError::TooLarge);
        }
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return Ok(v);
        }
    }
    Err(VarintError::CutOff)
}

/// Bytes `v` takes as a varint.
#[inline]
pub fn len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// A signed number as an unsigned one that is small when the number is
/// near 0 either side (0, -1, 1, -2… become 0, 1, 2, 3…), so it takes few
/// varint bytes.
#[inline]
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The signed number [`zigzag`] made `v` of.
#[inline]
pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests state their expectations by unwrapping
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_number_reads_back_from_the_bytes_it_is_said_to_take(v in any::<u64>(), s in any::<i64>()) {
            let mut out = vec![9];
            put(&mut out, v);
            prop_assert_eq!(out.len(), 1 + len(v));
            out.push(7);
            let mut rest = &out[1..];
            prop_assert_eq!(take(&mut rest), Ok(v));
            prop_assert_eq!(rest, &[7][..]);
            prop_assert_eq!(unzigzag(zigzag(s)), s);
        }
    }

    #[test]
    fn small_numbers_either_side_of_zero_take_one_byte() {
        for s in -64..64 {
            assert_eq!(len(zigzag(s)), 1, "{s}");
        }
        assert_eq!(len(zigzag(64)), 2);
        assert_eq!(len(u64::MAX), 10);
    }

    #[test]
    fn a_cut_off_or_oversized_number_is_an_error_not_a_wrong_value() {
        let mut max = Vec::new();
        put(&mut max, u64::MAX);
        assert_eq!(take(&mut &max[..max.len() - 1]), Err(VarintError::CutOff));
        assert_eq!(take(&mut &[][..]), Err(VarintError::CutOff));
        let mut over = max.clone();
        *over.last_mut().unwrap() = 2;
        assert_eq!(take(&mut &over[..]), Err(VarintError::TooLarge));
        let eleven = [0x80u8; 11];
        assert_eq!(take(&mut &eleven[..]), Err(VarintError::TooLarge));
    }
}
