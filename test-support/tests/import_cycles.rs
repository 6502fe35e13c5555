//! No import cycle among the modules of the page (`app/src`) or the server
//! (`server/src`): ARCHITECTURE.md gives each crate's module order, and a
//! cycle is how a leaf (state, errors) starts reaching back into the parts
//! built on it (issue 16).
//!
//! The test reads the sources as text. Each file is a module (`a/b.rs` and
//! `a/b/mod.rs` are `a::b`); every `crate::…` path in code (use statements,
//! with their `{…}` groups, and paths written inline) is an edge to the
//! longest known module it names. What it cannot see, on purpose:
//! - `super::…` and `self::…` paths, and a submodule named without `crate::`
//!   (a parent reaching into its own child is how Rust nests modules);
//! - names re-exported by the crate root (`crate::Name` with `pub use` in
//!   lib.rs) are followed one level, to the module they come from;
//! - macros that expand to paths, and anything the compiler resolves that is
//!   not spelled `crate::` in the text;
//! - test code: `#[cfg(test)]` modules, inline (`mod tests { … }`) or in
//!   files (`test_support.rs`), may reach anywhere, and are skipped.
//!
//! Comments, strings and char literals are blanked before reading paths, so
//! a doc comment's `[`crate::x`]` link is not an edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The workspace root (this crate is `test-support/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

#[test]
fn app_modules_form_no_import_cycle() {
    assert_no_cycle(&root().join("app/src"), "main.rs");
}

#[test]
fn server_modules_form_no_import_cycle() {
    assert_no_cycle(&root().join("server/src"), "lib.rs");
}

/// The checker itself: a cycle through a `use` group, an inline path and a
/// re-export is found; comments, strings and test modules are not edges.
#[test]
fn the_checker_sees_use_groups_inline_paths_and_skips_comments_and_tests() {
    let files = [
        ("lib.rs", "pub mod a; pub mod b; pub mod c;\n#[cfg(test)]\nmod t;\npub use c::Thing;"),
        ("a.rs", "use crate::{b::{self, X}, util};\n// crate::c in a comment\nfn f() { let s = \"crate::c\"; }"),
        ("b.rs", "fn g() -> crate::Thing { todo!() }\n#[cfg(test)]\nmod tests { use crate::a; }"),
        ("c.rs", "pub struct Thing; fn h() { crate::a::f(); let q = '\"'; }"),
        ("t.rs", "use crate::a;"),
    ];
    let sources: Vec<(String, String)> = files
        .iter()
        .map(|(p, s)| (p.to_string(), s.to_string()))
        .collect();
    let graph = graph_of(&sources, "lib.rs");
    let edges = |m: &str| graph.get(m).cloned().unwrap_or_default();
    assert_eq!(edges("a"), BTreeSet::from(["b".to_string()]));
    assert_eq!(edges("b"), BTreeSet::from(["c".to_string()]));
    assert_eq!(edges("c"), BTreeSet::from(["a".to_string()]));
    assert!(!graph.contains_key("t"), "a test-only module is skipped");
    let cycle = find_cycle(&graph).expect("a → b → c → a");
    assert_eq!(cycle.len(), 4);
}

fn assert_no_cycle(src: &Path, crate_root: &str) {
    let mut files = Vec::new();
    collect_rs(src, src, &mut files);
    assert!(
        files.iter().any(|(p, _)| p == crate_root),
        "{} has no {crate_root}",
        src.display()
    );
    let graph = graph_of(&files, crate_root);
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "import cycle among the modules of {}: {} (each imports the next through a `crate::` path; \
             ARCHITECTURE.md gives the order modules may import in)",
            src.display(),
            cycle.join(" → ")
        );
    }
}

/// Every `.rs` file under `dir`, as (path relative to `src` with `/`, text).
fn collect_rs(src: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_rs(src, &path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let rel = path.strip_prefix(src).unwrap_or(&path);
            out.push((rel.to_string_lossy().replace('\\', "/"), text));
        }
    }
}

/// `a/b.rs` and `a/b/mod.rs` → `a::b`; the crate root → `""`.
fn module_of(rel: &str, crate_root: &str) -> String {
    if rel == crate_root {
        return String::new();
    }
    let stem = rel.strip_suffix(".rs").unwrap_or(rel);
    let stem = stem.strip_suffix("/mod").unwrap_or(stem);
    stem.replace('/', "::")
}

/// Module → the modules it imports (the crate root and test-only modules left out).
fn graph_of(files: &[(String, String)], crate_root: &str) -> BTreeMap<String, BTreeSet<String>> {
    let code: Vec<(String, String)> = files
        .iter()
        .map(|(rel, text)| {
            (
                module_of(rel, crate_root),
                blank_comments_and_literals(text),
            )
        })
        .collect();
    let test_only: BTreeSet<String> = code
        .iter()
        .flat_map(|(m, text)| {
            test_mod_names(text)
                .into_iter()
                .map(move |n| if m.is_empty() { n } else { format!("{m}::{n}") })
        })
        .collect();
    let is_test = |m: &str| {
        test_only
            .iter()
            .any(|t| m == t || m.starts_with(&format!("{t}::")))
    };
    let modules: BTreeSet<String> = code
        .iter()
        .map(|(m, _)| m.clone())
        .filter(|m| !m.is_empty() && !is_test(m))
        .collect();
    // `pub use a::b::Name;` in the root: `crate::Name` is module `a::b`'s.
    let reexports: BTreeMap<String, String> = code
        .iter()
        .filter(|(m, _)| m.is_empty())
        .flat_map(|(_, text)| root_reexports(text))
        .collect();
    let mut graph = BTreeMap::new();
    for (m, text) in &code {
        if !modules.contains(m) {
            continue;
        }
        let text = strip_test_modules(text);
        let mut deps = BTreeSet::new();
        for path in crate_paths(&text) {
            let target = resolve(&path, &modules, &reexports);
            if let Some(t) = target.filter(|t| t != m && !is_test(t)) {
                deps.insert(t);
            }
        }
        graph.insert(m.clone(), deps);
    }
    graph
}

/// The longest known module that `a::b::c` starts with.
fn resolve(
    path: &str,
    modules: &BTreeSet<String>,
    reexports: &BTreeMap<String, String>,
) -> Option<String> {
    let parts: Vec<&str> = path.split("::").collect();
    for n in (1..=parts.len()).rev() {
        let candidate = parts[..n].join("::");
        if modules.contains(&candidate) {
            return Some(candidate);
        }
    }
    parts
        .first()
        .and_then(|first| reexports.get(*first))
        .filter(|m| modules.contains(*m))
        .cloned()
}

/// Replaces comments, string and char literals with spaces (lines kept).
fn blank_comments_and_literals(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    while i < c.len() {
        let next = c.get(i + 1).copied();
        if c[i] == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                blank(&mut out, c[i]);
                i += 1;
            }
        } else if c[i] == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
        } else if c[i] == 'r'
            && (next == Some('"') || next == Some('#'))
            && (i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_'))
        {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match c.get(j) {
                    None => break,
                    Some('"') if (1..=hashes).all(|k| c.get(j + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    _ => j += 1,
                }
            }
            for &ch in &c[i..j.min(c.len())] {
                blank(&mut out, ch);
            }
            i = j;
        } else if c[i] == '"' {
            blank(&mut out, c[i]);
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    blank(&mut out, c[i]);
                    i += 1;
                }
                if i < c.len() {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
            if i < c.len() {
                blank(&mut out, c[i]);
                i += 1;
            }
        } else if c[i] == '\'' {
            // A char literal ('x', '\n', '\u{1F600}'), or a lifetime ('a), kept.
            let end = if next == Some('\\') {
                (i + 2..c.len()).find(|&j| c[j] == '\'')
            } else if c.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(e) => {
                    for &ch in &c[i..=e] {
                        blank(&mut out, ch);
                    }
                    i = e + 1;
                }
                None => {
                    out.push(c[i]);
                    i += 1;
                }
            }
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// The attributes just before position `at` (which starts an item).
fn attributes_before(text: &str, at: usize) -> String {
    let before = text[..at].trim_end();
    let mut attrs = String::new();
    let mut rest = before;
    while rest.ends_with(']') {
        let Some(open) = rest.rfind("#[") else { break };
        attrs.insert_str(0, &rest[open..]);
        rest = rest[..open].trim_end();
    }
    attrs
}

/// Starts of `mod name` items (with `pub`/`pub(crate)` in front), with the name.
fn mod_items(text: &str) -> Vec<(usize, usize, String)> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(k) = text[from..].find("mod ") {
        let at = from + k;
        from = at + 4;
        let word_start =
            at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        if !word_start {
            continue;
        }
        let name: String = text[at + 4..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            continue;
        }
        // The item starts at `pub…` when there is one.
        let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
        let prefix = text[line_start..at].trim();
        let item_start = if prefix.is_empty() || prefix.starts_with("pub") {
            line_start
        } else {
            continue;
        };
        found.push((item_start, at, name));
    }
    found
}

fn is_test_attr(attrs: &str) -> bool {
    attrs.contains("#[cfg(test)]") || attrs.contains("#[cfg(all(test")
}

/// Names of the modules a file declares under `#[cfg(test)]`.
fn test_mod_names(text: &str) -> Vec<String> {
    mod_items(text)
        .into_iter()
        .filter(|(start, _, _)| is_test_attr(&attributes_before(text, *start)))
        .map(|(_, _, name)| name)
        .collect()
}

/// The text without its inline `#[cfg(test)] mod … { … }` blocks.
fn strip_test_modules(text: &str) -> String {
    let mut out = text.to_string();
    // From the last, so earlier positions stay valid.
    for (start, at, _) in mod_items(text).into_iter().rev() {
        if !is_test_attr(&attributes_before(text, start)) {
            continue;
        }
        let Some(open) = text[at..].find(['{', ';']).map(|k| at + k) else {
            continue;
        };
        if text.as_bytes()[open] == b';' {
            continue;
        }
        let mut depth = 0;
        let mut end = text.len();
        for (k, ch) in text[open..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.replace_range(start..end, "");
    }
    out
}

/// `pub use a::b::Name;` (also `pub use a::{X, Y}`) in a crate root: name → `a::b`.
fn root_reexports(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for stmt in text.split(';') {
        let s = stmt.trim();
        let Some(rest) = s.strip_prefix("pub use ") else {
            continue;
        };
        for path in use_tree_paths(rest.trim_start_matches("crate::")) {
            if let Some((module, name)) = path.rsplit_once("::") {
                found.push((name.trim().to_string(), module.trim().to_string()));
            }
        }
    }
    found
}

/// Every module path written after `crate::` (use groups expanded).
fn crate_paths(text: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(k) = text[from..].find("crate::") {
        let at = from + k;
        from = at + 7;
        if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
            continue; // `scoreboard_crate::…` and the like
        }
        let rest = &text[at + 7..];
        // The path up to where it stops being one (a group is read whole).
        let mut end = 0;
        let mut depth = 0;
        for (k, ch) in rest.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' if depth > 0 => depth -= 1,
                c if depth == 0 && !(c.is_alphanumeric() || c == '_' || c == ':') => {
                    end = k;
                    break;
                }
                _ => {}
            }
            end = k + ch.len_utf8();
        }
        paths.extend(use_tree_paths(&rest[..end]));
    }
    paths
}

/// `a::{b::{self, X}, c}` → `a::b`, `a::b::X`, `a::c`.
fn use_tree_paths(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.trim_end_matches("::").trim();
        let path = path.split(" as ").next().unwrap_or(path).trim();
        return if path.is_empty() {
            Vec::new()
        } else {
            vec![path.trim_end_matches("::self").to_string()]
        };
    };
    let prefix = tree[..open].trim().trim_end_matches("::");
    let inner = tree[open + 1..].trim_end().trim_end_matches('}');
    // Split the group at its top-level commas.
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (k, ch) in inner.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .flat_map(|p| {
            use_tree_paths(p).into_iter().map(move |sub| {
                if sub == "self" {
                    prefix.to_string()
                } else if prefix.is_empty() {
                    sub
                } else {
                    format!("{prefix}::{sub}")
                }
            })
        })
        .collect()
}

/// One cycle (first module repeated at the end), if any.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(m.to_string(), Mark::Open);
        stack.push(m.to_string());
        for next in graph.get(m).into_iter().flatten() {
            match marks.get(next).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let from = stack.iter().position(|s| s == next).unwrap_or(0);
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(c) = visit(next, graph, marks, stack) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(m.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for m in graph.keys() {
        if marks.get(m).copied().unwrap_or(Mark::New) == Mark::New {
            let mut stack = Vec::new();
            if let Some(c) = visit(m, graph, &mut marks, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}
