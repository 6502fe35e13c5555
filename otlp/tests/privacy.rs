//! Prompt text, responses and tool input are dropped on arrival: no byte of
//! the SQLite files and no log line holds them, even when a client sends
//! them un-redacted (the verbose capture) or inside a body that fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use common::*;
use serde_json::Value;

#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary, at every level.
fn logs() -> &'static LogBuffer {
    static LOGS: OnceLock<LogBuffer> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = LogBuffer::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buf
    })
}

const CONTENT_KEYS: [&str; 7] = [
    "prompt",
    "prompt_text",
    "response",
    "tool_input",
    "tool_parameters",
    "user_prompt",
    "error",
];

/// The content strings of the verbose capture, read from the fixture itself.
fn content_strings() -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let (Some(k), Some(s)) = (
                    m.get("key").and_then(|k| k.as_str()),
                    m.get("value")
                        .and_then(|v| v.get("stringValue"))
                        .and_then(|s| s.as_str()),
                ) {
                    if CONTENT_KEYS.contains(&k) && s.len() >= 12 && s != "<REDACTED>" {
                        out.push(s.to_string());
                    }
                }
                m.values().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for c in capture("claude-code-2.1.330", "write-json-delta-verbose") {
        walk(&serde_json::from_slice(&c.body).unwrap(), &mut out);
    }
    out.sort();
    out.dedup();
    out
}

const PROMPT: &str = "Please create the file. TRIGGER_WRITE:/home/dev/work/hello.txt";

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn database_bytes(db: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let p = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
        if let Ok(b) = std::fs::read(&p) {
            out.push((p.display().to_string(), b));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_stored_byte_and_no_log_line_holds_prompt_text() {
    let logs = logs();
    let needles = content_strings();
    assert!(
        needles.iter().any(|n| n == PROMPT),
        "the verbose capture carries the prompt un-redacted: {needles:?}"
    );
    assert!(
        needles.len() >= 3,
        "prompt, response and tool input: {needles:?}"
    );

    let s = Server::start().await;
    replay(&s, "claude-code-2.1.330", "write-json-delta-verbose").await;
    let verbose_logs = capture("claude-code-2.1.330", "write-json-delta-verbose")
        .into_iter()
        .find(|c| c.path == "/v1/logs")
        .unwrap();

    // The prompt where a number belongs: the body is refused, and neither the
    // reply nor the log quotes it.
    let text = String::from_utf8(verbose_logs.body.clone()).unwrap();
    let broken = text.replacen(
        "\"timeUnixNano\":\"",
        &format!("\"timeUnixNano\":{{\"v\":\"{PROMPT}\"}},\"x\":\""),
        1,
    );
    assert_ne!(broken, text);
    let r = post_json(&s, "/v1/logs", broken.into_bytes()).await;
    assert_eq!(r.status, 400);
    assert!(
        !contains(&r.body, PROMPT.as_bytes()),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let broken = text.replacen(
        "\"intValue\":",
        &format!("\"intValue\":\"{PROMPT}\",\"x\":"),
        1,
    );
    let r = post_json(&s, "/v1/logs", broken.into_bytes()).await;
    assert_eq!(r.status, 400);
    assert!(
        !contains(&r.body, PROMPT.as_bytes()),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    // The prompt as an over-long identity: rejected, not echoed.
    let long_prompt = PROMPT.repeat(10);
    let with_long = text.replace("dev@example.invalid", &long_prompt);
    let r = post_json(&s, "/v1/logs", with_long.into_bytes()).await;
    assert_eq!(r.status, 200);
    assert!(!contains(&r.body, PROMPT.as_bytes()));

    let rows = s.rows();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].person.as_str(), "dev@example.invalid");
    let db = s.db.clone();

    let check = |when: &str| {
        let files = database_bytes(&db);
        assert!(
            files
                .iter()
                .any(|(_, b)| contains(b, b"dev@example.invalid")),
            "{when}: the scan sees stored text (the person key)"
        );
        for (name, bytes) in &files {
            for n in &needles {
                assert!(
                    !contains(bytes, n.as_bytes()),
                    "{when}: {name} holds content text {n:?}"
                );
            }
        }
    };
    check("while running");
    let _dir = s.stop().await;
    // Closing checkpoints the WAL into the main file.
    check("after closing");

    let logged = logs.0.lock().unwrap().clone();
    assert!(
        contains(&logged, b"OTLP request refused"),
        "log capture works: {}",
        String::from_utf8_lossy(&logged)
    );
    for n in &needles {
        assert!(
            !contains(&logged, n.as_bytes()),
            "a log line holds content text {n:?}"
        );
    }
}
