//! A file read in chunks (`ImportStream::feed`, as the page reads
//! `File.stream()`) gives exactly what reading it at once gives: rows,
//! problems with their lines, warnings and counts, wherever the chunks are
//! cut (inside a quoted cell, between `\r` and `\n`, inside a UTF-8
//! character, inside the header). And the fast ways of reading give what
//! the general ones give: a plain line split on the delimiter reads as the
//! general CSV reader reads it, and records folded straight into a table's
//! columns (`finish_table`, `UsageTable::merge`) make the table that the
//! rows of `DayRow` make (`finish`, `UsageTable::insert_import`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests state their expectations by unwrapping

use proptest::prelude::*;
use scoreboard_core::parse::{self, ImportError, ImportOptions, ImportStream};
use scoreboard_core::table::MergeCount;
use scoreboard_core::UsageTable;

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

/// A table's whole content, as it is saved: its rows in order, its periods
/// and its declared coverage.
fn saved(table: &UsageTable) -> serde_json::Value {
    serde_json::to_value(table).unwrap()
}

/// What `finish_table` gives, fed in the given chunks.
fn table_in_chunks(
    bytes: &[u8],
    cuts: &[usize],
) -> Result<(parse::Import, UsageTable), ImportError> {
    let mut stream = ImportStream::new("usage.csv", ImportOptions::default()).unwrap();
    let mut at = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    for c in cuts {
        stream.feed(&bytes[at..c]);
        at = c;
    }
    stream.feed(&bytes[at..]);
    stream.finish_table()
}

/// The old way: the file's `Import` (rows of `DayRow`) inserted into a table.
fn inserted(import: &parse::Import, into: &mut UsageTable) -> MergeCount {
    into.insert_import(import.clone())
}

/// A usage export written from cells: as an export writes it (a cell quoted
/// only when it must be) or with every cell quoted, which sends each record
/// through the general (csv_core) reader instead of the plain-line split.
fn written(records: &[Vec<String>], all_quoted: bool, crlf: bool, bom: bool) -> Vec<u8> {
    let nl = if crlf { "\r\n" } else { "\n" };
    let mut s = String::new();
    if bom {
        s.push('\u{feff}');
    }
    for r in records {
        let cells: Vec<String> = r
            .iter()
            .map(|c| {
                if all_quoted || c.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", c.replace('"', "\"\""))
                } else {
                    c.clone()
                }
            })
            .collect();
        s.push_str(&cells.join(","));
        s.push_str(nl);
    }
    s.into_bytes()
}

/// Cells a lenient reader must treat right: good and bad numbers, dates in
/// several forms, identities of every kind, blanks, quotes and line breaks.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..100_000).prop_map(|n| n.to_string()),
        (0u64..100_000, 0u64..100).prop_map(|(a, b)| format!("{a}.{b:02}")),
        prop::sample::select(vec![
            "",
            " ",
            "-",
            "n/a",
            "x",
            "1,234",
            "1.234,5",
            " 7 ",
            "-3",
            "2.5",
            "1e3",
            "$12.30",
            "12 %",
            "99999999999999999999999",
        ])
        .prop_map(str::to_string),
        prop::sample::select(vec![
            "2026-11-03",
            "2026-11-04",
            " 2026-11-04 ",
            "2026/11/5",
            "2026-11-05T10:00:00Z",
            "2026-02-30",
            "03/11/2026",
            "",
        ])
        .prop_map(str::to_string),
        prop::sample::select(vec![
            "a@example.com",
            "b@example.com",
            " a@example.com ",
            "Zoë Ånström <zoe@example.com>",
            "ci-bot",
            "api-key:deploy",
            "account:acc_1",
            "",
            "Claude Code",
            "Chat",
            "claude-sonnet-4-5",
            "say \"hi\"",
            "a, b",
            "two\nlines",
            "cr\ronly",
        ])
        .prop_map(str::to_string),
    ]
}

/// Records of a usage export: a header (some columns in a shuffled order,
/// one unknown), then rows of the right width or not, and blank lines.
fn export_records() -> impl Strategy<Value = Vec<Vec<String>>> {
    let header = Just(vec![
        "Date",
        "Email",
        "Product",
        "Sessions",
        "Lines accepted",
        "Model",
        "Input tokens",
        "Spend (USD)",
        "Note",
    ])
    .prop_shuffle()
    .prop_map(|h| h.into_iter().map(str::to_string).collect::<Vec<_>>());
    let rows = prop::collection::vec(
        prop_oneof![
            8 => prop::collection::vec(cell(), 9),
            1 => prop::collection::vec(cell(), 0..12),
        ],
        0..40,
    );
    (header, rows).prop_map(|(h, rows)| std::iter::once(h).chain(rows).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// The plain-line split (the fast path almost every line of an export
    /// takes) and the general reader give the same import: the same rows,
    /// problems on the same lines, the same warnings and counts.
    #[test]
    fn the_plain_line_split_reads_as_the_general_csv_reader(
        records in export_records(),
        crlf in any::<bool>(),
        bom in any::<bool>(),
    ) {
        let plain = written(&records, false, crlf, bom);
        let quoted = written(&records, true, crlf, bom);
        let opts = ImportOptions::default();
        let a = parse::import("usage.csv", &plain, &opts);
        let b = parse::import("usage.csv", &quoted, &opts);
        prop_assert_eq!(&a, &b);
        let ta = parse::import_table("usage.csv", &plain, &opts).map(|(i, t)| (i, saved(&t)));
        let tb = parse::import_table("usage.csv", &quoted, &opts).map(|(i, t)| (i, saved(&t)));
        prop_assert_eq!(ta, tb);
    }

    /// Records folded straight into a table give the table that inserting
    /// the file's rows of `DayRow` gives (same rows in the same order,
    /// periods, coverage), and the rest of the `Import` unchanged, wherever
    /// the chunks are cut.
    #[test]
    fn a_file_folded_into_a_table_is_the_table_its_rows_make(
        seed in any::<u64>(),
        rows in 0usize..120,
        crlf in any::<bool>(),
        bom in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let bytes = messy_export(seed, rows, crlf, bom);
        let opts = ImportOptions::default();
        let whole = parse::import("usage.csv", &bytes, &opts);
        let folded = table_in_chunks(&bytes, &cuts);
        match (whole, folded) {
            (Ok(mut whole), Ok((import, table))) => {
                let mut expected = UsageTable::new();
                inserted(&whole, &mut expected);
                prop_assert_eq!(saved(&table), saved(&expected));
                prop_assert_eq!(table.coverage(), expected.coverage());
                whole.rows.clear();
                whole.periods.clear();
                prop_assert_eq!(import, whole);
            }
            (whole, folded) => prop_assert_eq!(whole.err(), folded.err()),
        }
    }

    /// Merging files' tables one after the other gives what inserting their
    /// imports does: a later file replaces the same person-day measure by
    /// measure, and the counts of rows added and replaced agree.
    #[test]
    fn merging_file_tables_is_inserting_their_imports(
        seeds in prop::collection::vec(any::<u64>(), 1..4),
        rows in 0usize..80,
    ) {
        let opts = ImportOptions::default();
        let mut by_merge = UsageTable::new();
        let mut by_insert = UsageTable::new();
        for (k, seed) in seeds.iter().enumerate() {
            let bytes = messy_export(*seed, rows + k * 7, k % 2 == 1, false);
            let Ok(import) = parse::import("usage.csv", &bytes, &opts) else { continue };
            let (_, table) = parse::import_table("usage.csv", &bytes, &opts).unwrap();
            let merged = by_merge.merge(table);
            prop_assert_eq!(merged, inserted(&import, &mut by_insert));
        }
        prop_assert_eq!(saved(&by_merge), saved(&by_insert));
        prop_assert_eq!(by_merge.coverage(), by_insert.coverage());
    }

    /// Whatever the bytes, reading them into a table never panics, and a
    /// file that reads gives the same rows either way.
    #[test]
    fn any_bytes_after_a_usage_header_read_without_a_panic(
        body in prop::collection::vec(prop::sample::select(
            b"0123456789-,.\"\r\n @xaZ/:\xc3\xa9\xff\t".to_vec()), 0..400),
    ) {
        let mut bytes = b"Date,Email,Sessions,Spend (USD)\n".to_vec();
        bytes.extend_from_slice(&body);
        let opts = ImportOptions::default();
        let whole = parse::import("usage.csv", &bytes, &opts);
        let folded = parse::import_table("usage.csv", &bytes, &opts);
        match (whole, folded) {
            (Ok(whole), Ok((_, table))) => {
                let mut expected = UsageTable::new();
                inserted(&whole, &mut expected);
                prop_assert_eq!(saved(&table), saved(&expected));
            }
            (whole, folded) => prop_assert_eq!(whole.err(), folded.err()),
        }
    }
}

/// An export that is not in day order (a file that goes back to an earlier
/// day, persons in any order) still gives its rows sorted by day then
/// person, in the table as in `Import::rows`, with a person's rows of one
/// day summed.
#[test]
fn an_unsorted_export_folds_into_a_sorted_table() {
    let csv = "Date,Email,Sessions\n\
               2026-11-04,b@x.com,1\n\
               2026-11-03,c@x.com,2\n\
               2026-11-04,a@x.com,3\n\
               2026-11-03,a@x.com,4\n\
               2026-11-04,b@x.com,5\n";
    let opts = ImportOptions::default();
    let (_, table) = parse::import_table("usage.csv", csv.as_bytes(), &opts).unwrap();
    let rows: Vec<(String, String, u64)> = table
        .day_rows()
        .map(|r| (r.day.to_string(), r.person.to_string(), r.measures.sessions))
        .collect();
    let want = [
        ("2026-11-03", "a@x.com", 4),
        ("2026-11-03", "c@x.com", 2),
        ("2026-11-04", "a@x.com", 3),
        ("2026-11-04", "b@x.com", 6),
    ];
    let want: Vec<(String, String, u64)> = want
        .iter()
        .map(|(d, p, s)| (d.to_string(), p.to_string(), *s))
        .collect();
    assert_eq!(rows, want);
    let import = parse::import("usage.csv", csv.as_bytes(), &opts).unwrap();
    let mut expected = UsageTable::new();
    inserted(&import, &mut expected);
    assert_eq!(saved(&table), saved(&expected));
}
