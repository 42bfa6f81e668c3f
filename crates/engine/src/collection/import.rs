//! Bringing requests in (Postman v2.1 collections, curl and grpcurl command lines) and taking
//! them out (as curl or grpcurl command lines).

use std::path::Path;

use serde_json::Value;

use super::saved::{
    SavedBody, SavedFormPart, SavedGrpc, SavedHeader, SavedHttp, SavedRequest, SavedSpec, SavedTls,
    basic_auth, clear_basic_credentials, form_encode,
};
use super::vars::{ALL_ENVIRONMENTS, Variable, is_secret_name};
use super::{
    COLLECTION_FILE, CollectionError, CollectionSettings, Loaded, OnDisk, SecretStore, slug,
    write_file,
};

/// Requests read from somewhere else, ready to be written into a collection folder.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Imported {
    pub name: String,
    pub variables: Vec<Variable>,
    /// (folder relative to the collection, request).
    pub requests: Vec<(String, SavedRequest)>,
    /// What could not be carried over.
    pub warnings: Vec<String>,
    /// Postman pre-request and test scripts left behind (each is also a warning and a note
    /// in the requests it applied to).
    pub scripts_dropped: usize,
}

fn err(message: impl Into<String>) -> CollectionError {
    CollectionError::Invalid(message.into())
}

// ---------------------------------------------------------------------------------------------
// Postman

/// Reads a Postman collection v2.1 or v2.0 export (they differ in the shape of `auth`).
pub fn postman(text: &str) -> Result<Imported, CollectionError> {
    let root: Value =
        serde_json::from_str(text).map_err(|e| err(format!("not a JSON file: {e}")))?;
    let info = root
        .get("info")
        .ok_or_else(|| err("not a Postman collection: no \"info\""))?;
    let schema = info.get("schema").and_then(Value::as_str).unwrap_or("");
    if !schema.contains("v2.1") && !schema.contains("v2.0") {
        return Err(err(format!(
            "not a Postman v2.1 or v2.0 collection (schema {schema:?}); export it from Postman as Collection v2.1"
        )));
    }
    let mut out = Imported {
        name: info
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("Imported")
            .to_string(),
        ..Default::default()
    };
    for v in root
        .get("variable")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(name) = v.get("key").and_then(Value::as_str) else {
            continue;
        };
        out.variables.push(Variable {
            name: name.to_string(),
            value: scalar(v.get("value")),
            // Credentials go to the secret store, whether Postman marked them or not.
            secret: v.get("type").and_then(Value::as_str) == Some("secret") || is_secret_name(name),
        });
    }
    let notes = scripts_of(&root, "the collection", &mut out);
    let auth = root.get("auth");
    postman_items(&root, "", auth, &notes, &mut out);
    if out.requests.is_empty() {
        let why = if out.warnings.is_empty() {
            "it holds no requests".to_string()
        } else {
            out.warnings.join("; ")
        };
        return Err(err(format!("nothing imported from {:?}: {why}", out.name)));
    }
    Ok(out)
}

fn scalar(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn disabled(v: &Value) -> bool {
    v.get("disabled").and_then(Value::as_bool).unwrap_or(false)
}

/// The pre-request and test scripts of a collection, folder or request (`whose`): each is
/// counted and warned about; returns the notes for the requests they applied to.
fn scripts_of(node: &Value, whose: &str, out: &mut Imported) -> Vec<String> {
    let mut notes = Vec::new();
    for event in node
        .get("event")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| !disabled(e))
    {
        let kind = match event.get("listen").and_then(Value::as_str) {
            Some("prerequest") => "pre-request script",
            Some("test") => "test script",
            _ => continue,
        };
        let code = match event.get("script").and_then(|s| s.get("exec")) {
            Some(Value::Array(lines)) => lines
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n"),
            other => scalar(other),
        };
        if code.trim().is_empty() {
            continue;
        }
        out.scripts_dropped += 1;
        out.warnings.push(format!(
            "{whose}: {kind} not imported (Switchboard does not run scripts)"
        ));
        notes.push(format!(
            "Postman {kind} of {whose} not imported: variables it set must be given another way"
        ));
    }
    notes
}

fn postman_items(
    node: &Value,
    folder: &str,
    auth: Option<&Value>,
    notes: &[String],
    out: &mut Imported,
) {
    for item in node
        .get("item")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("request")
            .to_string();
        let auth = item.get("auth").or(auth);
        if item.get("item").is_some() {
            let sub = if folder.is_empty() {
                slug(&name)
            } else {
                format!("{folder}/{}", slug(&name))
            };
            let mut notes = notes.to_vec();
            notes.extend(scripts_of(item, &format!("folder {name:?}"), out));
            postman_items(item, &sub, auth, &notes, out);
        } else if let Some(request) = item.get("request") {
            let mut notes = notes.to_vec();
            notes.extend(scripts_of(item, &format!("{name:?}"), out));
            match postman_request(&name, request, auth, &mut out.warnings) {
                Some(mut r) => {
                    r.notes = notes;
                    out.requests.push((folder.to_string(), r));
                }
                None => out.warnings.push(format!("{name}: no URL, not imported")),
            }
        }
    }
}

/// A Postman URL: its `raw` text, or (when there is none) built from its parts as Postman
/// does: `protocol://host.parts:port/path/parts?query#hash`.
fn postman_url(url: &Value) -> Option<String> {
    if let Some(raw) = url.as_str() {
        return (!raw.trim().is_empty()).then(|| raw.trim().to_string());
    }
    if let Some(raw) = url.get("raw").and_then(Value::as_str)
        && !raw.trim().is_empty()
    {
        return Some(raw.trim().to_string());
    }
    let part = |v: &Value| match v {
        Value::Object(_) => scalar(v.get("value")),
        other => scalar(Some(other)),
    };
    let joined = |key: &str, sep: &str| match url.get(key) {
        Some(Value::Array(parts)) => parts.iter().map(part).collect::<Vec<_>>().join(sep),
        other => scalar(other),
    };
    let host = joined("host", ".");
    let path = joined("path", "/");
    if host.is_empty() && path.is_empty() {
        return None;
    }
    let mut out = String::new();
    if let Some(protocol) = url.get("protocol").and_then(Value::as_str) {
        out.push_str(protocol.trim_end_matches("://").trim_end_matches(':'));
        out.push_str("://");
    }
    out.push_str(&host);
    let port = scalar(url.get("port"));
    if !port.is_empty() {
        out.push(':');
        out.push_str(&port);
    }
    if !path.is_empty() {
        out.push('/');
        out.push_str(path.trim_start_matches('/'));
    }
    let query: Vec<String> = url
        .get("query")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|q| !disabled(q))
        .map(|q| match q.get("value") {
            Some(Value::Null) | None => scalar(q.get("key")),
            value => format!("{}={}", scalar(q.get("key")), scalar(value)),
        })
        .collect();
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query.join("&"));
    }
    let hash = scalar(url.get("hash"));
    if !hash.is_empty() {
        out.push('#');
        out.push_str(&hash);
    }
    Some(out)
}

fn has_header(headers: &[SavedHeader], name: &str) -> bool {
    headers
        .iter()
        .any(|h| h.enabled && h.name.trim().eq_ignore_ascii_case(name))
}

fn postman_request(
    name: &str,
    request: &Value,
    auth: Option<&Value>,
    warnings: &mut Vec<String>,
) -> Option<SavedRequest> {
    // A request may be just its URL.
    if let Some(url) = request.as_str() {
        return Some(http_request(name, "GET", url, Vec::new(), None));
    }
    let url = postman_url(request.get("url")?)?;
    let method = request
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("GET")
        .to_ascii_uppercase();
    let mut headers: Vec<SavedHeader> = match request.get("header") {
        // v2.0 allows the headers as one block of `Name: value` lines.
        Some(Value::String(block)) => block
            .lines()
            .filter_map(|line| parse_header(line).ok())
            .collect(),
        other => other
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|h| {
                Some(SavedHeader {
                    name: h.get("key")?.as_str()?.to_string(),
                    value: scalar(h.get("value")),
                    enabled: !disabled(h),
                })
            })
            .collect(),
    };
    let auth = request.get("auth").or(auth);
    if let Some(header) = auth.and_then(|a| postman_auth(name, a, warnings))
        && !has_header(&headers, &header.name)
    {
        headers.push(header);
    }
    let mut body = None;
    let mut form = Vec::new();
    if let Some(b) = request.get("body").filter(|b| !disabled(b)) {
        match b.get("mode").and_then(Value::as_str) {
            Some("raw") => {
                body = SavedBody::from_text(&scalar(b.get("raw")));
                let language = b
                    .pointer("/options/raw/language")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                // Postman sends a body marked JSON as application/json.
                if body.is_some()
                    && language.eq_ignore_ascii_case("json")
                    && !has_header(&headers, "content-type")
                {
                    headers.push(SavedHeader::new("Content-Type", "application/json"));
                }
            }
            Some("urlencoded") => {
                // Literal text is encoded now; values from variables when they are filled.
                let pairs: Vec<String> = b
                    .get("urlencoded")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|p| !disabled(p))
                    .map(|p| {
                        format!(
                            "{}={}",
                            encode_keeping_references(&scalar(p.get("key"))),
                            encode_keeping_references(&scalar(p.get("value")))
                        )
                    })
                    .collect();
                body = SavedBody::from_text(&pairs.join("&"));
                if !has_header(&headers, "content-type") {
                    headers.push(SavedHeader::new(
                        "Content-Type",
                        "application/x-www-form-urlencoded",
                    ));
                }
            }
            Some("graphql") => {
                let g = b.get("graphql");
                let query = scalar(g.and_then(|g| g.get("query")));
                let variables = g
                    .and_then(|g| g.get("variables"))
                    .and_then(Value::as_str)
                    .and_then(|v| serde_json::from_str::<Value>(v).ok())
                    .unwrap_or(Value::Null);
                body = SavedBody::from_text(
                    &serde_json::to_string_pretty(
                        &serde_json::json!({"query": query, "variables": variables}),
                    )
                    .unwrap_or_default(),
                );
                if !has_header(&headers, "content-type") {
                    headers.push(SavedHeader::new("Content-Type", "application/json"));
                }
            }
            Some("formdata") => {
                form = postman_form(name, b.get("formdata"), warnings);
            }
            Some(mode @ "file") => warnings.push(format!(
                "{name}: {mode} bodies are not supported; body left empty"
            )),
            _ => {}
        }
    }
    let mut saved = http_request(name, &method, &url, headers, body);
    if let SavedSpec::Http(h) = &mut saved.spec {
        h.form = form;
    }
    Some(saved)
}

/// Postman `form-data` rows: text parts, and file parts by path (`src`; Postman keeps the path
/// it was given, usually absolute on the author's machine). Never the files' contents.
fn postman_form(
    name: &str,
    rows: Option<&Value>,
    warnings: &mut Vec<String>,
) -> Vec<SavedFormPart> {
    let mut parts = Vec::new();
    for row in rows.and_then(Value::as_array).into_iter().flatten() {
        let key = scalar(row.get("key"));
        let content_type = scalar(row.get("contentType"));
        let enabled = !disabled(row);
        if row.get("type").and_then(Value::as_str) == Some("file") {
            let sources: Vec<String> = match row.get("src") {
                Some(Value::Array(list)) => list.iter().map(|v| scalar(Some(v))).collect(),
                Some(Value::String(path)) => vec![path.clone()],
                _ => Vec::new(),
            };
            let sources: Vec<String> = sources.into_iter().filter(|p| !p.is_empty()).collect();
            if sources.is_empty() {
                warnings.push(format!(
                    "{name}: form-data file part {key:?} names no file; set its path in the request"
                ));
                parts.push(SavedFormPart {
                    enabled,
                    content_type: content_type.clone(),
                    ..SavedFormPart::file(key.clone(), "")
                });
            }
            for path in sources {
                parts.push(SavedFormPart {
                    enabled,
                    content_type: content_type.clone(),
                    ..SavedFormPart::file(key.clone(), path)
                });
            }
        } else {
            parts.push(SavedFormPart {
                enabled,
                content_type,
                ..SavedFormPart::text(key, scalar(row.get("value")))
            });
        }
    }
    parts
}

/// A curl `-F` argument: `name=value`, `name=@path` (a file part) with `;type=` and
/// `;filename=` after either; values may be double-quoted (`name="a;b"`, `name=@"x;y.txt"`).
fn curl_form(arg: &str, literal: bool) -> Result<SavedFormPart, CollectionError> {
    let (name, content) = arg.split_once('=').ok_or_else(|| {
        err(format!(
            "curl -F {arg:?}: expected name=value or name=@file"
        ))
    })?;
    if literal {
        return Ok(SavedFormPart::text(name, content));
    }
    let (is_file, rest) = match content.strip_prefix('@') {
        Some(rest) => (true, rest),
        None if content.starts_with('<') => {
            return Err(err(format!(
                "curl -F {arg:?}: a text part read from a file (<) is not supported; use @ for a file part"
            )));
        }
        None => (false, content),
    };
    // The value, quoted or up to the first `;`, then `;key=value` options.
    let (value, options) = match rest.strip_prefix('"') {
        Some(quoted) => {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            let end = end.ok_or_else(|| err(format!("curl -F {arg:?}: unclosed quote")))?;
            (value, &quoted[end..])
        }
        None => match rest.split_once(';') {
            Some((value, options)) if options.contains('=') => {
                (value.to_string(), &rest[value.len()..])
            }
            _ => (rest.to_string(), ""),
        },
    };
    let mut part = if is_file {
        SavedFormPart::file(name, value)
    } else {
        SavedFormPart::text(name, value)
    };
    for option in options.split(';').filter(|o| !o.trim().is_empty()) {
        match option.trim().split_once('=') {
            Some(("type", t)) => part.content_type = t.to_string(),
            Some(("filename", f)) => part.filename = f.trim_matches('"').to_string(),
            _ => {
                return Err(err(format!(
                    "curl -F {arg:?}: unsupported part option {option:?} (type= and filename= are)"
                )));
            }
        }
    }
    Ok(part)
}

/// Postman auth as a header. v2.1 lists the fields as `[{"key", "value"}]`, v2.0 as an
/// object (`{"token": …}`); both are read.
fn postman_auth(name: &str, auth: &Value, warnings: &mut Vec<String>) -> Option<SavedHeader> {
    let kind = auth.get("type").and_then(Value::as_str)?;
    let field = |key: &str| -> String {
        match auth.get(kind) {
            Some(Value::Array(fields)) => fields
                .iter()
                .find(|p| p.get("key").and_then(Value::as_str) == Some(key))
                .map(|p| scalar(p.get("value")))
                .unwrap_or_default(),
            Some(fields @ Value::Object(_)) => scalar(fields.get(key)),
            _ => String::new(),
        }
    };
    let bearer = |token: String, warnings: &mut Vec<String>| {
        if token.trim().is_empty() {
            warnings.push(format!(
                "{name}: {kind} authentication without a token: not imported"
            ));
            None
        } else {
            Some(SavedHeader::new("Authorization", format!("Bearer {token}")))
        }
    };
    match kind {
        "noauth" => None,
        "bearer" => bearer(field("token"), warnings),
        "oauth2" => {
            let header = bearer(field("accessToken"), warnings);
            if header.is_some() {
                warnings.push(format!(
                    "{name}: OAuth 2.0 kept as its current access token (Bearer); it is not refreshed"
                ));
            }
            header
        }
        "basic" => Some(SavedHeader::new(
            "Authorization",
            basic(&field("username"), &field("password")),
        )),
        "apikey" if field("in") != "query" => {
            let key = field("key");
            if key.trim().is_empty() {
                warnings.push(format!(
                    "{name}: API key authentication without a header name: not imported"
                ));
                return None;
            }
            Some(SavedHeader::new(key, field("value")))
        }
        other => {
            warnings.push(format!(
                "{name}: {other} authentication is not supported{}",
                if other == "apikey" {
                    " in the query; add the key to the URL"
                } else {
                    ""
                }
            ));
            None
        }
    }
}

/// A Basic `Authorization` value. Made of variables, it is kept in clear
/// (`Basic {{id}}:{{secret}}`) and encoded when sent, once the variables are filled.
fn basic(user: &str, password: &str) -> String {
    let user_password = format!("{user}:{password}");
    if user_password.contains("{{") {
        format!("Basic {user_password}")
    } else {
        basic_auth(&user_password)
    }
}

/// Form-encodes the literal text of a form field, leaving `{{references}}` to be encoded
/// when they are filled.
fn encode_keeping_references(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        out.push_str(&form_encode(&rest[..start]));
        out.push_str(&rest[start..start + 4 + len]);
        rest = &rest[start + 4 + len..];
    }
    out.push_str(&form_encode(rest));
    out
}

fn http_request(
    name: &str,
    method: &str,
    url: &str,
    headers: Vec<SavedHeader>,
    body: Option<SavedBody>,
) -> SavedRequest {
    SavedRequest::new(
        name,
        SavedSpec::Http(SavedHttp {
            method: method.to_string(),
            url: url.to_string(),
            headers,
            body,
            form: Vec::new(),
            timeout_ms: None,
            tls: SavedTls::default(),
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// curl and grpcurl command lines

/// Splits a pasted command line the way a POSIX shell would (line continuations included).
fn words(command: &str, program: &str) -> Result<Vec<String>, CollectionError> {
    let joined = command
        .replace("\\\r\n", " ")
        .replace("\\\n", " ")
        .replace(['\r', '\n'], " ");
    let joined = joined.trim().trim_start_matches("$ ");
    let words = shlex::split(joined).ok_or_else(|| {
        err(format!(
            "cannot split the {program} command: unbalanced quotes"
        ))
    })?;
    match words.first() {
        Some(first) if first == program || first.ends_with(&format!("/{program}")) => {
            Ok(words[1..].to_vec())
        }
        _ => Err(err(format!(
            "not a {program} command (it should start with `{program}`)"
        ))),
    }
}

/// A gRPC message as readable JSON (its meaning does not depend on the spacing).
fn pretty_json(text: &str) -> Option<SavedBody> {
    match serde_json::from_str::<Value>(text) {
        Ok(value) => SavedBody::from_text(&serde_json::to_string_pretty(&value).ok()?),
        Err(_) => SavedBody::from_text(text),
    }
}

fn parse_header(line: &str) -> Result<SavedHeader, CollectionError> {
    let h =
        crate::http::parse_header_line(line).map_err(|e| CollectionError::Invalid(e.message))?;
    Ok(SavedHeader::new(h.name, h.value))
}

/// A request name from a method and URL: `GET /user/1`.
fn name_for(method: &str, url: &str) -> String {
    let path = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .find('/')
        .map_or("/", |i| &url.split_once("://").map_or(url, |(_, r)| r)[i..]);
    format!("{method} {path}")
}

/// curl's short options that take a value; it may be glued to the flag (`-XPOST`,
/// `-HAccept: x`, `-dDATA`) or follow flags without a value (`-sXPOST`).
const CURL_SHORT_WITH_VALUE: &str = "XHduAebmowEF";
/// curl's short options without a value, which may be bundled (`-sSL`).
const CURL_SHORT_FLAGS: &str = "sSLkvifN#gIG";

/// `-sXPOST` as `-s -X POST`; `None` for anything that is not a bundle of short options.
fn split_short_options(arg: &str) -> Result<Option<Vec<String>>, CollectionError> {
    if arg.starts_with("--") || !arg.starts_with('-') || arg.chars().count() <= 2 {
        return Ok(None);
    }
    let mut out = Vec::new();
    let mut rest = &arg[1..];
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        if CURL_SHORT_WITH_VALUE.contains(c) {
            out.push(format!("-{c}"));
            if !rest.is_empty() {
                out.push(rest.to_string());
            }
            break;
        } else if CURL_SHORT_FLAGS.contains(c) {
            out.push(format!("-{c}"));
        } else {
            return Err(err(format!("unsupported curl option -{c} (in {arg})")));
        }
    }
    Ok(Some(out))
}

/// What curl's `--data-urlencode` sends for `content`: `name=value` with the value encoded,
/// `=value` and `value` encoded whole (`{{references}}` are encoded when filled).
fn data_urlencode(content: &str) -> Result<String, CollectionError> {
    match content.find(['=', '@']) {
        Some(i) if content.as_bytes()[i] == b'@' => Err(err(format!(
            "curl --data-urlencode {content}: reading the value from a file is not supported; paste it instead"
        ))),
        Some(0) => Ok(encode_keeping_references(&content[1..])),
        Some(i) => Ok(format!(
            "{}={}",
            &content[..i],
            encode_keeping_references(&content[i + 1..])
        )),
        None => Ok(encode_keeping_references(content)),
    }
}

/// Reads a curl command line.
pub fn curl(command: &str) -> Result<SavedRequest, CollectionError> {
    let mut args: std::collections::VecDeque<String> = words(command, "curl")?.into();
    let mut method: Option<String> = None;
    let mut url: Option<String> = None;
    let mut headers = Vec::new();
    let mut user: Option<String> = None;
    let mut data: Vec<String> = Vec::new();
    let mut form: Vec<SavedFormPart> = Vec::new();
    let mut get = false;
    let mut timeout_ms = None;
    let mut tls = SavedTls::default();
    let no_value = [
        "-s",
        "--silent",
        "-S",
        "--show-error",
        "-L",
        "--location",
        "-k",
        "--insecure",
        "-v",
        "--verbose",
        "-i",
        "--include",
        "--compressed",
        "-f",
        "--fail",
        "-N",
        "--no-buffer",
        "--http1.1",
        "--http2",
        "--http2-prior-knowledge",
        "-#",
        "--progress-bar",
        "-g",
        "--globoff",
    ];
    let ignored_value = [
        "-o",
        "--output",
        "-w",
        "--write-out",
        "--retry",
        "--connect-timeout",
        "--max-redirs",
    ];
    while let Some(arg) = args.pop_front() {
        if let Some(split) = split_short_options(&arg)? {
            for a in split.into_iter().rev() {
                args.push_front(a);
            }
            continue;
        }
        let arg = arg.as_str();
        let mut value = || -> Result<String, CollectionError> {
            args.pop_front()
                .ok_or_else(|| err(format!("curl option {arg} needs a value")))
        };
        match arg {
            "-X" | "--request" => method = Some(value()?.to_ascii_uppercase()),
            "-H" | "--header" => headers.push(parse_header(&value()?)?),
            "--data-urlencode" => data.push(data_urlencode(&value()?)?),
            "-d" | "--data" | "--data-raw" | "--data-binary" | "--data-ascii" => {
                let d = value()?;
                if d.starts_with('@') && arg != "--data-raw" {
                    return Err(err(format!(
                        "curl {arg} {d}: reading the body from a file is not supported; paste the body instead"
                    )));
                }
                data.push(d);
            }
            "--json" => {
                data.push(value()?);
                for (name, v) in [
                    ("Content-Type", "application/json"),
                    ("Accept", "application/json"),
                ] {
                    if !has_header(&headers, name) {
                        headers.push(SavedHeader::new(name, v));
                    }
                }
            }
            "-u" | "--user" => user = Some(value()?),
            "-A" | "--user-agent" => headers.push(SavedHeader::new("User-Agent", value()?)),
            "-e" | "--referer" => headers.push(SavedHeader::new("Referer", value()?)),
            "-b" | "--cookie" => headers.push(SavedHeader::new("Cookie", value()?)),
            "-I" | "--head" => method = Some("HEAD".to_string()),
            "-G" | "--get" => get = true,
            "--url" => url = Some(value()?),
            "-m" | "--max-time" => {
                let v = value()?;
                let d =
                    crate::duration::parse_secs(&v).map_err(|e| err(format!("curl {arg}: {e}")))?;
                timeout_ms = Some(d.as_millis().max(1) as u64);
            }
            "--cacert" => tls.ca_file = value()?,
            "-E" | "--cert" => tls.cert_file = value()?,
            "--key" => tls.key_file = value()?,
            "-F" | "--form" => form.push(curl_form(&value()?, false)?),
            "--form-string" => form.push(curl_form(&value()?, true)?),
            a if no_value.contains(&a) => {}
            a if ignored_value.contains(&a) => {
                value()?;
            }
            a if a.starts_with('-') && a.len() > 1 => {
                return Err(err(format!("unsupported curl option {a}")));
            }
            a => {
                if url.is_some() {
                    return Err(err(format!(
                        "more than one URL ({a}); import one request at a time"
                    )));
                }
                url = Some(a.to_string());
            }
        }
    }
    // Like curl: -u makes a Basic Authorization header unless one is given with -H.
    if let Some(user) = user
        && !has_header(&headers, "authorization")
    {
        let (name, password) = user.split_once(':').unwrap_or((&user, ""));
        headers.push(SavedHeader::new("Authorization", basic(name, password)));
    }
    let mut url = url.ok_or_else(|| err("the curl command has no URL"))?;
    // A URL starting with a variable (`{{base_url}}/x`) takes its scheme from it.
    if !url.contains("://") && !url.starts_with("{{") {
        url = format!("http://{url}");
    }
    let mut body = None;
    if get && !data.is_empty() {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&data.join("&"));
    } else if !data.is_empty() {
        body = SavedBody::from_text(&data.join("&"));
        if !has_header(&headers, "content-type") {
            headers.push(SavedHeader::new(
                "Content-Type",
                "application/x-www-form-urlencoded",
            ));
        }
    }
    if !form.is_empty() && !data.is_empty() {
        return Err(err(
            "curl -F and -d in one command: curl refuses that too; use one or the other",
        ));
    }
    let method = method.unwrap_or_else(|| {
        if body.is_some() || !form.is_empty() {
            "POST"
        } else {
            "GET"
        }
        .to_string()
    });
    let mut request = http_request(&name_for(&method, &url), &method, &url, headers, body);
    if let SavedSpec::Http(h) = &mut request.spec {
        h.timeout_ms = timeout_ms;
        h.tls = tls;
        h.form = form;
    }
    Ok(request)
}

/// Reads a grpcurl command line (a call; `list` and `describe` are not requests).
pub fn grpcurl(command: &str) -> Result<SavedRequest, CollectionError> {
    let args = words(command, "grpcurl")?;
    let mut plaintext = false;
    let mut data = None;
    let mut metadata = Vec::new();
    let mut protos = Vec::new();
    let mut import_paths = Vec::new();
    let mut protoset = String::new();
    let mut tls = SavedTls::default();
    let mut timeout_ms = None;
    let mut positional = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        if !arg.starts_with('-') || arg == "-" {
            positional.push(arg.to_string());
            i += 1;
            continue;
        }
        // Go flags: -flag, --flag, -flag=value, -flag value.
        let flag = arg.trim_start_matches('-');
        let (flag, inline) = match flag.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (flag, None),
        };
        let mut value = || -> Result<String, CollectionError> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| err(format!("grpcurl option -{flag} needs a value")))
        };
        match flag {
            "plaintext" => plaintext = inline.as_deref() != Some("false"),
            "insecure" | "v" | "vv" | "emit-defaults" | "allow-unknown-fields" | "format-error" => {
            }
            "d" => {
                let d = value()?;
                if d == "@" {
                    return Err(err(
                        "grpcurl -d @ reads the request from standard input; paste the JSON instead",
                    ));
                }
                data = Some(d);
            }
            "H" | "rpc-header" => metadata.push(parse_header(&value()?)?),
            "reflect-header" | "connect-timeout" | "keepalive-time" | "format" | "authority"
            | "servername" => {
                value()?;
            }
            "proto" => protos.push(value()?),
            "import-path" => import_paths.push(value()?),
            "protoset" => protoset = value()?,
            "cacert" => tls.ca_file = value()?,
            "cert" => tls.cert_file = value()?,
            "key" => tls.key_file = value()?,
            "max-time" => {
                let v = value()?;
                let d = crate::duration::parse_secs(&v)
                    .map_err(|e| err(format!("grpcurl -max-time: {e}")))?;
                timeout_ms = Some(d.as_millis().max(1) as u64);
            }
            other => return Err(err(format!("unsupported grpcurl option -{other}"))),
        }
        i += 1;
    }
    let (addr, method) = match positional.as_slice() {
        [addr, method] if !matches!(method.as_str(), "list" | "describe") => (addr, method),
        [_, verb, ..] | [verb, ..] if matches!(verb.as_str(), "list" | "describe") => {
            return Err(err(format!(
                "grpcurl {verb} is not a call; use `switchboard grpc {verb}` instead"
            )));
        }
        _ => {
            return Err(err(
                "expected `grpcurl [options] ADDRESS package.Service/Method`",
            ));
        }
    };
    // grpcurl accepts Service.Method as well as Service/Method.
    let method = if method.contains('/') {
        method.trim_start_matches('/').to_string()
    } else {
        match method.rsplit_once('.') {
            Some((service, m)) => format!("{service}/{m}"),
            None => return Err(err(format!("{method:?} is not package.Service/Method"))),
        }
    };
    let addr = if plaintext {
        addr.clone()
    } else {
        format!("https://{addr}")
    };
    let name = method.rsplit('/').next().unwrap_or("call").to_string();
    Ok(SavedRequest::new(
        name,
        SavedSpec::Grpc(SavedGrpc {
            addr,
            method,
            metadata,
            message: data.as_deref().and_then(pretty_json),
            timeout_ms,
            protos,
            import_paths,
            protoset,
            tls,
        }),
    ))
}

// ---------------------------------------------------------------------------------------------
// Export

fn quote(s: &str) -> String {
    shlex::try_quote(s)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| format!("'{}'", s.replace('\0', "").replace('\'', "'\\''")))
}

/// A request as a curl (HTTP) or grpcurl (gRPC) command line.
pub fn export(request: &SavedRequest) -> Result<String, CollectionError> {
    match &request.spec {
        SavedSpec::Http(_) => export_curl(request),
        SavedSpec::Grpc(_) => export_grpcurl(request),
        other => Err(err(format!(
            "{} requests have no curl or grpcurl form",
            other.kind()
        ))),
    }
}

/// A request as a curl command line.
pub fn export_curl(request: &SavedRequest) -> Result<String, CollectionError> {
    let SavedSpec::Http(h) = &request.spec else {
        return Err(err(
            "only HTTP requests export as curl; gRPC ones as grpcurl",
        ));
    };
    let mut parts = vec!["curl".to_string()];
    let method = h.method.trim().to_ascii_uppercase();
    if method == "HEAD" {
        parts.push("--head".to_string());
    } else if method != "GET" || (h.body.is_some() || !h.form.is_empty()) && method != "POST" {
        parts.push(format!("-X {}", quote(&method)));
    }
    let url = curl_url(h.url.trim());
    // curl reads {} and [] in a URL as patterns unless told not to.
    if url.contains(['{', '}', '[', ']']) {
        parts.push("--globoff".to_string());
    }
    parts.push(quote(&url));
    for header in h.headers.iter().filter(|h| h.enabled) {
        match clear_basic_credentials(&header.name, &header.value) {
            Some(user_password) if header.name.trim().eq_ignore_ascii_case("authorization") => {
                parts.push(format!("-u {}", quote(user_password)));
            }
            _ => parts.push(format!(
                "-H {}",
                quote(&format!("{}: {}", header.name, header.value))
            )),
        }
    }
    if !h.form.is_empty() {
        for part in h.form.iter().filter(|p| p.enabled) {
            parts.push(curl_form_arg(part));
        }
    } else if let Some(body) = &h.body {
        parts.push(format!("--data-raw {}", quote(&body.to_text())));
    }
    if let Some(ms) = h.timeout_ms {
        parts.push(format!("--max-time {}", ms as f64 / 1000.0));
    }
    for (flag, path) in [
        ("--cacert", &h.tls.ca_file),
        ("--cert", &h.tls.cert_file),
        ("--key", &h.tls.key_file),
    ] {
        if !path.is_empty() {
            parts.push(format!("{flag} {}", quote(path)));
        }
    }
    Ok(parts.join(" \\\n  "))
}

/// A form part as curl's `-F` (or `--form-string` for text curl would read as a file name).
fn curl_form_arg(part: &SavedFormPart) -> String {
    // curl reads `"…"` with backslash escapes when a value holds `;` or starts with a quote.
    let value = |v: &str| {
        if v.contains([';', '"']) {
            format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
        } else {
            v.to_string()
        }
    };
    let mut options = String::new();
    if !part.content_type.is_empty() {
        options.push_str(&format!(";type={}", part.content_type));
    }
    if !part.filename.is_empty() {
        options.push_str(&format!(";filename={}", value(&part.filename)));
    }
    if !part.file.is_empty() {
        format!(
            "-F {}",
            quote(&format!("{}=@{}{options}", part.name, value(&part.file)))
        )
    } else if options.is_empty() && part.value.starts_with(['@', '<']) {
        format!(
            "--form-string {}",
            quote(&format!("{}={}", part.name, part.value))
        )
    } else {
        format!(
            "-F {}",
            quote(&format!("{}={}{options}", part.name, value(&part.value)))
        )
    }
}

/// A URL as curl accepts it: percent-encoded the way Switchboard's sender encodes it (spaces,
/// quotes… in the path and query), unchanged when it needs nothing or does not parse (a URL
/// still holding `{{variables}}`).
fn curl_url(url: &str) -> String {
    let needs_encoding = url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || !c.is_ascii() || "\"<>\\^`|".contains(c));
    if !needs_encoding || url.contains("{{") {
        return url.to_string();
    }
    match url::Url::parse(url) {
        Ok(parsed) => parsed.as_str().to_string(),
        Err(_) => url.to_string(),
    }
}

/// A gRPC request as a grpcurl command line.
pub fn export_grpcurl(request: &SavedRequest) -> Result<String, CollectionError> {
    let SavedSpec::Grpc(g) = &request.spec else {
        return Err(err(
            "only gRPC requests export as grpcurl; HTTP ones as curl",
        ));
    };
    let mut parts = vec!["grpcurl".to_string()];
    let addr = g.addr.trim();
    let addr = if let Some(rest) = addr.strip_prefix("https://") {
        rest.to_string()
    } else {
        parts.push("-plaintext".to_string());
        addr.trim_start_matches("http://").to_string()
    };
    for m in g.metadata.iter().filter(|m| m.enabled) {
        parts.push(format!("-H {}", quote(&format!("{}: {}", m.name, m.value))));
    }
    for p in &g.import_paths {
        parts.push(format!("-import-path {}", quote(p)));
    }
    for p in &g.protos {
        parts.push(format!("-proto {}", quote(p)));
    }
    if !g.protoset.is_empty() {
        parts.push(format!("-protoset {}", quote(&g.protoset)));
    }
    for (flag, path) in [
        ("-cacert", &g.tls.ca_file),
        ("-cert", &g.tls.cert_file),
        ("-key", &g.tls.key_file),
    ] {
        if !path.is_empty() {
            parts.push(format!("{flag} {}", quote(path)));
        }
    }
    if let Some(ms) = g.timeout_ms {
        parts.push(format!("-max-time {}", ms as f64 / 1000.0));
    }
    if let Some(message) = &g.message {
        parts.push(format!("-d {}", quote(&message.to_text())));
    }
    parts.push(quote(&addr));
    parts.push(quote(&g.method));
    Ok(parts.join(" \\\n  "))
}

// ---------------------------------------------------------------------------------------------
// Writing imports

/// Writes imported requests into `dir` (created if needed; an existing collection keeps its
/// files and gains the new requests and variables). Literal credentials go to the secret
/// store. Returns the relative paths written.
pub fn write_into(
    dir: &Path,
    imported: &Imported,
    secrets: &mut SecretStore,
) -> Result<Vec<String>, CollectionError> {
    write_into_counted(dir, imported, secrets, &mut |_, _| {})
}

/// [`write_into`], calling `progress(written, total)` as request files are written (first
/// with 0), for a front end to show.
pub fn write_into_counted(
    dir: &Path,
    imported: &Imported,
    secrets: &mut SecretStore,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<String>, CollectionError> {
    let total = imported.requests.len();
    progress(0, total);
    std::fs::create_dir_all(dir).map_err(|e| CollectionError::io(dir, e))?;
    let settings_path = dir.join(COLLECTION_FILE);
    let (mut settings, raw) = if settings_path.exists() {
        match super::load_file::<CollectionSettings>(&settings_path) {
            Loaded::Ok { value, raw } => (value, Some(raw)),
            Loaded::Broken { reason } => {
                return Err(CollectionError::Corrupt {
                    path: settings_path,
                    reason,
                });
            }
        }
    } else {
        (
            CollectionSettings {
                name: if imported.name.is_empty() {
                    dir.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                } else {
                    imported.name.clone()
                },
                ..Default::default()
            },
            None,
        )
    };
    let mut changed = raw.is_none();
    let mut secrets_changed = false;
    for v in &imported.variables {
        if settings.variables.iter().any(|have| have.name == v.name) {
            continue;
        }
        changed = true;
        if v.secret {
            if !v.value.is_empty() {
                secrets.set(&SecretStore::key(dir), ALL_ENVIRONMENTS, &v.name, &v.value);
                secrets_changed = true;
            }
            settings.variables.push(Variable::secret(&v.name));
        } else {
            settings.variables.push(v.clone());
        }
    }
    if secrets_changed {
        secrets.save()?;
    }
    if changed {
        let expected = match &raw {
            Some(bytes) => OnDisk::Bytes(bytes),
            None => OnDisk::Nothing,
        };
        write_file(&settings_path, &settings, expected)?;
    }
    super::save_new_requests_counted(dir, &imported.requests, secrets, &mut |n| {
        progress(n, total)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_lines_with_continuations_and_bundled_flags() {
        let r = curl(
            "curl -sSL -X POST 'http://127.0.0.1:8082/orders' \\\n  -H 'Content-Type: application/json' \\\n  -d '{\"user_id\": \"1\"}'",
        )
        .unwrap();
        let SavedSpec::Http(h) = &r.spec else {
            panic!()
        };
        assert_eq!(h.method, "POST");
        assert_eq!(h.url, "http://127.0.0.1:8082/orders");
        assert_eq!(
            h.headers,
            vec![SavedHeader::new("Content-Type", "application/json")]
        );
        assert_eq!(h.body.as_ref().unwrap().to_text(), "{\"user_id\": \"1\"}");
        assert_eq!(r.name, "POST /orders");
        assert!(
            curl("curl --frobnicate http://x")
                .unwrap_err()
                .to_string()
                .contains("--frobnicate")
        );
        assert!(curl("wget http://x").is_err());
        assert!(curl("curl 'http://x").is_err());
    }

    fn http(r: &SavedRequest) -> &SavedHttp {
        match &r.spec {
            SavedSpec::Http(h) => h,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn curl_glued_short_options_and_explicit_authorization() {
        let r = curl("curl -sSXPOST -HAccept:\\ x -dA=1 -m5 http://h/p").unwrap();
        let h = http(&r);
        assert_eq!(h.method, "POST");
        assert_eq!(h.headers[0], SavedHeader::new("Accept", "x"));
        assert_eq!(h.body.as_ref().unwrap().to_text(), "A=1");
        assert_eq!(h.timeout_ms, Some(5000));
        assert!(curl("curl -XGET -Z http://h").is_err());
        // -d's value is never read as options.
        let r = curl("curl -d -sX http://h").unwrap();
        assert_eq!(http(&r).body.as_ref().unwrap().to_text(), "-sX");
        // As curl does: an explicit Authorization wins over -u.
        let r = curl("curl -H 'Authorization: Bearer T' -u u:p http://h").unwrap();
        assert_eq!(
            http(&r).headers,
            vec![SavedHeader::new("Authorization", "Bearer T")]
        );
        let r = curl("curl -u u:p http://h").unwrap();
        assert_eq!(http(&r).headers[0].value, "Basic dTpw");
        let r = curl("curl -u '{{id}}:{{secret}}' http://h").unwrap();
        assert_eq!(http(&r).headers[0].value, "Basic {{id}}:{{secret}}");
    }

    #[test]
    fn curl_form_parts_read_as_curl_reads_them() {
        let r = curl(
            r#"curl -F a=1 -F 'b=@"x;y.txt";type=text/plain;filename=z.txt' -F 'c=v;type=text/csv' -F 'd="q;r"' --form-string 'e=@lit' https://h/up"#,
        )
        .unwrap();
        let h = http(&r);
        assert_eq!(h.method, "POST");
        let parts: Vec<(&str, &str, &str, &str, &str)> = h
            .form
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.value.as_str(),
                    p.file.as_str(),
                    p.content_type.as_str(),
                    p.filename.as_str(),
                )
            })
            .collect();
        assert_eq!(
            parts,
            [
                ("a", "1", "", "", ""),
                ("b", "", "x;y.txt", "text/plain", "z.txt"),
                ("c", "v", "", "text/csv", ""),
                ("d", "q;r", "", "", ""),
                ("e", "@lit", "", "", ""),
            ]
        );
        // Exported and read again: the same parts.
        let again = curl(&export_curl(&r).unwrap()).unwrap();
        assert_eq!(http(&again).form, h.form);
        assert!(curl("curl -F a=1 -d b=2 https://h/").is_err());
        assert!(curl("curl -F 'a=<file' https://h/").is_err());
    }

    #[test]
    fn data_urlencode_encodes_like_curl() {
        assert_eq!(data_urlencode("To=+1 555").unwrap(), "To=%2B1%20555");
        assert_eq!(data_urlencode("=a&b").unwrap(), "a%26b");
        assert_eq!(data_urlencode("a b").unwrap(), "a%20b");
        assert_eq!(data_urlencode("x={{v}}+").unwrap(), "x={{v}}%2B");
        assert!(data_urlencode("name@file.txt").is_err());
    }

    #[test]
    fn postman_urls_from_parts() {
        let url = |v: &str| postman_url(&serde_json::from_str(v).unwrap());
        assert_eq!(
            url(r#"{"protocol": "https", "host": ["api", "example", "com"], "port": "8443",
                    "path": ["v1", "users"], "query": [{"key": "q", "value": "a b"}], "hash": "top"}"#)
            .as_deref(),
            Some("https://api.example.com:8443/v1/users?q=a b#top")
        );
        assert_eq!(
            url(r#"{"raw": "", "host": "{{base}}", "path": "/x"}"#).as_deref(),
            Some("{{base}}/x")
        );
        assert_eq!(url(r#"{"query": []}"#), None);
    }

    #[test]
    fn postman_v2_0_and_v2_1_auth_shapes_read_alike() {
        let header = |auth: &str| {
            postman_auth("r", &serde_json::from_str(auth).unwrap(), &mut Vec::new())
                .map(|h| (h.name, h.value))
        };
        for (v20, v21) in [
            (
                r#"{"type": "bearer", "bearer": {"token": "T"}}"#,
                r#"{"type": "bearer", "bearer": [{"key": "token", "value": "T"}]}"#,
            ),
            (
                r#"{"type": "basic", "basic": {"username": "u", "password": "p"}}"#,
                r#"{"type": "basic", "basic": [{"key": "username", "value": "u"}, {"key": "password", "value": "p"}]}"#,
            ),
            (
                r#"{"type": "apikey", "apikey": {"key": "X-Key", "value": "K"}}"#,
                r#"{"type": "apikey", "apikey": [{"key": "key", "value": "X-Key"}, {"key": "value", "value": "K"}]}"#,
            ),
        ] {
            assert_eq!(header(v20), header(v21), "{v20}");
            assert!(header(v20).is_some());
        }
        assert_eq!(
            header(r#"{"type": "basic", "basic": {"username": "u", "password": "p"}}"#),
            Some(("Authorization".into(), "Basic dTpw".into()))
        );
        let mut warnings = Vec::new();
        let empty = serde_json::json!({"type": "bearer", "bearer": {}});
        assert_eq!(postman_auth("r", &empty, &mut warnings), None);
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn curl_export_encodes_urls_and_keeps_variables() {
        let mut r = curl("curl http://h/a").unwrap();
        if let SavedSpec::Http(h) = &mut r.spec {
            h.url = "http://h/o?$filter=(a eq 'x')".into();
        }
        let line = export_curl(&r).unwrap();
        assert!(
            line.contains("'http://h/o?$filter=(a%20eq%20%27x%27)'"),
            "{line}"
        );
        if let SavedSpec::Http(h) = &mut r.spec {
            h.url = "{{base}}/a".into();
        }
        let line = export_curl(&r).unwrap();
        assert!(line.contains("--globoff"), "{line}");
        assert_eq!(http(&curl(&line).unwrap()).url, "{{base}}/a");
    }

    #[test]
    fn curl_export_reads_back_the_same_request() {
        let r = curl("curl -X PUT http://h/a -H 'A: b c' --data-raw \"it's\"").unwrap();
        let line = export_curl(&r).unwrap();
        assert_eq!(curl(&line).unwrap().spec, r.spec, "{line}");
    }

    #[test]
    fn grpcurl_lines_both_ways() {
        let r = grpcurl(
            "grpcurl -plaintext -H 'x-request-id: 7' -d '{\"user_id\":\"1\"}' 127.0.0.1:50051 user.UserService.GetUserInfo",
        )
        .unwrap();
        let SavedSpec::Grpc(g) = &r.spec else {
            panic!()
        };
        assert_eq!(g.addr, "127.0.0.1:50051");
        assert_eq!(g.method, "user.UserService/GetUserInfo");
        assert_eq!(g.metadata, vec![SavedHeader::new("x-request-id", "7")]);
        let line = export_grpcurl(&r).unwrap();
        assert_eq!(grpcurl(&line).unwrap().spec, r.spec, "{line}");
        let tls = grpcurl("grpcurl -d={} example.com:443 a.B/C").unwrap();
        let SavedSpec::Grpc(g) = &tls.spec else {
            panic!()
        };
        assert_eq!(g.addr, "https://example.com:443");
        assert!(grpcurl("grpcurl -plaintext localhost:1 list").is_err());
    }
}
