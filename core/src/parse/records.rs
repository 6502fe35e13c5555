//! CSV bytes → records, a chunk at a time (the page reads a file with
//! `File.stream()`; nothing here needs the whole file).
//!
//! A line without a quote or a stray carriage return (almost every line of
//! an export) is first offered whole to the reader ([`OnRecord::plain_line`]:
//! a usage export's scanner decodes it straight from its bytes), else split
//! on the delimiter directly; any other record is read by
//! `csv_core`, the state machine behind the `csv` crate, so quoting, doubled
//! quotes and line breaks inside quotes follow the same rules as
//! [`super::read_csv`]. Records are numbered by the line they start on, with
//! `\n`, `\r\n` and a lone `\r` each ending a line (as `LineCounter` does).

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};
use memchr::{memchr, memchr2, memchr_iter};

/// One record: its cells as text.
pub(crate) struct Record<'a> {
    text: &'a str,
    /// Where each cell ends in `text`.
    ends: &'a [usize],
    /// Bytes between two cells in `text` (1: the delimiter; 0: csv_core's output).
    gap: usize,
}

impl<'a> Record<'a> {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// The `i`-th cell as written (not trimmed).
    pub fn get(&self, i: usize) -> Option<&'a str> {
        let end = *self.ends.get(i)?;
        let start = match i {
            0 => 0,
            _ => self.ends.get(i - 1).map_or(0, |e| e + self.gap),
        };
        self.text.get(start..end)
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// Every cell blank: skipped like an empty line.
    pub fn is_blank(&self) -> bool {
        self.iter().all(|c| c.trim().is_empty())
    }
}

/// What a walk over some bytes did.
pub(crate) enum Walked {
    /// Bytes used: every complete record before them was handed on; the rest
    /// is the start of a record that needs more bytes.
    Used(usize),
    /// The handler asked to stop after the record ending at this byte.
    Stopped(usize),
    /// The text is not UTF-8: the line of the first bad byte (counting `\n` only).
    NotUtf8 { line: u64 },
}

/// Who reads the records a walk finds.
pub(crate) trait OnRecord {
    /// A line with no quote and no carriage return, as bytes, before it is
    /// split or checked for UTF-8: `Some(go_on)` when it was read whole from
    /// them, `None` to have it split and handed to [`OnRecord::record`].
    fn plain_line(&mut self, _line: &[u8], _at: u64) -> Option<bool> {
        None
    }

    /// One record starting on line `at`; false to stop after it.
    fn record(&mut self, record: &Record<'_>, at: u64) -> bool;
}

/// A closure over records as an [`OnRecord`] (every line split).
struct Split<'f>(&'f mut dyn FnMut(&Record<'_>, u64) -> bool);

impl OnRecord for Split<'_> {
    fn record(&mut self, record: &Record<'_>, at: u64) -> bool {
        (self.0)(record, at)
    }
}

pub(crate) struct Records {
    core: Reader,
    delimiter: u8,
    out: Vec<u8>,
    ends: Vec<usize>,
    split: Vec<usize>,
    /// The line the next unread byte is on (1-based).
    line: u64,
    /// `\n` seen before the next unread byte (for the not-UTF-8 message).
    newlines: u64,
}

impl Records {
    pub fn new(delimiter: u8) -> Records {
        Records {
            core: ReaderBuilder::new().delimiter(delimiter).build(),
            delimiter,
            out: vec![0; 4096],
            ends: vec![0; 64],
            split: Vec::with_capacity(64),
            line: 1,
            newlines: 0,
        }
    }

    /// Hands every complete record in `data` to `on_record` with the line it
    /// starts on, until it returns false. Unless `last`, a record that may go
    /// on in the next bytes is left unread.
    pub fn walk(
        &mut self,
        data: &[u8],
        last: bool,
        on_record: &mut dyn FnMut(&Record<'_>, u64) -> bool,
    ) -> Walked {
        self.walk_with(data, last, &mut Split(on_record))
    }

    /// [`Records::walk`], offering each plain line to `to` whole first.
    pub fn walk_with(&mut self, data: &[u8], last: bool, to: &mut dyn OnRecord) -> Walked {
        let mut pos = 0;
        loop {
            // Line breaks between records (and empty lines).
            while let Some(&b) = data.get(pos) {
                match b {
                    b'\n' => {
                        self.line += 1;
                        self.newlines += 1;
                    }
                    b'\r' => match data.get(pos + 1) {
                        Some(b'\n') => {}
                        Some(_) => self.line += 1,
                        None if last => self.line += 1,
                        None => return Walked::Used(pos),
                    },
                    _ => break,
                }
                pos += 1;
            }
            let rest = &data[pos..];
            if rest.is_empty() {
                return Walked::Used(pos);
            }
            let end = match memchr(b'\n', rest) {
                Some(i) => i,
                None if last => rest.len(),
                None => return Walked::Used(pos),
            };
            let line = self.line;
            let body = &rest[..end];
            let body = body.strip_suffix(b"\r").unwrap_or(body);
            if memchr2(b'"', b'\r', body).is_none() {
                if let Some(go_on) = to.plain_line(body, line) {
                    // The line break after it is read as a break above.
                    pos += body.len();
                    if !go_on {
                        return Walked::Stopped(pos);
                    }
                    continue;
                }
                let Ok(text) = std::str::from_utf8(body) else {
                    return Walked::NotUtf8 {
                        line: self.newlines + 1,
                    };
                };
                self.split.clear();
                // Cells are a few bytes long: a plain loop beats a search per cell.
                let d = self.delimiter;
                self.split.extend(
                    body.iter()
                        .enumerate()
                        .filter_map(|(i, &b)| (b == d).then_some(i)),
                );
                self.split.push(body.len());
                let record = Record {
                    text,
                    ends: &self.split,
                    gap: 1,
                };
                // The line break after it is read as a break above.
                pos += body.len();
                if !to.record(&record, line) {
                    return Walked::Stopped(pos);
                }
                continue;
            }
            // Quotes or a lone carriage return: csv_core reads the record.
            self.core.reset();
            let (mut nin, mut nout, mut nend) = (0, 0, 0);
            loop {
                let (res, i, o, e) = self.core.read_record(
                    &rest[nin..],
                    &mut self.out[nout..],
                    &mut self.ends[nend..],
                );
                nin += i;
                nout += o;
                nend += e;
                match res {
                    ReadRecordResult::InputEmpty if !last => return Walked::Used(pos),
                    ReadRecordResult::InputEmpty => {}
                    ReadRecordResult::OutputFull => {
                        let n = self.out.len() * 2;
                        self.out.resize(n, 0);
                    }
                    ReadRecordResult::OutputEndsFull => {
                        let n = self.ends.len() * 2;
                        self.ends.resize(n, 0);
                    }
                    ReadRecordResult::Record => break,
                    ReadRecordResult::End => return Walked::Used(data.len()),
                }
            }
            let raw = &rest[..nin];
            // A record ending in `\r` just before the end of what is here may
            // be a `\r\n`: wait for the next byte to count its line right.
            if !last && raw.last() == Some(&b'\r') && nin == rest.len() {
                return Walked::Used(pos);
            }
            if let Err(e) = std::str::from_utf8(raw) {
                let before = &raw[..e.valid_up_to()];
                return Walked::NotUtf8 {
                    line: self.newlines + 1 + memchr_iter(b'\n', before).count() as u64,
                };
            }
            for (i, &b) in raw.iter().enumerate() {
                match b {
                    b'\n' => {
                        self.line += 1;
                        self.newlines += 1;
                    }
                    b'\r' if rest.get(i + 1) != Some(&b'\n') => self.line += 1,
                    _ => {}
                }
            }
            pos += nin;
            let Ok(text) = std::str::from_utf8(&self.out[..nout]) else {
                // Unreachable: cells are the valid text above without its quotes.
                return Walked::NotUtf8 {
                    line: self.newlines + 1,
                };
            };
            let record = Record {
                text,
                ends: &self.ends[..nend],
                gap: 0,
            };
            if !to.record(&record, line) {
                return Walked::Stopped(pos);
            }
        }
    }
}
