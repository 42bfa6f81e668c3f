//! Postman collections (v2.1, and v2.0's `auth` shape): folders, URLs from parts, bodies, form parts, auth, scripts reported as dropped.

use super::*;

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

pub(super) fn scalar(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

pub(super) fn disabled(v: &Value) -> bool {
    v.get("disabled").and_then(Value::as_bool).unwrap_or(false)
}

/// The pre-request and test scripts of a collection, folder or request (`whose`): each is
/// counted and warned about; returns the notes for the requests they applied to.
pub(super) fn scripts_of(node: &Value, whose: &str, out: &mut Imported) -> Vec<String> {
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

pub(super) fn postman_items(
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
pub(super) fn postman_url(url: &Value) -> Option<String> {
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

pub(super) fn has_header(headers: &[SavedHeader], name: &str) -> bool {
    headers
        .iter()
        .any(|h| h.enabled && h.name.trim().eq_ignore_ascii_case(name))
}

pub(super) fn postman_request(
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
pub(super) fn postman_form(
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

/// Postman auth as a header. v2.1 lists the fields as `[{"key", "value"}]`, v2.0 as an
/// object (`{"token": …}`); both are read.
pub(super) fn postman_auth(
    name: &str,
    auth: &Value,
    warnings: &mut Vec<String>,
) -> Option<SavedHeader> {
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
pub(super) fn basic(user: &str, password: &str) -> String {
    let user_password = format!("{user}:{password}");
    if user_password.contains("{{") {
        format!("Basic {user_password}")
    } else {
        basic_auth(&user_password)
    }
}

/// Form-encodes the literal text of a form field, leaving `{{references}}` to be encoded
/// when they are filled.
pub(super) fn encode_keeping_references(text: &str) -> String {
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
