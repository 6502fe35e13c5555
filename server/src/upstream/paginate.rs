//! The one cursor loop of every Anthropic list: the usage report's and the
//! Enterprise Analytics API's opaque `page` ← `next_page` cursors and the
//! Admin API lists' `after_id` ← `last_id` (sources.md §1, §2, §3). Each API
//! says only how one page is fetched and where it points next ([`Page`]);
//! the rules of the sequence live here once, so the clients cannot drift.

use std::future::Future;

use super::UpstreamError;

/// How often one sequence is restarted after an expired cursor.
pub const CURSOR_RESTARTS: usize = 3;
/// A guard against a cursor that never ends.
pub const MAX_PAGES: usize = 10_000;

/// Where a page says the sequence goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The last page.
    End,
    /// Ask again with this cursor.
    Cursor(String),
    /// The page said there is more but gave no cursor to ask for it.
    Missing,
}

impl Next {
    /// For envelopes with `has_more` and a cursor (`next_page`, `last_id`).
    pub fn after(has_more: bool, cursor: Option<String>) -> Next {
        match (has_more, cursor) {
            (false, _) => Next::End,
            (true, Some(c)) if !c.is_empty() => Next::Cursor(c),
            (true, _) => Next::Missing,
        }
    }

    /// For envelopes where a cursor alone means more (`{data, next_page}`).
    pub fn from_cursor(cursor: Option<String>) -> Next {
        match cursor {
            Some(c) if !c.is_empty() => Next::Cursor(c),
            _ => Next::End,
        }
    }
}

/// One page: its records and where it points.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next: Next,
}

/// Every record of a sequence. `fetch(None)` asks for the first page,
/// `fetch(Some(cursor))` for the page a cursor points to; `what` names the
/// sequence in errors and logs (path, and the day when there is one).
///
/// - An expired cursor (HTTP 410, on a request that carried one) restarts the
///   sequence from its first page, at most [`CURSOR_RESTARTS`] times: a cursor
///   pins a consistent data boundary, so mixing pages of two sequences could
///   miss or double records. A 410 on a first page is an ordinary error.
/// - A page that says there is more without a cursor, a cursor that repeats
///   the one just asked with, or more than [`MAX_PAGES`] pages are decode
///   errors: following them would loop or return a partial sequence as whole.
pub async fn paginate<T, F, Fut>(what: &str, mut fetch: F) -> Result<Vec<T>, UpstreamError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, UpstreamError>>,
{
    let mut restarts = 0;
    'sequence: loop {
        let mut records = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = match fetch(cursor.clone()).await {
                Ok(p) => p,
                Err(e)
                    if e.status() == Some(410)
                        && cursor.is_some()
                        && restarts < CURSOR_RESTARTS =>
                {
                    restarts += 1;
                    tracing::info!(
                        what,
                        restarts,
                        "Anthropic API cursor expired; restarting from the first page"
                    );
                    continue 'sequence;
                }
                Err(e) => return Err(e),
            };
            records.extend(page.data);
            match page.next {
                Next::End => return Ok(records),
                Next::Cursor(next) if cursor.as_ref() == Some(&next) => {
                    return Err(UpstreamError::Decode(format!("{what} repeated its cursor")))
                }
                Next::Cursor(next) => cursor = Some(next),
                Next::Missing => {
                    return Err(UpstreamError::Decode(format!(
                        "{what} said has_more: true without a cursor for the next page"
                    )))
                }
            }
        }
        return Err(UpstreamError::Decode(format!(
            "{what} did not end after {MAX_PAGES} pages"
        )));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::VecDeque;
    use std::sync::Mutex;

    use super::*;

    fn expired() -> UpstreamError {
        UpstreamError::Status {
            status: 410,
            kind: "invalid_request_error".into(),
            message: "the page cursor has expired".into(),
            request_id: None,
            retry_after: None,
        }
    }

    fn page(data: &[u32], next: Next) -> Result<Page<u32>, UpstreamError> {
        Ok(Page {
            data: data.to_vec(),
            next,
        })
    }

    fn cursor(c: &str) -> Next {
        Next::Cursor(c.to_string())
    }

    /// Answers from a script, in order, and records the cursor of every call.
    async fn run(
        script: Vec<Result<Page<u32>, UpstreamError>>,
    ) -> (Result<Vec<u32>, UpstreamError>, Vec<Option<String>>) {
        let script = Mutex::new(VecDeque::from(script));
        let asked = Mutex::new(Vec::new());
        let out = paginate("/list", |c| {
            asked.lock().unwrap().push(c);
            let answer = script.lock().unwrap().pop_front().unwrap();
            async move { answer }
        })
        .await;
        (out, asked.into_inner().unwrap())
    }

    #[tokio::test]
    async fn pages_are_followed_to_the_end_in_order() {
        let (out, asked) = run(vec![
            page(&[1, 2], cursor("a")),
            page(&[3], cursor("b")),
            page(&[4], Next::End),
        ])
        .await;
        assert_eq!(out.unwrap(), vec![1, 2, 3, 4]);
        assert_eq!(asked, vec![None, Some("a".into()), Some("b".into())]);
    }

    #[tokio::test]
    async fn an_expired_cursor_restarts_from_the_first_page_without_duplicates() {
        let (out, asked) = run(vec![
            page(&[1], cursor("a")),
            Err(expired()),
            page(&[1], cursor("a2")),
            page(&[2], Next::End),
        ])
        .await;
        assert_eq!(out.unwrap(), vec![1, 2]);
        assert_eq!(asked[2], None, "restarted from the first page");
    }

    #[tokio::test]
    async fn expired_cursors_restart_at_most_three_times() {
        let mut script = Vec::new();
        for _ in 0..=CURSOR_RESTARTS {
            script.push(page(&[1], cursor("a")));
            script.push(Err(expired()));
        }
        let (out, asked) = run(script).await;
        assert_eq!(out.unwrap_err().status(), Some(410));
        assert_eq!(asked.len(), 2 * (CURSOR_RESTARTS + 1));
    }

    #[tokio::test]
    async fn a_410_on_the_first_page_is_an_error_not_a_restart() {
        let (out, asked) = run(vec![Err(expired())]).await;
        assert_eq!(out.unwrap_err().status(), Some(410));
        assert_eq!(asked.len(), 1);
    }

    // Drift guarded: the usage report's loop had no repeated-cursor check (the
    // Enterprise loop had one), so an upstream handing back the same cursor made
    // it ask 10,000 times for one page before failing.
    #[tokio::test]
    async fn a_repeated_cursor_fails_at_once_instead_of_looping() {
        let (out, asked) = run(vec![page(&[1], cursor("a")), page(&[1], cursor("a"))]).await;
        let err = out.unwrap_err().to_string();
        assert!(err.contains("/list repeated its cursor"), "{err}");
        assert_eq!(asked.len(), 2);
    }

    #[tokio::test]
    async fn more_without_a_cursor_is_an_error_not_a_short_list() {
        let (out, _) = run(vec![page(&[1], Next::Missing)]).await;
        let err = out.unwrap_err().to_string();
        assert!(err.contains("has_more: true without a cursor"), "{err}");
    }

    #[test]
    fn envelopes_map_to_where_the_sequence_goes() {
        assert_eq!(Next::after(false, Some("a".into())), Next::End);
        assert_eq!(Next::after(true, Some("a".into())), cursor("a"));
        assert_eq!(Next::after(true, Some(String::new())), Next::Missing);
        assert_eq!(Next::after(true, None), Next::Missing);
        assert_eq!(Next::from_cursor(Some("a".into())), cursor("a"));
        assert_eq!(Next::from_cursor(Some(String::new())), Next::End);
        assert_eq!(Next::from_cursor(None), Next::End);
    }
}
