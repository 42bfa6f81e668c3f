//! (Over 800 lines only with its unit tests: 500 lines of code, then the tests.)
//!
//! Credentials inside requests: which values are secret, moving them out into the secret store
//! (collections, the app's saved editors) and masking them where a request is kept or shown
//! (history, exports). Bodies are never altered. One detector for every transport: HTTP headers, gRPC metadata, AMQP
//! headers and URLs today; NATS and Kafka settings (user/password, tokens, SASL) go through the
//! same [`redact`] with [`Field::Named`] when those transports land.

use super::collection::vars::only_references;
use super::collection::{SavedHeader, SavedRequest, SavedSpec};
use super::exchange::{Exchange, Header, Message};
use super::history::HistoryEntry;
use super::watched::WatchedMessage;

/// What a masked secret shows instead of its value.
pub const MASK: &str = "••••";

/// Appended to a masked header value, so nobody mistakes it for the real one.
pub const REDACTED: &str = "(redacted)";

/// Exact names (lower case, `_`/`.` read as `-`) whose values are credentials.
const SENSITIVE_NAMES: &[&str] = &["pass", "sig", "pwd"];

/// Parts of a name that make its value a credential (`x-auth-token`, `client_secret`, Kafka
/// `sasl.password`, NATS `nkey`, `Set-Cookie`, `X-Signature`…).
const SENSITIVE_PARTS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "session",
    "credential",
    "cookie",
    "signature",
    "jwt",
];

/// Words of a name that contain `auth` without being about authentication.
const NOT_AUTH: &[&str] = &["author", "authors", "authority"];

/// Headers that carry an authentication challenge or its parameters, not a credential.
const CHALLENGES: &[&str] = &["www-authenticate", "proxy-authenticate"];

/// Names where `key` is an identifier, not a secret.
const NOT_SECRET_KEYS: &[&str] = &[
    "idempotency-key",
    "routing-key",
    "partition-key",
    "sort-key",
    "message-key",
];

/// Auth schemes whose following word is a credential, whatever the header is called.
const SCHEMES: &[&str] = &["bearer", "basic", "digest", "token"];

fn normalized(name: &str) -> String {
    name.trim()
        .trim_start_matches(':')
        .chars()
        .map(|c| match c {
            '_' | '.' | ' ' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// True when a header, gRPC metadata key, AMQP header, query parameter or named setting
/// holds a credential: names with `auth` (`Authorization`, `Authentication`, `X-Auth`…),
/// `key` as a word (`x-api-key`, `apikey`, `Ocp-Apim-Subscription-Key`), `signature`,
/// `credential`, `secret`, `token`, `password`, `session` or `cookie` in them.
pub fn is_sensitive_name(name: &str) -> bool {
    let name = normalized(name);
    if name.is_empty() || CHALLENGES.contains(&name.as_str()) {
        return false;
    }
    if SENSITIVE_NAMES.contains(&name.as_str()) || SENSITIVE_PARTS.iter().any(|s| name.contains(s))
    {
        return true;
    }
    let words: Vec<&str> = name.split('-').filter(|w| !w.is_empty()).collect();
    let auth = words
        .iter()
        .any(|w| w.contains("auth") && !NOT_AUTH.contains(w));
    let key = words.iter().any(|w| {
        *w == "key"
            || w.starts_with("nkey")
            || [
                "apikey",
                "accesskey",
                "secretkey",
                "privatekey",
                "subscriptionkey",
            ]
            .iter()
            .any(|k| w.ends_with(k))
    }) && !NOT_SECRET_KEYS.iter().any(|k| name.ends_with(k));
    auth || key
}

/// The auth scheme a value starts with (`Bearer abc` → `Bearer`), if it is one of
/// [`SCHEMES`] followed by a credential.
fn auth_scheme(value: &str) -> Option<(&str, &str)> {
    let (scheme, credential) = value.trim().split_once(' ')?;
    (SCHEMES.iter().any(|s| scheme.eq_ignore_ascii_case(s)) && !credential.trim().is_empty())
        .then_some((scheme, credential))
}

/// True when a named value is a credential: its name is sensitive ([`is_sensitive_name`]) or
/// its value starts with an auth scheme (`Bearer …`, `Basic …`, `Digest …`, `Token …`).
pub fn is_sensitive(name: &str, value: &str) -> bool {
    is_sensitive_name(name) || auth_scheme(value).is_some()
}

/// What kind of value is being redacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<'a> {
    /// A header, gRPC metadata entry, AMQP/NATS/Kafka message header, or a named setting
    /// (NATS `token`/`password`, Kafka `sasl.password`): masked when [`is_sensitive_name`].
    /// An auth scheme (`Bearer`, `Basic`) and cookie names are kept.
    Named(&'a str),
    /// A URL, an address, or any text that may hold URLs (an error message, a request line):
    /// the password of every `scheme://user:password@host` is masked, and so is the token of
    /// `nats://TOKEN@host`.
    Url,
}

/// The redaction rule, in one place: `value` as it may be kept or shown, or `None` when it
/// holds no literal credential (variables like `{{token}}` are not credentials).
///
/// `Authorization: Bearer abc` → `Bearer •••• (redacted)`; `Cookie: a=1; b=2` →
/// `a=••••; b=•••• (redacted)`; `amqp://user:pw@host` → `amqp://user:••••@host`.
pub fn redact(field: Field<'_>, value: &str) -> Option<String> {
    redact_collecting(field, value, &mut Vec::new())
}

/// [`redact`], also collecting the literal secrets it masked (to scrub copies of them
/// elsewhere: an error message, a body that echoes a header).
fn redact_collecting(field: Field<'_>, value: &str, found: &mut Vec<String>) -> Option<String> {
    match field {
        Field::Named(name) => redact_named(name, value, found),
        Field::Url => redact_urls(value, found),
    }
}

fn is_literal(secret: &str) -> bool {
    let secret = secret.trim();
    !secret.is_empty() && !only_references(secret) && !secret.contains(MASK)
}

fn redact_named(name: &str, value: &str, found: &mut Vec<String>) -> Option<String> {
    if !is_sensitive(name, value) || value.trim().ends_with(REDACTED) {
        return None;
    }
    let lower = normalized(name);
    if lower == "cookie" || lower == "set-cookie" {
        // `name=value` pairs; for Set-Cookie only the first is the cookie, the rest are
        // attributes (Path, HttpOnly…).
        let mut any = false;
        let pairs: Vec<String> = value
            .split(';')
            .enumerate()
            .map(|(i, pair)| match pair.split_once('=') {
                Some((k, v)) if (lower == "cookie" || i == 0) && is_literal(v) => {
                    any = true;
                    found.push(v.trim().to_string());
                    format!("{}={MASK}", k.trim())
                }
                _ => pair.trim().to_string(),
            })
            .collect();
        return any.then(|| format!("{} {REDACTED}", pairs.join("; ")));
    }
    let trimmed = value.trim();
    // `Bearer TOKEN`, `Basic B64`, `Digest …`: the scheme is not secret.
    let scheme = auth_scheme(trimmed).or_else(|| {
        trimmed.split_once(' ').filter(|(scheme, _)| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
                && lower.contains("authorization")
        })
    });
    if let Some((scheme, credential)) = scheme {
        if !is_literal(credential) {
            return None;
        }
        found.push(credential.trim().to_string());
        return Some(format!("{scheme} {MASK} {REDACTED}"));
    }
    if !is_literal(trimmed) {
        return None;
    }
    found.push(trimmed.to_string());
    Some(format!("{MASK} {REDACTED}"))
}

/// Where the secret of the userinfo of the URL whose `://` is at `sep` sits: the password of
/// `user:password@`, or a lone user (`TOKEN@`). `None` when there is no userinfo.
fn userinfo_secret(text: &str, sep: usize) -> Option<(usize, usize)> {
    let start = sep + 3;
    let end = text[start..]
        .find(|c: char| {
            matches!(c, '/' | '?' | '#' | '"' | '\'' | '<' | '>' | '`') || c.is_whitespace()
        })
        .map_or(text.len(), |i| start + i);
    let at = text[start..end].rfind('@')? + start;
    match text[start..at].find(':') {
        Some(colon) => Some((start + colon + 1, at)),
        // `nats://TOKEN@host`, `http://TOKEN@host`: a lone user is a token.
        None => Some((start, at)),
    }
}

/// Where the URL whose `://` is at `sep` ends (a space, a quote, a bracket).
fn url_end(text: &str, sep: usize) -> usize {
    text[sep + 3..]
        .find(|c: char| matches!(c, '"' | '\'' | '<' | '>' | '`') || c.is_whitespace())
        .map_or(text.len(), |i| sep + 3 + i)
}

/// The values of sensitive query parameters (`access_token`, `api_key`, `key`, `sig`…) of
/// the URL spanning `start..end` of `text`, as ranges.
fn query_secrets(text: &str, start: usize, end: usize) -> Vec<(usize, usize)> {
    let url = &text[start..end];
    let Some(q) = url.find('?') else {
        return Vec::new();
    };
    let query_end = url[q..].find('#').map_or(url.len(), |i| q + i);
    let mut out = Vec::new();
    let mut at = q + 1;
    for pair in url[q + 1..query_end].split(['&', ';']) {
        if let Some((name, value)) = pair.split_once('=') {
            let name = percent_decoded(name);
            let value_start = at + name_len(pair);
            if is_sensitive_name(&name) && is_literal(value) {
                out.push((start + value_start, start + value_start + value.len()));
            }
        }
        at += pair.len() + 1;
    }
    out
}

fn name_len(pair: &str) -> usize {
    pair.find('=').map_or(pair.len(), |i| i + 1)
}

fn percent_decoded(name: &str) -> String {
    name.replace("%5F", "_")
        .replace("%5f", "_")
        .replace('+', " ")
}

fn redact_urls(text: &str, found: &mut Vec<String>) -> Option<String> {
    let mut ranges = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find("://") {
        let sep = from + i;
        let end = url_end(text, sep);
        from = end.max(sep + 3);
        if let Some((start, end)) = userinfo_secret(text, sep)
            && is_literal(&text[start..end])
        {
            ranges.push((start, end));
        }
        ranges.extend(query_secrets(text, sep, end));
    }
    if ranges.is_empty() {
        return None;
    }
    let mut out = String::new();
    let mut copied = 0;
    for (start, end) in ranges {
        found.push(text[start..end].to_string());
        out.push_str(&text[copied..start]);
        out.push_str(MASK);
        copied = end;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// One URL (a broker's, as shown in a timeline or an error) without its password or token:
/// [`redact`]'s rule, and for a URL that rule cannot read (a space in the password, one slash
/// after the scheme) everything literal between the user's `:` and the `@` masked too. Only
/// for a value that is one URL: in free text an `@` may be anything.
pub fn redact_url(url: &str) -> String {
    let redacted = redact(Field::Url, url).unwrap_or_else(|| url.to_string());
    mask_userinfo(&redacted)
}

/// `scheme:[//]user:secret@rest` → `scheme:[//]user:••••@rest` (a lone `token@` is masked
/// whole) when the secret is literal; anything else as it is.
fn mask_userinfo(url: &str) -> String {
    let Some(colon) = url.find(':') else {
        return url.to_string();
    };
    let after = &url[colon + 1..];
    let start = colon + 1 + after.len() - after.trim_start_matches('/').len();
    let limit = url[start..].find('?').map_or(url.len(), |i| start + i);
    let Some(at) = url[start..limit].rfind('@').map(|i| start + i) else {
        return url.to_string();
    };
    let secret_start = url[start..at].find(':').map_or(start, |i| start + i + 1);
    if !is_literal(&url[secret_start..at]) {
        return url.to_string();
    }
    format!("{}{MASK}{}", &url[..secret_start], &url[at..])
}

/// Splits `scheme://user:password@host/...` into (before the password, password, after).
pub fn url_password(url: &str) -> Option<(&str, &str, &str)> {
    let sep = url.find("://")?;
    let (start, end) = userinfo_secret(url, sep)?;
    // Only a real `user:password` (not a NATS token) moves to the secret store as a password.
    url[sep + 3..start].ends_with(':').then_some(())?;
    Some((&url[..start], &url[start..end], &url[end..]))
}

/// Replaces a literal password in a URL with `{{name}}`; returns the password.
pub fn take_url_password(url: &mut String, name: &str) -> Option<String> {
    let (before, password, after) = url_password(url)?;
    if password.is_empty() || only_references(password) {
        return None;
    }
    let password = password.to_string();
    *url = format!("{before}{{{{{name}}}}}{after}");
    Some(password)
}

/// Replaces a literal credential in a sensitive header (or setting) value with `{{name}}`;
/// returns the value. A value that is only references already is left alone.
pub fn take_named_secret(header: &str, value: &mut String, name: &str) -> Option<String> {
    if !is_sensitive(header, value) || value.trim().is_empty() || only_references(value) {
        return None;
    }
    let secret = std::mem::replace(value, format!("{{{{{name}}}}}"));
    Some(secret)
}

/// Something that can be kept or shown without its credentials.
pub trait Redact {
    /// Masks every credential in place.
    fn redact(&mut self);

    /// A copy with every credential masked.
    fn redacted(&self) -> Self
    where
        Self: Clone,
    {
        let mut copy = self.clone();
        copy.redact();
        copy
    }
}

fn redact_headers(headers: &mut [Header], found: &mut Vec<String>) {
    for h in headers {
        if let Some(v) = redact_collecting(Field::Named(&h.name), &h.value, found) {
            h.value = v;
        }
    }
}

fn redact_text(text: &mut String, found: &mut Vec<String>) {
    if let Some(t) = redact_collecting(Field::Url, text, found) {
        *text = t;
    }
}

/// Secrets long enough to be replaced wherever they appear without hitting unrelated text.
fn scrub_list(found: &mut Vec<String>) {
    found.retain(|s| s.chars().count() >= 4);
    found.sort_by_key(|s| std::cmp::Reverse(s.len()));
    found.dedup();
}

fn scrub_text(text: &mut String, secrets: &[String]) {
    for s in secrets {
        if text.contains(s.as_str()) {
            *text = text.replace(s.as_str(), MASK);
        }
    }
}

fn scrub_message(m: &mut Message, secrets: &[String]) {
    scrub_text(&mut m.line, secrets);
    for h in m.headers.iter_mut().chain(m.trailers.iter_mut()) {
        scrub_text(&mut h.value, secrets);
    }
    // Bodies are data: never altered (a password `John` must not turn `John Doe` into
    // `•••• Doe`).
}

impl Redact for Exchange {
    /// Sensitive headers, metadata and trailers both ways, URL passwords in the target,
    /// request line, error and phase details; then any copy of those secrets left in those
    /// places (an error quoting a header) is masked too. Bodies are never altered.
    fn redact(&mut self) {
        let mut found = Vec::new();
        let messages = std::iter::once(&mut self.request).chain(self.response.as_mut());
        for m in messages {
            redact_headers(&mut m.headers, &mut found);
            redact_headers(&mut m.trailers, &mut found);
            redact_text(&mut m.line, &mut found);
        }
        redact_text(&mut self.target, &mut found);
        if let Some(e) = self.error.as_mut() {
            redact_text(&mut e.message, &mut found);
        }
        for p in &mut self.timeline {
            if let Some(d) = p.detail.as_mut() {
                redact_text(d, &mut found);
            }
        }
        scrub_list(&mut found);
        if found.is_empty() {
            return;
        }
        scrub_text(&mut self.target, &found);
        if let Some(e) = self.error.as_mut() {
            scrub_text(&mut e.message, &found);
        }
        for p in &mut self.timeline {
            if let Some(d) = p.detail.as_mut() {
                scrub_text(d, &found);
            }
        }
        scrub_message(&mut self.request, &found);
        if let Some(r) = self.response.as_mut() {
            scrub_message(r, &found);
        }
    }
}

fn redact_rows(rows: &mut [SavedHeader]) {
    for row in rows {
        if let Some(v) = redact(Field::Named(&row.name), &row.value) {
            row.value = v;
        }
    }
}

fn redact_url_field(url: &mut String) {
    if let Some(u) = redact(Field::Url, url) {
        *url = u;
    }
}

impl Redact for SavedRequest {
    /// Sensitive header/metadata values and URL passwords; `{{variables}}` stay as they are.
    fn redact(&mut self) {
        match &mut self.spec {
            SavedSpec::Http(h) => {
                redact_rows(&mut h.headers);
                redact_url_field(&mut h.url);
            }
            SavedSpec::Grpc(g) => {
                redact_rows(&mut g.metadata);
                redact_url_field(&mut g.addr);
            }
            SavedSpec::Amqp(a) => {
                redact_rows(&mut a.headers);
                redact_url_field(&mut a.url);
            }
            SavedSpec::Watch(w) => redact_url_field(&mut w.url),
            SavedSpec::Nats(n) => {
                redact_rows(&mut n.headers);
                redact_url_field(&mut n.url);
            }
            SavedSpec::NatsWatch(w) => redact_url_field(&mut w.url),
            SavedSpec::Kafka(k) => redact_rows(&mut k.headers),
            SavedSpec::KafkaWatch(_) => {}
        }
    }
}

impl Redact for HistoryEntry {
    fn redact(&mut self) {
        self.exchange.redact();
        if let Some(r) = self.request.as_mut() {
            r.redact();
        }
    }
}

fn redact_json(name: &str, value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(text) => {
            if let Some(masked) = redact(Field::Named(name), text) {
                *text = masked;
            }
        }
        // A nested AMQP table: its own names decide.
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                redact_json(k, v);
            }
        }
        Value::Array(items) => {
            for v in items {
                redact_json(name, v);
            }
        }
        Value::Null => {}
        other => {
            if is_sensitive_name(name) {
                *other = Value::String(format!("{MASK} {REDACTED}"));
            }
        }
    }
}

impl Redact for WatchedMessage {
    /// Sensitive message headers (`authorization`, `x-api-key`, values starting with
    /// `Bearer `…), nested tables too. The body is data and is never altered.
    fn redact(&mut self) {
        for (name, value) in self.headers.iter_mut() {
            redact_json(name, value);
        }
    }
}

/// True when a request was kept with its credentials masked (it cannot be sent as it is).
pub fn is_redacted(request: &SavedRequest) -> bool {
    serde_json::to_string(&request.spec).is_ok_and(|s| s.contains(MASK))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collection::saved::{SavedAmqp, SavedHttp};
    use crate::{Body, ErrorKind, ExchangeError, Transport};

    #[test]
    fn one_url_keeps_no_literal_secret_even_where_the_text_rule_cannot_read_it() {
        for (url, shown) in [
            ("amqp://guest:s3cr3t@h/v", "amqp://guest:••••@h/v"),
            (
                "amqp://gu est:s3 cr3t@h:5672/%2f",
                "amqp://gu est:••••@h:5672/%2f",
            ),
            ("amqp:/guest:s3cr3t@127.0.0.1", "amqp:/guest:••••@127.0.0.1"),
            ("amqp:guest:s3cr3t@127.0.0.1", "amqp:guest:••••@127.0.0.1"),
            ("nats://s3cr3t tok@h:4222", "nats://••••@h:4222"),
            // References and URLs without credentials stay as they are.
            ("amqp://guest:{{pw}}@h/v", "amqp://guest:{{pw}}@h/v"),
            ("amqp://h:5672/v?x=a@b", "amqp://h:5672/v?x=a@b"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    fn named(name: &str, value: &str) -> Option<String> {
        redact(Field::Named(name), value)
    }

    fn url(text: &str) -> Option<String> {
        redact(Field::Url, text)
    }

    #[test]
    fn authorization_keeps_its_scheme() {
        assert_eq!(
            named("Authorization", "Bearer abc.def").as_deref(),
            Some("Bearer •••• (redacted)")
        );
        assert_eq!(
            named("proxy-authorization", "Basic dXNlcjpwYXNz").as_deref(),
            Some("Basic •••• (redacted)")
        );
        assert_eq!(
            named("authorization", "rawtoken").as_deref(),
            Some("•••• (redacted)")
        );
        // gRPC metadata keys are lower case; same rule.
        assert_eq!(
            named("authorization", "Bearer x1").as_deref(),
            Some("Bearer •••• (redacted)")
        );
        // Already redacted, empty or only variables: nothing to hide.
        assert_eq!(named("Authorization", "Bearer •••• (redacted)"), None);
        assert_eq!(named("Authorization", ""), None);
        assert_eq!(named("Authorization", "Bearer {{token}}"), None);
        assert_eq!(named("Authorization", "{{auth}}"), None);
    }

    #[test]
    fn cookies_keep_their_names() {
        assert_eq!(
            named("Cookie", "sid=abc123; theme=dark").as_deref(),
            Some("sid=••••; theme=•••• (redacted)")
        );
        assert_eq!(
            named("set-cookie", "sid=abc123; Path=/; HttpOnly").as_deref(),
            Some("sid=••••; Path=/; HttpOnly (redacted)")
        );
    }

    #[test]
    fn api_keys_tokens_and_settings_are_sensitive() {
        for name in [
            "X-Api-Key",
            "x-api-key",
            "api_key",
            "X-Auth-Token",
            "client_secret",
            "sasl.password",
            "sasl_password",
            "password",
            "token",
            "nkey_seed",
            "X-Session-Id",
            "auth",
        ] {
            assert!(is_sensitive_name(name), "{name}");
            assert_eq!(
                named(name, "v4lue").as_deref(),
                Some("•••• (redacted)"),
                "{name}"
            );
        }
        for name in ["Accept", "Content-Type", "x-request-id", "user", "x-source"] {
            assert!(!is_sensitive_name(name), "{name}");
            assert_eq!(named(name, "v4lue"), None);
        }
    }

    #[test]
    fn url_passwords_are_masked_in_every_scheme_and_in_text() {
        for (from, to) in [
            (
                "http://bob:pw1@127.0.0.1:8081/user/1",
                "http://bob:••••@127.0.0.1:8081/user/1",
            ),
            (
                "amqp://guest:s3cr%40t@127.0.0.1:5672/%2f",
                "amqp://guest:••••@127.0.0.1:5672/%2f",
            ),
            ("nats://u:p@h:4222", "nats://u:••••@h:4222"),
            ("nats://s3cretToken@h:4222", "nats://••••@h:4222"),
            ("kafka://u:p@broker:9092", "kafka://u:••••@broker:9092"),
            // A lone user part is a token, whatever the scheme.
            ("http://SECRETUSER15@host/x", "http://••••@host/x"),
            (
                "malformed URL \"https://a:b@h\" then amqp://c:d@e/",
                "malformed URL \"https://a:••••@h\" then amqp://c:••••@e/",
            ),
        ] {
            assert_eq!(url(from).as_deref(), Some(to), "{from}");
        }
        for same in [
            "http://127.0.0.1/user/1",
            "http://host/a@b",
            "http://host/?user=bob&page=2",
            "http://host/?token={{token}}&key=••••",
            "amqp://u:{{amqp_password}}@h/",
            "amqp://u:••••@h/",
            "127.0.0.1:50051",
        ] {
            assert_eq!(url(same), None, "{same}");
        }
    }

    #[test]
    fn the_names_and_values_the_detector_used_to_miss() {
        for name in [
            "Authentication",
            "Authorisation",
            "X-Auth",
            "X-Custom-Auth",
            "Ocp-Apim-Subscription-Key",
            "X-Signature",
            "api-key",
            "ApiKey",
            "x-amz-security-token",
            "X-Credential",
            "Cookie2",
            "access_token",
            "key",
            "sig",
        ] {
            assert!(is_sensitive_name(name), "{name}");
        }
        for name in [
            "Author",
            ":authority",
            "WWW-Authenticate",
            "Idempotency-Key",
            "Keep-Alive",
            "monkey",
        ] {
            assert!(!is_sensitive_name(name), "{name}");
        }
        assert_eq!(
            named("X-Custom-Auth", "Bearer abc123").as_deref(),
            Some("Bearer •••• (redacted)")
        );
        // An auth scheme makes any header a credential.
        for value in [
            "Bearer abc123",
            "Basic dXNlcjpw",
            "Digest x=1",
            "token abc123",
        ] {
            let scheme = value.split(' ').next().unwrap();
            assert_eq!(
                named("X-Forwarded-Whatever", value),
                Some(format!("{scheme} •••• (redacted)")),
                "{value}"
            );
        }
        assert_eq!(named("X-Forwarded-Whatever", "Bearer {{tok}}"), None);
        assert_eq!(named("Accept", "application/json"), None);
        let mut value = "Bearer abc".to_string();
        assert!(take_named_secret("X-Thing", &mut value, "r_x").is_some());
    }

    #[test]
    fn sensitive_query_values_are_masked() {
        assert_eq!(
            url("GET http://h/p?access_token=AT1&api_key=AK2&token=T3&key=K4&sig=S5&signature=S6&password=P7&secret=S8&page=2#frag").as_deref(),
            Some("GET http://h/p?access_token=••••&api_key=••••&token=••••&key=••••&sig=••••&signature=••••&password=••••&secret=••••&page=2#frag")
        );
        assert_eq!(
            url("see https://u:pw@h/?apikey=x1 and http://h2/?q=1").as_deref(),
            Some("see https://u:••••@h/?apikey=•••• and http://h2/?q=1")
        );
        assert_eq!(url("http://h/?token={{token}}"), None);
    }

    #[test]
    fn url_passwords_are_found_and_replaced() {
        let mut url = "amqp://guest:s3cr%40t@127.0.0.1:5672/%2f".to_string();
        assert_eq!(
            take_url_password(&mut url, "amqp_password").as_deref(),
            Some("s3cr%40t")
        );
        assert_eq!(url, "amqp://guest:{{amqp_password}}@127.0.0.1:5672/%2f");
        assert_eq!(take_url_password(&mut url, "x"), None);
        let mut plain = "amqp://127.0.0.1:5672/%2f".to_string();
        assert_eq!(take_url_password(&mut plain, "x"), None);
        let mut at_in_path = "http://host/a@b".to_string();
        assert_eq!(take_url_password(&mut at_in_path, "x"), None);
    }

    #[test]
    fn an_exchange_loses_its_credentials_everywhere() {
        let mut x = Exchange {
            transport: Transport::Http,
            target: "http://bob:hunter22@127.0.0.1:8081/user/1".into(),
            started_at_ms: 0,
            ok: false,
            status: None,
            error: Some(ExchangeError {
                kind: ErrorKind::InvalidInput,
                phase: None,
                message: "invalid value for header Authorization: \"Bearer tok-123\\n\"".into(),
            }),
            total_us: 0,
            timeline: Vec::new(),
            request: Message {
                line: "GET http://bob:hunter22@127.0.0.1:8081/user/1".into(),
                headers: vec![
                    Header::new("Authorization", "Bearer tok-123"),
                    Header::new("Accept", "application/json"),
                ],
                ..Message::default()
            },
            response: Some(Message {
                headers: vec![Header::new("Set-Cookie", "sid=cookie-9; Path=/")],
                body: Body::new(b"{\"echo\": \"Bearer tok-123\"}".to_vec()),
                ..Message::default()
            }),
            trace: None,
            spans: Vec::new(),
        };
        x.redact();
        let json = x.to_json_line();
        for secret in ["hunter22", "cookie-9"] {
            assert!(!json.contains(secret), "{secret} in {json}");
        }
        assert!(!x.error.as_ref().unwrap().message.contains("tok-123"));
        // The body is data: kept as received, even when it echoes a credential.
        assert_eq!(
            x.response.as_ref().unwrap().body.bytes,
            b"{\"echo\": \"Bearer tok-123\"}"
        );
        assert_eq!(x.request.headers[0].value, "Bearer •••• (redacted)");
        assert_eq!(x.request.headers[1].value, "application/json");
        assert_eq!(x.target, "http://bob:••••@127.0.0.1:8081/user/1");
        // Idempotent.
        let again = x.redacted();
        assert_eq!(again, x);
    }

    #[test]
    fn watched_message_headers_are_masked_and_their_body_kept() {
        let mut headers = crate::watched::Named::new();
        headers.insert("authorization".into(), "Bearer w-5ecret".into());
        headers.insert("x-api-key".into(), "k-5ecret".into());
        headers.insert("x-retries".into(), 3.into());
        headers.insert("pin".into(), serde_json::json!({"token": 1234}));
        headers.insert("x-source".into(), "demo".into());
        let body = br#"{"authorization":"Bearer w-5ecret"}"#.to_vec();
        let m = WatchedMessage::amqp(
            "orders",
            "k",
            false,
            &Default::default(),
            headers,
            body.clone(),
        );
        let masked = m.redacted();
        let json = serde_json::to_string(&masked.headers).unwrap();
        assert!(!json.contains("5ecret") && !json.contains("1234"), "{json}");
        assert_eq!(masked.headers["authorization"], "Bearer •••• (redacted)");
        assert_eq!(masked.headers["x-retries"], 3);
        assert_eq!(masked.headers["x-source"], "demo");
        assert_eq!(masked.body.bytes, body);
    }

    #[test]
    fn bodies_are_never_altered() {
        let body = br#"{"name":"John Doe","email":"john@example.com"}"#.to_vec();
        let mut x = Exchange {
            transport: Transport::Http,
            target: "http://u:John@127.0.0.1:8081/user/1".into(),
            started_at_ms: 0,
            ok: true,
            status: None,
            error: None,
            total_us: 0,
            timeline: Vec::new(),
            request: Message {
                headers: vec![Header::new("Cookie", "a=example")],
                body: Body::new(body.clone()),
                ..Message::default()
            },
            response: Some(Message {
                body: Body::new(body.clone()),
                ..Message::default()
            }),
            trace: None,
            spans: Vec::new(),
        };
        x.redact();
        assert_eq!(x.target, "http://u:••••@127.0.0.1:8081/user/1");
        assert_eq!(x.request.headers[0].value, "a=•••• (redacted)");
        assert_eq!(x.request.body.bytes, body);
        assert_eq!(x.response.as_ref().unwrap().body.bytes, body);
    }

    #[test]
    fn a_saved_request_keeps_its_variables_and_loses_its_literals() {
        let mut r = SavedRequest::new(
            "r",
            SavedSpec::Http(SavedHttp {
                method: "GET".into(),
                url: "http://u:pw-1@h/".into(),
                headers: vec![
                    SavedHeader::new("Authorization", "Basic dTpw"),
                    SavedHeader::new("X-Api-Key", "{{key}}"),
                ],
                body: None,
                form: Vec::new(),
                timeout_ms: None,
                tls: Default::default(),
            }),
        );
        assert!(!is_redacted(&r));
        r.redact();
        let SavedSpec::Http(h) = &r.spec else {
            unreachable!()
        };
        assert_eq!(h.url, "http://u:••••@h/");
        assert_eq!(h.headers[0].value, "Basic •••• (redacted)");
        assert_eq!(h.headers[1].value, "{{key}}");
        assert!(is_redacted(&r));
        let mut a = SavedRequest::new(
            "a",
            SavedSpec::Amqp(SavedAmqp {
                url: "amqp://guest:pw-2@h/".into(),
                exchange: String::new(),
                routing_key: String::new(),
                content_type: String::new(),
                message_id: String::new(),
                correlation_id: String::new(),
                persistent: false,
                more: Default::default(),
                headers: vec![SavedHeader::new("token", "t-3")],
                body: None,
                mandatory: true,
                count: 1,
                timeout_ms: None,
            }),
        );
        a.redact();
        let text = serde_json::to_string(&a).unwrap();
        assert!(!text.contains("pw-2") && !text.contains("t-3"), "{text}");
    }

    #[test]
    fn named_secrets_move_to_variables() {
        let mut value = "Bearer abc".to_string();
        assert_eq!(
            take_named_secret("Authorization", &mut value, "r_authorization").as_deref(),
            Some("Bearer abc")
        );
        assert_eq!(value, "{{r_authorization}}");
        assert_eq!(take_named_secret("Authorization", &mut value, "x"), None);
        let mut accept = "application/json".to_string();
        assert_eq!(take_named_secret("Accept", &mut accept, "x"), None);
    }
}
