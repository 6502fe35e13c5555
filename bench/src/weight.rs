//! Page weight: every file of the first visit, raw, gzip (level 9) and brotli
//! (quality 11), and what the real server actually puts on the wire.

use std::io::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::{ctx, Result};

#[derive(Debug, Clone, Serialize)]
pub struct FileWeight {
    pub path: String,
    pub raw: u64,
    pub gzip: u64,
    pub brotli: u64,
    /// Bytes of the body the server sent for `Accept-Encoding: gzip, deflate, br`.
    pub transferred: Option<u64>,
    /// Its `Content-Encoding` (`identity` when none).
    pub served_encoding: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PageWeight {
    pub files: Vec<FileWeight>,
    pub total_raw: u64,
    pub total_gzip: u64,
    pub total_brotli: u64,
    pub total_transferred: Option<u64>,
    /// 350 KB brotli as served (issue 12; 1 KB = 1000 bytes).
    pub budget_bytes: u64,
    /// The page's lazily loaded wasm modules (scripts/wasm-split.sh), fetched
    /// only when the view they hold is first shown: not part of the first visit.
    pub lazy: Vec<FileWeight>,
    pub lazy_total_brotli: u64,
    pub lazy_total_transferred: Option<u64>,
}

pub const BUDGET_BYTES: u64 = 350_000;

pub fn gzip(bytes: &[u8]) -> u64 {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let _ = e.write_all(bytes);
    e.finish().map(|v| v.len() as u64).unwrap_or(0)
}

pub fn brotli(bytes: &[u8]) -> u64 {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 64 * 1024, 11, 22);
        let _ = w.write_all(bytes);
    }
    out.len() as u64
}

/// The local modules a JS file imports statically (`from './x.js'`, relative to
/// it), as paths relative to `dist`: the browser fetches them before it runs
/// the file. `import(…)` and `fetch(new URL(…))` are on demand and not listed.
fn static_imports(dist: &Path, js: &str) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(dist.join(js)) else {
        return Vec::new();
    };
    let base = Path::new(js).parent().unwrap_or(Path::new(""));
    let mut out = Vec::new();
    for part in text.split("from ").skip(1) {
        let Some(q) = part.chars().next().filter(|c| *c == '\'' || *c == '"') else {
            continue;
        };
        let Some(spec) = part[1..].split(q).next() else {
            continue;
        };
        if !spec.starts_with("./") && !spec.starts_with("../") {
            continue;
        }
        // Normalise `a/./b` and `a/../b` without touching the file system.
        let mut parts: Vec<&str> = base.iter().filter_map(|c| c.to_str()).collect();
        for c in spec.split('/') {
            match c {
                "." | "" => {}
                ".." => {
                    parts.pop();
                }
                c => parts.push(c),
            }
        }
        let path = parts.join("/");
        if dist.join(&path).is_file() {
            out.push(path);
        }
    }
    out
}

/// The page's lazily loaded modules: the `.wasm` files of `wasm-split-*/`.
pub fn lazy_files(dist: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for d in std::fs::read_dir(dist).into_iter().flatten().flatten() {
        let name = d.file_name().to_string_lossy().to_string();
        if name.starts_with("wasm-split-") && d.path().is_dir() {
            for e in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
                let f = e.file_name().to_string_lossy().to_string();
                if f.ends_with(".wasm") {
                    files.push(format!("{name}/{f}"));
                }
            }
        }
    }
    files.sort();
    files
}

/// The files the first visit loads: index.html and every local file its
/// attributes and inline module script name (the wasm-bindgen JS, the wasm, the
/// CSS), the modules those JS files import statically (the split modules'
/// loader, `wasm-split-*/__wasm_split.js`), plus wasm-bindgen's `snippets/`
/// (imported by the JS). The lazily loaded wasm modules ([`lazy_files`]) are
/// not part of it, and neither is the demo data: the page fetches it only when
/// the server runs with --demo.
pub fn first_visit_files(dist: &Path) -> Result<Vec<String>> {
    let html = std::fs::read_to_string(dist.join("index.html"))
        .map_err(ctx(format!("{}/index.html", dist.display())))?;
    let mut files = vec!["index.html".to_string()];
    for quoted in html.split(['"', '\'']).skip(1).step_by(2) {
        let p = quoted.trim_start_matches("./").trim_start_matches('/');
        if p.is_empty() || p.contains(':') || p.contains(' ') || p.contains('<') {
            continue;
        }
        if dist.join(p).is_file() && !files.iter().any(|f| f == p) {
            files.push(p.to_string());
        }
    }
    let mut i = 0;
    while i < files.len() {
        if files[i].ends_with(".js") {
            for f in static_imports(dist, &files[i].clone()) {
                if !files.contains(&f) {
                    files.push(f);
                }
            }
        }
        i += 1;
    }
    let snippets = dist.join("snippets");
    if snippets.is_dir() {
        let mut stack = vec![snippets];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).map_err(ctx(d.display()))?.flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(rel) = path.strip_prefix(dist) {
                    files.push(rel.display().to_string());
                }
            }
        }
    }
    Ok(files)
}

/// Weighs the files; with `server` (base URL of `scoreboard serve --dist`), also
/// downloads each with the browser's Accept-Encoding and counts the body bytes.
pub async fn measure(dist: &Path, server: Option<&str>) -> Result<PageWeight> {
    let files = weigh(dist, server, first_visit_files(dist)?).await?;
    let lazy = weigh(dist, server, lazy_files(dist)).await?;
    let sum = |v: &[FileWeight], g: fn(&FileWeight) -> u64| v.iter().map(g).sum::<u64>();
    Ok(PageWeight {
        total_raw: sum(&files, |f| f.raw),
        total_gzip: sum(&files, |f| f.gzip),
        total_brotli: sum(&files, |f| f.brotli),
        total_transferred: server.map(|_| sum(&files, |f| f.transferred.unwrap_or(0))),
        budget_bytes: BUDGET_BYTES,
        lazy_total_brotli: sum(&lazy, |f| f.brotli),
        lazy_total_transferred: server.map(|_| sum(&lazy, |f| f.transferred.unwrap_or(0))),
        files,
        lazy,
    })
}

async fn weigh(dist: &Path, server: Option<&str>, list: Vec<String>) -> Result<Vec<FileWeight>> {
    let client = reqwest::Client::builder()
        .build()
        .map_err(ctx("http client"))?;
    let mut files = Vec::new();
    for f in list {
        let bytes = std::fs::read(dist.join(&f)).map_err(ctx(&f))?;
        let (transferred, served_encoding) = match server {
            Some(base) => {
                let url = if f == "index.html" {
                    format!("{base}/")
                } else {
                    format!("{base}/{f}")
                };
                let resp = client
                    .get(&url)
                    .header("Accept-Encoding", "gzip, deflate, br")
                    .send()
                    .await
                    .map_err(ctx(&url))?;
                let enc = resp
                    .headers()
                    .get("content-encoding")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("identity")
                    .to_string();
                let body = resp.bytes().await.map_err(ctx(&url))?;
                (Some(body.len() as u64), Some(enc))
            }
            None => (None, None),
        };
        files.push(FileWeight {
            raw: bytes.len() as u64,
            gzip: gzip(&bytes),
            brotli: brotli(&bytes),
            path: f,
            transferred,
            served_encoding,
        });
    }
    Ok(files)
}
