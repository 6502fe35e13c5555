//! [`ImportStream`]: a file read a chunk at a time (`feed`, then `finish`),
//! as the page reads a large export with `File.stream()`.
//!
//! A UTF-8 usage export (the large files) is read as it arrives: once its
//! header is complete, every later chunk is split into records and folded
//! into person-day rows straight away, so neither the whole text nor its
//! records are ever held. Anything else (JSON, rosters, plain lists of
//! e-mails, UTF-16 text, Excel's `sep=` line) is small or rare: its bytes are
//! kept and read at [`ImportStream::finish`] as [`import`] always did.

use memchr::memchr;

use super::records::{OnRecord, Record, Records, Walked};
use super::usage_csv::UsageReader;
use super::{
    check_period, classify_csv, columns, import_whole, roster, text, FileKind, Import, ImportError,
    ImportOptions,
};
use crate::table::UsageTable;

/// Reads one file from its chunks; see the module documentation.
pub struct ImportStream {
    file: String,
    opts: ImportOptions,
    /// Read as a usage export whatever it looks like (`usage_csv::parse`).
    usage_only: bool,
    /// The file's size, when known: room for its rows is reserved once.
    size_hint: Option<usize>,
    /// Plain lines of a usage export read by its scanner (off only to test
    /// that the general path gives the same).
    scan_plain: bool,
    state: State,
}

enum State {
    /// The start of the file, until its header record is complete.
    Head(Vec<u8>),
    /// Not a streamed usage export: read whole at the end.
    Whole(Vec<u8>),
    Usage(Box<Usage>),
    /// Known to fail whatever follows, except for a NUL byte, which says
    /// more (the file is not text at all).
    Failed(ImportError, bool),
}

struct Usage {
    records: Records,
    reader: UsageReader,
    /// The start of a record that goes on in the next chunk.
    carry: Vec<u8>,
}

impl ImportStream {
    /// A stream for `file_name` (used in messages); a period that ends before
    /// it starts is refused before anything is read.
    pub fn new(file_name: &str, opts: ImportOptions) -> Result<ImportStream, ImportError> {
        check_period(file_name, &opts)?;
        Ok(ImportStream {
            file: file_name.to_string(),
            opts,
            usage_only: false,
            size_hint: None,
            scan_plain: true,
            state: State::Head(Vec::new()),
        })
    }

    pub(crate) fn usage_csv(
        file_name: &str,
        opts: ImportOptions,
    ) -> Result<ImportStream, ImportError> {
        let mut s = ImportStream::new(file_name, opts)?;
        s.usage_only = true;
        Ok(s)
    }

    /// Every record split into cells and read by the general path (the
    /// scanner's reference in tests).
    #[cfg(test)]
    pub(crate) fn without_scanner(&mut self) {
        self.scan_plain = false;
    }

    /// Says how many bytes the whole file has (`File.size`), so that room
    /// for its rows is reserved once instead of growing (and briefly holding
    /// two copies) as they come.
    pub fn size_hint(&mut self, bytes: usize) {
        self.size_hint = Some(bytes);
    }

    /// Reads the next bytes of the file.
    pub fn feed(&mut self, chunk: &[u8]) {
        match &mut self.state {
            State::Head(buf) if buf.is_empty() => {
                // Decided on the chunk itself when it holds the header: a file
                // fed at once is never copied.
                self.state = match self.head(chunk, false) {
                    Head::More => State::Head(chunk.to_vec()),
                    Head::Whole => State::Whole(chunk.to_vec()),
                    Head::Fail(e) => State::Failed(e, false),
                    Head::Usage(mut usage, used) => {
                        usage.reserve_for(&chunk[used..], self.size_hint);
                        match usage.walk(&chunk[used..], false, &self.opts) {
                            Ok(()) => State::Usage(usage),
                            Err(e) => State::Failed(e, false),
                        }
                    }
                };
            }
            State::Head(buf) => {
                buf.extend_from_slice(chunk);
                self.decide(false);
            }
            State::Whole(buf) => buf.extend_from_slice(chunk),
            State::Usage(u) => {
                if memchr(0, chunk).is_some() {
                    self.state = State::Failed(nul(&self.file), true);
                    return;
                }
                if let Err(e) = u.feed(chunk, &self.opts) {
                    self.state = State::Failed(e, false);
                }
            }
            State::Failed(_, seen_nul) => {
                if !*seen_nul && memchr(0, chunk).is_some() {
                    self.state = State::Failed(nul(&self.file), true);
                }
            }
        }
    }

    /// Everything the file gave, once all of it was fed: its day rows in
    /// [`Import::rows`] (sorted by day then person).
    pub fn finish(self) -> Result<Import, ImportError> {
        Ok(match self.finish_any()? {
            Finished::Import(import) => import,
            Finished::Table(mut import, table) => {
                import.rows = table.day_rows().collect();
                import
            }
        })
    }

    /// Everything the file gave, its rows already in a table of their own:
    /// the day rows, the period rows and the days the file covers, as
    /// [`UsageTable::insert_import`] of [`ImportStream::finish`]'s `Import`
    /// into an empty table would hold them (same rows, same order). The
    /// `Import` has the rest (problems, warnings, columns, coverage,
    /// counts); its `rows` and `periods` are empty. A usage export's records
    /// are folded straight into the table's columns as they are read, so no
    /// row of [`crate::DayRow`] is ever made: merge the table into the
    /// caller's with [`UsageTable::merge`] (a move when that one is empty).
    pub fn finish_table(self) -> Result<(Import, UsageTable), ImportError> {
        let (mut import, mut table) = match self.finish_any()? {
            Finished::Import(mut import) => {
                let mut table = UsageTable::new();
                table.insert_days(std::mem::take(&mut import.rows));
                (import, table)
            }
            Finished::Table(import, table) => (import, *table),
        };
        table.insert_periods(std::mem::take(&mut import.periods));
        if let Some(source) = import.kind.source() {
            for r in &import.coverage {
                table.add_coverage(source, *r);
            }
        }
        Ok((import, table))
    }

    fn finish_any(mut self) -> Result<Finished, ImportError> {
        if matches!(self.state, State::Head(_)) {
            self.decide(true);
        }
        match self.state {
            State::Head(buf) | State::Whole(buf) => Ok(Finished::Import(import_whole(
                &self.file,
                &buf,
                &self.opts,
                self.usage_only,
            )?)),
            State::Usage(mut u) => {
                let carry = std::mem::take(&mut u.carry);
                u.walk(&carry, true, &self.opts)?;
                let (import, table) = u.reader.finish()?;
                Ok(Finished::Table(import, Box::new(table)))
            }
            State::Failed(e, _) => Err(e),
        }
    }

    /// Once the header is complete: a UTF-8 usage export is read from here
    /// on as it comes, anything else is kept whole.
    fn decide(&mut self, last: bool) {
        let State::Head(buf) = &mut self.state else {
            return;
        };
        let buf = std::mem::take(buf);
        self.state = match self.head(&buf, last) {
            Head::More => State::Head(buf),
            Head::Whole => State::Whole(buf),
            Head::Fail(e) => State::Failed(e, false),
            Head::Usage(mut usage, used) => {
                usage.reserve_for(&buf[used..], self.size_hint);
                match usage.walk(&buf[used..], last, &self.opts) {
                    Ok(()) => State::Usage(usage),
                    Err(e) => State::Failed(e, false),
                }
            }
        };
    }

    fn head(&self, buf: &[u8], last: bool) -> Head {
        if buf.len() < 4 && !last {
            return Head::More; // the longest signature `binary_kind` looks for
        }
        if text::binary_kind(buf).is_some()
            || buf.starts_with(&[0xFF, 0xFE])
            || buf.starts_with(&[0xFE, 0xFF])
            || memchr(0, buf).is_some()
        {
            // Not UTF-8 text: decoding it whole says why, or turns UTF-16 into UTF-8.
            return Head::Whole;
        }
        let bom = if buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
            3
        } else {
            0
        };
        let body = &buf[bom..];
        let Some(first) = body.iter().position(|b| !b.is_ascii_whitespace()) else {
            return match (last, self.usage_only) {
                (false, _) => Head::More,
                (true, false) => Head::Whole,
                (true, true) => Head::Fail(ImportError::Empty {
                    file: self.file.clone(),
                }),
            };
        };
        if !self.usage_only && matches!(body[first], b'{' | b'[') {
            return Head::Whole;
        }
        // The first line that holds something: the delimiter is sniffed from it.
        let line_end = match memchr(b'\n', &body[first..]) {
            Some(i) => first + i,
            None if last => body.len(),
            None => return Head::More,
        };
        let line_start = body[..first]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let Ok(line) = std::str::from_utf8(&body[line_start..line_end]) else {
            return Head::Whole;
        };
        let (delimiter, mut sep_line) = text::sniff_delimiter(line);
        if !self.usage_only && roster::is_plain_list(line) {
            return Head::Whole;
        }
        let mut records = Records::new(delimiter);
        let mut header: Option<(Vec<String>, u64)> = None;
        let walked = records.walk(body, last, &mut |r, line| {
            if r.is_blank() {
                return true;
            }
            // Excel's `sep=;` line names the delimiter; the header follows it.
            if std::mem::take(&mut sep_line)
                && r.get(0)
                    .is_some_and(|c| c.trim().to_ascii_lowercase().starts_with("sep="))
            {
                return true;
            }
            header = Some((
                r.iter()
                    .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
                    .collect(),
                line,
            ));
            false
        });
        let used = match walked {
            Walked::Stopped(used) => used,
            Walked::Used(_) if !last => return Head::More,
            // No header, or not UTF-8: the whole-file reader says which.
            Walked::Used(_) | Walked::NotUtf8 { .. } if !self.usage_only => return Head::Whole,
            Walked::Used(_) => {
                return Head::Fail(ImportError::Empty {
                    file: self.file.clone(),
                })
            }
            Walked::NotUtf8 { line } => {
                return Head::Fail(ImportError::NotUtf8 {
                    file: self.file.clone(),
                    line,
                })
            }
        };
        let Some((headers, header_line)) = header else {
            return Head::Whole;
        };
        if !self.usage_only {
            let mapping = columns::map_headers(&headers, &self.opts.column_overrides);
            if classify_csv(&self.file, &headers, &mapping) != Ok(FileKind::UsageCsv) {
                return Head::Whole;
            }
        }
        match UsageReader::new(&self.file, headers, header_line, delimiter, &self.opts) {
            Ok(mut reader) => {
                if !self.scan_plain {
                    reader.without_scanner();
                }
                Head::Usage(
                    Box::new(Usage {
                        records,
                        reader,
                        carry: Vec::new(),
                    }),
                    bom + used,
                )
            }
            Err(e) if self.usage_only => Head::Fail(e),
            Err(_) => Head::Whole,
        }
    }
}

/// What a finished stream gave: an `Import` with its rows (a file read
/// whole), or a usage export's rows in a table and the rest.
enum Finished {
    Import(Import),
    Table(Import, Box<UsageTable>),
}

/// What the start of a file says.
enum Head {
    /// The header is not complete yet.
    More,
    /// Not a UTF-8 usage export: read it whole at the end.
    Whole,
    Fail(ImportError),
    /// A usage export, and the bytes its header took.
    Usage(Box<Usage>, usize),
}

impl Usage {
    /// Reserves room for the file's rows from the lines of the first bytes
    /// after the header (one row per line; a file of fewer rows reserves too much).
    fn reserve_for(&mut self, sample: &[u8], size_hint: Option<usize>) {
        let Some(total) = size_hint.filter(|_| !sample.is_empty()) else {
            return;
        };
        // The first bytes say enough (a file fed whole is not read twice).
        let sample = &sample[..sample.len().min(1 << 16)];
        let lines = memchr::memchr_iter(b'\n', sample).count() as f64;
        let estimate = lines / sample.len() as f64 * total as f64 * 1.02;
        self.reader.reserve_rows(estimate as usize);
    }

    /// Reads the records of `data` (the next bytes after the carried ones).
    fn feed(&mut self, mut data: &[u8], opts: &ImportOptions) -> Result<(), ImportError> {
        // First finish the record carried over from the last chunk, a line at a time.
        while !self.carry.is_empty() && !data.is_empty() {
            let take = memchr(b'\n', data).map_or(data.len(), |i| i + 1);
            self.carry.extend_from_slice(&data[..take]);
            data = &data[take..];
            let carry = std::mem::take(&mut self.carry);
            let used = self.walk_some(&carry, false, opts)?;
            self.carry = carry[used..].to_vec();
        }
        if self.carry.is_empty() {
            let used = self.walk_some(data, false, opts)?;
            self.carry.extend_from_slice(&data[used..]);
        }
        Ok(())
    }

    /// Reads all of `data`; with `last`, the final record too.
    fn walk(&mut self, data: &[u8], last: bool, opts: &ImportOptions) -> Result<(), ImportError> {
        let used = self.walk_some(data, last, opts)?;
        if !last {
            self.carry.extend_from_slice(&data[used..]);
        }
        Ok(())
    }

    fn walk_some(
        &mut self,
        data: &[u8],
        last: bool,
        opts: &ImportOptions,
    ) -> Result<usize, ImportError> {
        let mut to = Reading {
            reader: &mut self.reader,
            opts,
        };
        match self.records.walk_with(data, last, &mut to) {
            Walked::Used(n) | Walked::Stopped(n) => Ok(n),
            Walked::NotUtf8 { line } => Err(ImportError::NotUtf8 {
                file: self.reader.file.clone(),
                line,
            }),
        }
    }
}

/// The records of a usage export, handed to its reader: a plain line to
/// its scanner first ([`UsageReader::plain_line`]), any other record (or a
/// line the scanner leaves) split into cells.
struct Reading<'a> {
    reader: &'a mut UsageReader,
    opts: &'a ImportOptions,
}

impl OnRecord for Reading<'_> {
    fn plain_line(&mut self, line: &[u8], _at: u64) -> Option<bool> {
        self.reader.plain_line(line, self.opts).then_some(true)
    }

    fn record(&mut self, record: &Record<'_>, at: u64) -> bool {
        self.reader.record(record, at, self.opts);
        true
    }
}

fn nul(file: &str) -> ImportError {
    ImportError::UnknownFormat {
        file: file.to_string(),
        reason: "it contains binary data (NUL bytes), not text".to_string(),
    }
}
