//! The plain-line scanner ([`super::usage_csv`]'s `Scanner`) against the
//! general path it stands in for: whatever the file, a stream that scans its
//! plain lines and one that splits every record give the same table and the
//! same import (problems on the same lines, warnings, counts, likely
//! measures), wherever the chunks are cut.

use proptest::prelude::*;

use super::{ImportError, ImportOptions, ImportStream};

/// What a stream gives for `bytes` fed in chunks cut at `cuts`: the import
/// and the table as it is saved.
fn read(
    bytes: &[u8],
    cuts: &[usize],
    scan: bool,
) -> Result<(super::Import, serde_json::Value), ImportError> {
    let mut stream = ImportStream::new("usage.csv", ImportOptions::default())?;
    if !scan {
        stream.without_scanner();
    }
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut at = 0;
    for c in cuts {
        stream.feed(&bytes[at..c]);
        at = c;
    }
    stream.feed(&bytes[at..]);
    let (import, table) = stream.finish_table()?;
    let saved = serde_json::to_value(&table).map_err(|e| ImportError::UnknownFormat {
        file: "usage.csv".into(),
        reason: e.to_string(),
    })?;
    Ok((import, saved))
}

/// Columns of usage exports (and some they should not have), to pick from.
const HEADERS: &[&str] = &[
    "Date",
    "Email",
    "Account UUID",
    "Product",
    "Sessions",
    "Lines accepted",
    "Lines removed",
    "Commits",
    "Pull requests",
    "Edits accepted",
    "Edits rejected",
    "Accept rate",
    "Model",
    "Input tokens",
    "Output tokens",
    "Cache read tokens",
    "Spend (USD)",
    "Note",
    "Team",
    "total_requests",
];

/// Cells in the forms the scanner takes and in every form next to them
/// that it must leave to the general path.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u64..100_000).prop_map(|n| n.to_string()),
        2 => (0u64..1_000, 0u64..100).prop_map(|(a, b)| format!("{a}.{b:02}")),
        2 => prop::sample::select(vec![
            "2026-11-03",
            "2026-11-03",
            "2026-11-04",
            "2026-11-4",
            " 2026-11-04",
            "2026/11/05",
            "2026-11-05T10:00:00Z",
            "2026-02-30",
            "20261103",
        ])
        .prop_map(str::to_string),
        3 => prop::sample::select(vec![
            "a@example.com",
            "a@example.com",
            "b@example.com",
            "b@example.com",
            " a@example.com",
            "A@Example.com",
            "Ana <a@example.com>",
            "zoë@example.com",
            "ci-bot",
            "api-key:deploy",
            "account:acc_1",
            "n/a",
            "-",
        ])
        .prop_map(str::to_string),
        3 => prop::sample::select(vec![
            "",
            "",
            " ",
            "0",
            "007",
            "+5",
            "-0",
            "-3",
            "1,234",
            "1 234",
            " 7",
            "7 ",
            "2.5",
            "12.",
            ".5",
            "1e3",
            "$12.30",
            "12 %",
            "0.1234567",
            "123456789.123456",
            "1234567890.5",
            "9999999999999999999",
            "18446744073709551615",
            "99999999999999999999",
            "Claude Code",
            "claude_code",
            "Chat",
            "claude-sonnet-4-5",
            "claude-opus-4-1",
            "-",
            "n/a",
            "é",
            "say \"hi\"",
            "a, b",
            "two\nlines",
            "cr\ronly",
            "tab\there",
        ])
        .prop_map(str::to_string),
    ]
}

/// A cell of column `header` in the form an export usually writes it (the
/// form the scanner takes, when the person was seen before).
fn usual(header: &'static str) -> BoxedStrategy<String> {
    let pick = |cells: &[&'static str]| {
        prop::sample::select(cells.to_vec())
            .prop_map(str::to_string)
            .boxed()
    };
    match header {
        "Date" => pick(&["2026-11-03", "2026-11-03", "2026-11-04", "2026-11-05"]),
        "Email" => pick(&["a@example.com", "b@example.com", "c@example.com", "ci-bot"]),
        "Account UUID" => pick(&["acc_1", "acc_2", ""]),
        "Product" => pick(&["Claude Code", "claude_code", ""]),
        "Model" => pick(&["claude-sonnet-4-5", "claude-opus-4-1", "mystery-model", ""]),
        "Note" | "Team" => pick(&["x", "12", "", "3.5"]),
        "Spend (USD)" => prop_oneof![
            (0i64..1_000_000_000, 0u64..1_000_000).prop_map(|(a, b)| format!("{a}.{b}")),
            (0i64..1_000).prop_map(|a| a.to_string()),
            Just(String::new()),
        ]
        .boxed(),
        _ => prop_oneof![
            5 => (0u64..1_000_000).prop_map(|n| n.to_string()),
            1 => Just(String::new()),
        ]
        .boxed(),
    }
}

/// A usage export: some of [`HEADERS`] in any order, then records of the
/// header's width (mostly in the usual forms, some cells in any) or not,
/// blank lines, CRLF or LF, a BOM or not, and a comma, semicolon or tab
/// between cells.
fn export() -> impl Strategy<Value = Vec<u8>> {
    // Mostly a daily export (a date and an e-mail column), the scanner's case.
    let header = (
        prop::sample::subsequence(HEADERS.to_vec(), 2..=HEADERS.len()),
        prop::bool::weighted(0.8),
    )
        .prop_flat_map(|(mut h, daily)| {
            for needed in ["Date", "Email"] {
                if daily && !h.contains(&needed) {
                    h.push(needed);
                }
            }
            Just(h).prop_shuffle()
        });
    let delimiter = prop::sample::select(vec![b',', b',', b';', b'\t']);
    (header, delimiter, any::<bool>(), any::<bool>()).prop_flat_map(
        |(header, delimiter, crlf, bom)| {
            let width = header.len();
            let usual_row: Vec<BoxedStrategy<String>> = header
                .iter()
                .map(|&h| prop_oneof![15 => usual(h), 1 => cell()].boxed())
                .collect();
            let rows = prop::collection::vec(
                prop_oneof![
                    10 => usual_row,
                    1 => prop::collection::vec(cell(), width),
                    1 => prop::collection::vec(cell(), 0..width + 3),
                ],
                0..60,
            );
            rows.prop_map(move |rows| {
                let mut out = Vec::new();
                if bom {
                    out.extend_from_slice("\u{feff}".as_bytes());
                }
                let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
                for r in std::iter::once(&header).chain(&rows) {
                    let cells: Vec<String> = r
                        .iter()
                        .map(|c| {
                            if c.contains([char::from(delimiter), '"', '\n', '\r']) {
                                format!("\"{}\"", c.replace('"', "\"\""))
                            } else {
                                c.clone()
                            }
                        })
                        .collect();
                    out.extend_from_slice(
                        cells.join(&char::from(delimiter).to_string()).as_bytes(),
                    );
                    out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
                }
                out
            })
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The scanner reads a plain line exactly as the general path reads it:
    /// the same rows in the same table, the same problems (line and reason),
    /// warnings, counts and likely measures, or the same error.
    #[test]
    fn the_plain_line_scanner_reads_as_the_general_path(
        bytes in export(),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let scanned = read(&bytes, &cuts, true);
        let general = read(&bytes, &[], false);
        prop_assert_eq!(scanned, general);
    }

    /// Any bytes between usual lines after a usage header: no panic, and
    /// the same result either way.
    #[test]
    fn any_bytes_read_the_same_with_or_without_the_scanner(
        body in prop::collection::vec(prop_oneof![
            3 => (0u8..3, 0u32..20, 0u32..3).prop_map(|(d, s, c)| {
                format!("2026-11-0{d},a@x.com,{s},{c}.5\n").into_bytes()
            }),
            1 => prop::collection::vec(prop::sample::select(
                b"0123456789-,.\"\r\n @xaZ/:\xc3\xa9\xff\t".to_vec()), 0..30),
        ], 0..40),
    ) {
        let mut bytes = b"Date,Email,Sessions,Spend (USD)\n2026-11-03,a@x.com,1,2\n".to_vec();
        bytes.extend(body.concat());
        prop_assert_eq!(read(&bytes, &[], true), read(&bytes, &[], false));
    }
}

/// A daily export in the usual form is read by the scanner, not only
/// allowed to be: a line the scanner takes counts the same as its general
/// reading, including a person's later rows of the same day summed.
#[test]
fn the_usual_lines_are_summed_per_person_day_by_either_path() {
    let csv = "Date,Email,Sessions,Lines accepted,Spend (USD),Note\n\
               2026-11-03,a@x.com,1,10,1.5,x\n\
               2026-11-03,a@x.com,2,20,0.25,7\n\
               2026-11-03,b@x.com,3,,12,9\n\
               2026-11-04,a@x.com,4,40,3.000001,8\n";
    let scanned = read(csv.as_bytes(), &[], true);
    assert_eq!(scanned, read(csv.as_bytes(), &[], false));
    let Ok((import, table)) = scanned else {
        panic!("the export reads: {scanned:?}");
    };
    assert_eq!(import.rows_read, 4);
    assert_eq!(
        import.likely_measures.len(),
        1,
        "{:?}",
        import.likely_measures
    );
    let days = table["days"].as_array().map_or(0, Vec::len);
    assert_eq!(days, 3, "{table}");
    assert_eq!(table["days"][0]["sessions"], 3);
    assert_eq!(table["days"][0]["cost_micros"], 1_750_000);
}
