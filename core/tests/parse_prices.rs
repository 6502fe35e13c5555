//! The price table: model id normalisation, lookups, estimates worked out by hand.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests state their expectations by unwrapping

use scoreboard_core::prices::{PriceError, PriceTable};

#[test]
fn model_ids_are_normalised() {
    let cases = [
        ("claude-opus-4-8[1m]", "claude-opus-4-8"),
        (" CLAUDE-OPUS-4-6[1M] ", "claude-opus-4-6"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-3-5-haiku-20241022", "claude-3-5-haiku"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("Claude Opus 4.8", "claude-opus-4-8"),
        ("Opus 4.8", "claude-opus-4-8"),
        ("claude-opus-5", "claude-opus-5"),
        ("gpt-5", "gpt-5"),
    ];
    for (raw, want) in cases {
        assert_eq!(PriceTable::normalise_model(raw), want, "{raw}");
    }
}

#[test]
fn variants_of_a_model_find_the_same_prices() {
    let t = PriceTable::builtin();
    let base = t.estimate_micros("claude-opus-4-8", 1_000_000, 0, 0, 0);
    assert_eq!(base, Some(5_000_000));
    for v in [
        "claude-opus-4-8[1m]",
        "claude-opus-4-8-20260301",
        "Claude Opus 4.8",
    ] {
        assert_eq!(t.estimate_micros(v, 1_000_000, 0, 0, 0), base, "{v}");
    }
    // Legacy ids in either order.
    assert_eq!(
        t.estimate_micros("claude-haiku-3-5", 1_000_000, 0, 0, 0),
        Some(800_000)
    );
    assert_eq!(
        t.estimate_micros("claude-3-5-haiku-latest", 1_000_000, 0, 0, 0),
        Some(800_000)
    );
}

#[test]
fn unknown_models_are_never_guessed() {
    let t = PriceTable::builtin();
    for m in [
        "gpt-5",
        "opus",
        "claude-opus-4-8-fast",
        "claude-opus-9",
        "",
        "claude-sonnet-3-5",
    ] {
        assert_eq!(t.estimate_micros(m, 1_000, 1_000, 0, 0), None, "{m}");
    }
}

#[test]
fn estimates_worked_out_by_hand() {
    let t = PriceTable::builtin();
    // Opus 4.8: 52,000 × $5 + 9,000 × $25 + 410,000 × $0.50 + 30,000 × $6.25, per million
    // = $0.26 + $0.225 + $0.205 + $0.1875 = $0.8775.
    assert_eq!(
        t.estimate_micros("claude-opus-4-8", 52_000, 9_000, 410_000, 30_000),
        Some(877_500)
    );
    // Sonnet 5, one million of each: $2 + $10 + $0.20 + $2.50 = $14.70.
    assert_eq!(
        t.estimate_micros(
            "claude-sonnet-5",
            1_000_000,
            1_000_000,
            1_000_000,
            1_000_000
        ),
        Some(14_700_000)
    );
    // Fable 5.1 cache reads are 0.025 × input: 1M × $0.25.
    assert_eq!(
        t.estimate_micros("claude-fable-5-1", 0, 0, 1_000_000, 0),
        Some(250_000)
    );
    // Opus 4.1: 1,000 input × $15 + 1,000 output × $75 = $0.09.
    assert_eq!(
        t.estimate_micros("claude-opus-4-1-20250805", 1_000, 1_000, 0, 0),
        Some(90_000)
    );
    // Haiku 3 at $0.25 per million: one rounding at the end, half up.
    assert_eq!(t.estimate_micros("claude-3-haiku", 1, 0, 0, 0), Some(0)); // 0.25 µ$
    assert_eq!(t.estimate_micros("claude-3-haiku", 2, 0, 0, 0), Some(1)); // 0.5 µ$
    assert_eq!(t.estimate_micros("claude-3-haiku", 6, 0, 0, 0), Some(2)); // 1.5 µ$
                                                                          // Absurd token counts saturate instead of overflowing.
    assert_eq!(
        t.estimate_micros("claude-opus-4", u64::MAX, u64::MAX, u64::MAX, u64::MAX),
        Some(i64::MAX)
    );
}

#[test]
fn builtin_table_has_the_reference_rows() {
    let t = PriceTable::builtin();
    let haiku = t.lookup("claude-haiku-4-5").unwrap();
    assert_eq!(
        (
            haiku.input,
            haiku.output,
            haiku.cache_read,
            haiku.cache_write
        ),
        (1_000_000, 5_000_000, 100_000, 1_250_000)
    );
    let opus41 = t.lookup("claude-opus-4-1").unwrap();
    assert_eq!(opus41.cache_write, 18_750_000);
    assert_eq!(
        opus41.to_string(),
        "input $15, output $75, cache read $1.5, cache write $18.75 per million tokens"
    );
    for m in [
        "claude-fable-5-1",
        "claude-fable-5",
        "claude-opus-5-5",
        "claude-opus-5",
        "claude-opus-4-7",
        "claude-opus-4-6",
        "claude-opus-4-5",
        "claude-opus-4",
        "claude-sonnet-4-6",
        "claude-sonnet-4",
        "claude-3-7-sonnet-20250219",
        "claude-3-haiku-20240307",
    ] {
        assert!(t.lookup(m).is_some(), "{m}");
    }
}

#[test]
fn an_edited_table_is_read_with_comments_and_any_column_order() {
    let text = "# my prices\ncache_write,model,output,input,cache_read,note\n1.25,my-model-2,2,1,0.1,x\n\n# done\n";
    let t = PriceTable::parse(text).unwrap();
    assert_eq!(t.len(), 1);
    // 1M input × $1 + 1M output × $2 + 1M read × $0.10 + 1M write × $1.25.
    assert_eq!(
        t.estimate_micros(
            "my-model-2-20260101",
            1_000_000,
            1_000_000,
            1_000_000,
            1_000_000
        ),
        Some(4_350_000)
    );
}

#[test]
fn bad_price_tables_say_which_line() {
    assert_eq!(
        PriceTable::parse("model,input,output,cache_read\nx,1,2,3\n"),
        Err(PriceError::MissingColumn {
            column: "cache_write"
        })
    );
    let err = PriceTable::parse("model,input,output,cache_read,cache_write\n# c\nm,1,abc,0.1,1\n")
        .unwrap_err();
    assert!(
        matches!(&err, PriceError::Line { line: 3, message } if message.contains("abc") && message.contains("output")),
        "{err:?}"
    );
    let err = PriceTable::parse("model,input,output,cache_read,cache_write\nclaude-opus-4-8,5,25,0.5,6.25\nclaude-opus-4-8-20260101,5,25,0.5,6.25\n")
        .unwrap_err();
    assert!(
        matches!(&err, PriceError::Line { line: 3, message } if message.contains("line 2")),
        "{err:?}"
    );
    assert_eq!(
        PriceTable::parse("# only a comment\n"),
        Err(PriceError::Empty)
    );
    assert!(PriceTable::parse("model,input,output,cache_read,cache_write\nm,-1,1,1,1\n").is_err());
}
