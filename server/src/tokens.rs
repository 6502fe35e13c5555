//! Access tokens: ingest tokens that engineers' Claude Code sends with its
//! telemetry, and viewer tokens that let a person read the page API on a
//! non-loopback server. Only a token's SHA-256 is stored; the token itself is
//! printed once, when it is created.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::store::{Store, StoreError, TokenKind, TokenRecord};

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the system's random number source failed: {0}")]
    Random(String),
    #[error("a token needs a name (who or what it is for), e.g. --name platform-team")]
    EmptyName,
    #[error("there is no active token with id {0} (see `scoreboard token list`)")]
    NotFound(i64),
}

/// A freshly created token: the only moment its clear text exists.
pub struct NewToken {
    pub token: String,
    pub record: TokenRecord,
}

fn prefix(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Ingest => "sbi_",
        TokenKind::Viewer => "sbv_",
        TokenKind::Admin => "sba_",
    }
}

pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.trim().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn generate(kind: TokenKind) -> Result<String, TokenError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| TokenError::Random(e.to_string()))?;
    let body: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{}{}", prefix(kind), body))
}

pub fn create(
    store: &Store,
    kind: TokenKind,
    name: &str,
    now: DateTime<Utc>,
) -> Result<NewToken, TokenError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(TokenError::EmptyName);
    }
    let token = generate(kind)?;
    // The hint is the prefix and four characters of 64 random ones: enough to
    // tell tokens apart in a list, far too little to guess one.
    let hint = format!("{}…", &token[..prefix(kind).len() + 4]);
    let record = store.insert_token(kind, name, &hash_token(&token), &hint, now)?;
    Ok(NewToken { token, record })
}

/// Revokes `id` and creates a token of the same kind and name in its place.
pub fn rotate(store: &Store, id: i64, now: DateTime<Utc>) -> Result<NewToken, TokenError> {
    let Some(old) = store.token(id)?.filter(|t| t.revoked_at.is_none()) else {
        return Err(TokenError::NotFound(id));
    };
    let new = create(store, old.kind, &old.name, now)?;
    store.revoke_token(id, now)?;
    Ok(new)
}

pub fn revoke(store: &Store, id: i64, now: DateTime<Utc>) -> Result<TokenRecord, TokenError> {
    if !store.revoke_token(id, now)? {
        return Err(TokenError::NotFound(id));
    }
    store.token(id)?.ok_or(TokenError::NotFound(id))
}

/// What a presented token turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    Active(TokenRecord),
    /// A token that existed and was revoked: refusals are counted against it.
    Revoked(TokenRecord),
    Unknown,
}

/// Looks a presented token up, whatever its kind or state.
pub fn identify(store: &Store, presented: &str) -> Result<Presented, StoreError> {
    let presented = presented.trim();
    if presented.is_empty() {
        return Ok(Presented::Unknown);
    }
    Ok(match store.token_by_hash(&hash_token(presented))? {
        Some(t) if t.revoked_at.is_none() => Presented::Active(t),
        Some(t) => Presented::Revoked(t),
        None => Presented::Unknown,
    })
}

/// The active token of `kind` whose clear text is `presented`, if any.
pub fn check(
    store: &Store,
    kind: TokenKind,
    presented: &str,
) -> Result<Option<TokenRecord>, StoreError> {
    let presented = presented.trim();
    if presented.is_empty() {
        return Ok(None);
    }
    Ok(store
        .active_token_by_hash(&hash_token(presented))?
        .filter(|t| t.kind == kind))
}

// One snippet for the CLI and the page's "Connect Claude Code" view.
pub use scoreboard_core::telemetry::{settings_json, telemetry_env};

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A macOS configuration profile for MDM (Jamf, Kandji, Intune…): managed
/// preferences in Claude Code's `com.anthropic.claudecode` domain.
pub fn mobileconfig(endpoint: &str, token: &str, name: &str) -> String {
    let mut env = String::new();
    for (k, v) in telemetry_env(endpoint, token) {
        env.push_str(&format!(
            "                <key>{}</key>\n                <string>{}</string>\n",
            xml_escape(k),
            xml_escape(&v)
        ));
    }
    // Stable identifiers derived from the token's hash: re-installing the
    // same profile replaces it instead of adding a second one.
    let h = hash_token(token);
    let uuid = |salt: &str| {
        let d = hash_token(&format!("{salt}{h}"));
        format!(
            "{}-{}-{}-{}-{}",
            &d[0..8],
            &d[8..12],
            &d[12..16],
            &d[16..20],
            &d[20..32]
        )
        .to_uppercase()
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
    <key>PayloadContent</key>
    <array>
        <dict>
            <key>PayloadType</key>
            <string>com.anthropic.claudecode</string>
            <key>PayloadIdentifier</key>
            <string>com.anthropic.claudecode.scoreboard-telemetry</string>
            <key>PayloadUUID</key>
            <string>{content_uuid}</string>
            <key>PayloadVersion</key>
            <integer>1</integer>
            <key>PayloadDisplayName</key>
            <string>Claude Code telemetry to Scoreboard</string>
            <key>env</key>
            <dict>
{env}            </dict>
        </dict>
    </array>
    <key>PayloadDisplayName</key>
    <string>Claude Code telemetry ({name})</string>
    <key>PayloadIdentifier</key>
    <string>scoreboard.claude-code-telemetry</string>
    <key>PayloadType</key>
    <string>Configuration</string>
    <key>PayloadUUID</key>
    <string>{profile_uuid}</string>
    <key>PayloadVersion</key>
    <integer>1</integer>
</dict>
</plist>
"#,
        content_uuid = uuid("content"),
        profile_uuid = uuid("profile"),
        env = env,
        name = xml_escape(name),
    )
}

/// What `token create` prints for an ingest token: the token once and how to install it.
pub fn ingest_instructions(endpoint: &str, new: &NewToken) -> String {
    let token = &new.token;
    let mut out = String::new();
    out.push_str(&format!(
        "Created ingest token #{} \"{}\". It can only send telemetry to this server.\n\n    {token}\n\n\
         This is the only time it is shown; only its hash is stored.\n\n",
        new.record.id, new.record.name
    ));
    let loopback = endpoint.contains("://127.")
        || endpoint.contains("://localhost")
        || endpoint.contains("://[::1]");
    if loopback {
        out.push_str(&format!(
            "Note: {endpoint} is only reachable from this machine. For engineers' machines, set `public_url` \
             in the config (or pass --endpoint) to the address they reach this server at.\n\n"
        ));
    }
    out.push_str(
        "1. One engineer: merge this into ~/.claude/settings.json (OTEL settings in a repository's \
         .claude/settings.json are ignored by Claude Code):\n\n",
    );
    out.push_str(&settings_json(endpoint, token));
    out.push_str(
        "\n\n2. Every machine, enforced: the same JSON as managed-settings.json in\n   \
         macOS   /Library/Application Support/ClaudeCode/managed-settings.json\n   \
         Linux   /etc/claude-code/managed-settings.json\n   \
         Windows C:\\Program Files\\ClaudeCode\\managed-settings.json\n\n",
    );
    out.push_str("3. macOS through MDM: upload this configuration profile (save it as scoreboard-telemetry.mobileconfig):\n\n");
    out.push_str(&mobileconfig(endpoint, token, &new.record.name));
    out.push_str(
        "\nCheck: start `claude`, type a prompt, and within a minute the Sources bar of the page shows \
         telemetry received. Revoke with `scoreboard token revoke ",
    );
    out.push_str(&format!("{}`.\n", new.record.id));
    out
}

pub fn viewer_instructions(new: &NewToken) -> String {
    let can = match new.record.kind {
        TokenKind::Admin => {
            "It can read this server's dashboard data and delete anyone's stored share snapshots"
        }
        _ => {
            "It can only read this server's dashboard data and manage the share snapshots it stores"
        }
    };
    format!(
        "Created {} token #{} \"{}\". {can}.\n\n    {}\n\n\
         This is the only time it is shown; only its hash is stored.\n\
         Send it as the header `Authorization: Bearer <token>`.\n\
         Revoke with `scoreboard token revoke {}`.\n",
        new.record.kind.as_str(),
        new.record.id,
        new.record.name,
        new.token,
        new.record.id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stored_hashed_and_checked_by_kind() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let now = Utc::now();
        let t = create(&store, TokenKind::Ingest, "platform", now).unwrap();
        assert!(t.token.starts_with("sbi_") && t.token.len() == 68);
        assert!(check(&store, TokenKind::Ingest, &t.token)
            .unwrap()
            .is_some());
        assert!(check(&store, TokenKind::Viewer, &t.token)
            .unwrap()
            .is_none());
        let raw = std::fs::read(dir.path().join("s.db")).unwrap_or_default();
        let wal = std::fs::read(dir.path().join("s.db-wal")).unwrap_or_default();
        let needle = t.token.as_bytes();
        for bytes in [raw, wal] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "clear token found in the database"
            );
        }
        let rotated = rotate(&store, t.record.id, now).unwrap();
        assert!(check(&store, TokenKind::Ingest, &t.token)
            .unwrap()
            .is_none());
        assert!(check(&store, TokenKind::Ingest, &rotated.token)
            .unwrap()
            .is_some());
        assert!(matches!(
            revoke(&store, t.record.id, now),
            Err(TokenError::NotFound(_))
        ));
    }

    #[test]
    fn the_snippet_has_every_variable_claude_code_needs() {
        let s = settings_json("https://sb.example.com", "sbi_x");
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(
            v["env"]["OTEL_EXPORTER_OTLP_HEADERS"],
            "Authorization=Bearer sbi_x"
        );
        assert_eq!(v["env"]["OTEL_EXPORTER_OTLP_PROTOCOL"], "http/json");
        assert_eq!(v["env"]["CLAUDE_CODE_ENABLE_TELEMETRY"], "1");
        let m = mobileconfig("https://sb.example.com", "sbi_x", "a&b");
        assert!(m.contains("<string>com.anthropic.claudecode</string>"));
        assert!(m.contains("<string>Authorization=Bearer sbi_x</string>"));
        assert!(m.contains("a&amp;b"));
    }
}
