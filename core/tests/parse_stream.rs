//! A file read in chunks (`ImportStream::feed`, as the page reads
//! `File.stream()`) gives exactly what reading it at once gives: rows,
//! problems with their lines, warnings and counts, wherever the chunks are
//! cut (inside a quoted cell, between `\r` and `\n`, inside a UTF-8
//! character, inside the header).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests state their expectations by unwrapping

use proptest::prelude::*;
use scoreboard_core::parse::{self, ImportError, ImportOptions, ImportStream};

/// A usage export with what makes reading it hard: quoted cells holding
/// delimiters, quotes and line breaks, blank lines, CRLF and LF, rows of the
/// wrong width, bad dates and counts, other products, API-key names, tokens
/// without a cost, non-ASCII names and an unknown column.
fn messy_export(seed: u64, rows: usize, crlf: bool, bom: bool) -> Vec<u8> {
    let nl = if crlf { "\r\n" } else { "\n" };
    let mut s = String::new();
    if bom {
        s.push('\u{feff}');
    }
    s.push_str(&format!(
        "Date,Email,Product,Sessions,Lines accepted,Model,Input tokens,Output tokens,Note{nl}"
    ));
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = |n: u64| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % n
    };
    for i in 0..rows {
        let day = format!("2026-11-{:02}", 1 + next(20));
        let who = match next(6) {
            0 => "ci-bot".to_string(),
            1 => "\"Zoë Ånström <zoe@example.com>\"".to_string(),
            2 => String::new(),
            _ => format!("p{}@example.com", next(5)),
        };
        let product = ["Claude Code", "Chat", "", "claude_code"][next(4) as usize];
        let sessions = ["1", "2", "1,234", "x", "", "-"][next(6) as usize];
        let lines = next(300).to_string();
        let model = ["claude-sonnet-4-5", "", "gpt-5"][next(3) as usize];
        let tokens = ["", "100", "2000"][next(3) as usize];
        let note = [
            "",
            "\"a, b\"",
            "\"two\nlines\"",
            "\"say \"\"hi\"\"\"",
            "plain",
            "42",
        ][next(6) as usize];
        let date = if next(17) == 0 { "2026-02-30" } else { &day };
        match next(23) {
            0 => s.push_str(&format!("{date},{who},{product}{nl}")), // too few fields
            1 => s.push_str(nl),                                     // blank line
            2 => s.push_str(&format!(",,,,,,,,{nl}")),               // blank cells
            _ => s.push_str(&format!(
                "{date},{who},{product},{sessions},{lines},{model},{tokens},{tokens},{note}{nl}"
            )),
        }
        if i % 50 == 49 && next(2) == 0 {
            s.push_str(&format!("{day},late@example.com,Claude Code,1,1,,,,{nl}"));
        }
    }
    s.into_bytes()
}

fn in_chunks(bytes: &[u8], cuts: &[usize]) -> Result<parse::Import, ImportError> {
    let mut stream = ImportStream::new("usage.csv", ImportOptions::default()).unwrap();
    let mut at = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    for c in cuts {
        stream.feed(&bytes[at..c]);
        at = c;
    }
    stream.feed(&bytes[at..]);
    stream.finish()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_file_fed_in_chunks_reads_as_the_whole_file(
        seed in any::<u64>(),
        rows in 0usize..120,
        crlf in any::<bool>(),
        bom in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..40),
    ) {
        let bytes = messy_export(seed, rows, crlf, bom);
        let whole = parse::import("usage.csv", &bytes, &ImportOptions::default());
        prop_assert_eq!(in_chunks(&bytes, &cuts), whole);
    }
}

#[test]
fn a_file_fed_a_byte_at_a_time_reads_as_the_whole_file() {
    for (seed, crlf) in [(1, false), (2, true), (3, false)] {
        let bytes = messy_export(seed, 200, crlf, seed == 3);
        let whole = parse::import("usage.csv", &bytes, &ImportOptions::default()).unwrap();
        assert!(whole.rows_rejected > 0 && !whole.rows.is_empty());
        assert!(whole.warnings.iter().any(|w| w.count().is_some()));
        let cuts: Vec<usize> = (1..bytes.len()).collect();
        assert_eq!(in_chunks(&bytes, &cuts).unwrap(), whole);
    }
}

/// The lines of problems after quoted cells that hold line breaks, blank
/// lines and CRLF endings are the lines an editor shows.
#[test]
fn problems_name_the_line_an_editor_shows() {
    let csv = "Date,Email,Sessions,Note\r\n\r\n2026-11-02,a@x.com,1,\"two\r\nlines\"\r\n2026-11-31,a@x.com,1,\r\n\r\n\r\n2026-11-03,a@x.com,x,\"q\"\r\n";
    let imp = parse::import("usage.csv", csv.as_bytes(), &ImportOptions::default()).unwrap();
    let lines: Vec<Option<u64>> = imp.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![Some(5), Some(8)], "{:?}", imp.problems);
    let cuts: Vec<usize> = (1..csv.len()).collect();
    assert_eq!(in_chunks(csv.as_bytes(), &cuts).unwrap(), imp);
}

/// A bad byte or a NUL far into a streamed file still refuses the whole file,
/// as reading it at once does; the NUL (not text at all) wins.
#[test]
fn a_bad_byte_late_in_a_streamed_file_refuses_it_whole() {
    let mut bytes = messy_export(9, 300, false, false);
    let at = bytes.len() - 40;
    bytes[at] = 0xFF;
    let whole = parse::import("usage.csv", &bytes, &ImportOptions::default());
    assert!(
        matches!(whole, Err(ImportError::NotUtf8 { .. })),
        "{whole:?}"
    );
    assert_eq!(in_chunks(&bytes, &[100, 4000, at + 1]), whole);
    bytes[at + 10] = 0;
    let whole = parse::import("usage.csv", &bytes, &ImportOptions::default());
    assert!(
        matches!(whole, Err(ImportError::UnknownFormat { .. })),
        "{whole:?}"
    );
    assert_eq!(in_chunks(&bytes, &[100, 4000, at + 5]), whole);
}
