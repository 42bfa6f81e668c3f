//! Bringing requests in (Postman v2.1 collections, curl and grpcurl command lines) and taking
//! them out (as curl or grpcurl command lines).

use std::path::Path;

use base64::Engine as _;
use serde_json::Value;

use super::saved::{
    SavedBody, SavedGrpc, SavedHeader, SavedHttp, SavedRequest, SavedSpec, SavedTls,
};
use super::vars::{ALL_ENVIRONMENTS, Variable};
use super::{
    COLLECTION_FILE, CollectionError, CollectionSettings, Loaded, OnDisk, SecretStore, free_rel,
    save_request, slug, write_file,
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
}

fn err(message: impl Into<String>) -> CollectionError {
    CollectionError::Invalid(message.into())
}

// ---------------------------------------------------------------------------------------------
// Postman

/// Reads a Postman collection v2.1 (or v2.0) export.
pub fn postman(text: &str) -> Result<Imported, CollectionError> {
    let root: Value =
        serde_json::from_str(text).map_err(|e| err(format!("not a JSON file: {e}")))?;
    let info = root
        .get("info")
        .ok_or_else(|| err("not a Postman collection: no \"info\""))?;
    let schema = info.get("schema").and_then(Value::as_str).unwrap_or("");
    if !schema.contains("v2.1") && !schema.contains("v2.0") {
        return Err(err(format!(
            "not a Postman v2.1 collection (schema {schema:?}); export it from Postman as Collection v2.1"
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
            secret: v.get("type").and_then(Value::as_str) == Some("secret"),
        });
    }
    let auth = root.get("auth");
    postman_items(&root, "", auth, &mut out);
    if out.requests.is_empty() {
        out.warnings
            .push("the collection holds no requests".to_string());
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

fn postman_items(node: &Value, folder: &str, auth: Option<&Value>, out: &mut Imported) {
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
            postman_items(item, &sub, auth, out);
        } else if let Some(request) = item.get("request") {
            match postman_request(&name, request, auth, &mut out.warnings) {
                Some(r) => out.requests.push((folder.to_string(), r)),
                None => out.warnings.push(format!("{name}: no URL, not imported")),
            }
        }
    }
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
    let url = match request.get("url")? {
        Value::String(s) => s.clone(),
        u => u.get("raw").and_then(Value::as_str)?.to_string(),
    };
    let method = request
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("GET")
        .to_ascii_uppercase();
    let mut headers: Vec<SavedHeader> = request
        .get("header")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|h| {
            Some(SavedHeader {
                name: h.get("key")?.as_str()?.to_string(),
                value: scalar(h.get("value")),
                enabled: !h.get("disabled").and_then(Value::as_bool).unwrap_or(false),
            })
        })
        .collect();
    let auth = request.get("auth").or(auth);
    if let Some(header) = auth.and_then(|a| postman_auth(name, a, warnings)) {
        headers.push(header);
    }
    let mut body = None;
    if let Some(b) = request.get("body") {
        match b.get("mode").and_then(Value::as_str) {
            Some("raw") => body = SavedBody::from_text(&scalar(b.get("raw"))),
            Some("urlencoded") => {
                let pairs: Vec<String> = b
                    .get("urlencoded")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|p| !p.get("disabled").and_then(Value::as_bool).unwrap_or(false))
                    .map(|p| format!("{}={}", scalar(p.get("key")), scalar(p.get("value"))))
                    .collect();
                body = SavedBody::from_text(&pairs.join("&"));
                if !headers
                    .iter()
                    .any(|h| h.name.eq_ignore_ascii_case("content-type"))
                {
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
            }
            Some(mode @ ("formdata" | "file")) => warnings.push(format!(
                "{name}: {mode} bodies are not supported; body left empty"
            )),
            _ => {}
        }
    }
    Some(http_request(name, &method, &url, headers, body))
}

fn postman_auth(name: &str, auth: &Value, warnings: &mut Vec<String>) -> Option<SavedHeader> {
    let kind = auth.get("type").and_then(Value::as_str)?;
    let field = |key: &str| -> String {
        auth.get(kind)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|p| p.get("key").and_then(Value::as_str) == Some(key))
            .map(|p| scalar(p.get("value")))
            .unwrap_or_default()
    };
    match kind {
        "noauth" => None,
        "bearer" => Some(SavedHeader::new(
            "Authorization",
            format!("Bearer {}", field("token")),
        )),
        "basic" => Some(SavedHeader::new(
            "Authorization",
            basic_auth(&format!("{}:{}", field("username"), field("password"))),
        )),
        "apikey" if field("in") != "query" => Some(SavedHeader::new(field("key"), field("value"))),
        other => {
            warnings.push(format!("{name}: {other} authentication is not supported"));
            None
        }
    }
}

fn basic_auth(user_pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_pass)
    )
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
    let h = crate::engine::http::parse_header_line(line)
        .map_err(|e| CollectionError::Invalid(e.message))?;
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

/// Reads a curl command line.
pub fn curl(command: &str) -> Result<SavedRequest, CollectionError> {
    let args = words(command, "curl")?;
    let mut method: Option<String> = None;
    let mut url: Option<String> = None;
    let mut headers = Vec::new();
    let mut data: Vec<String> = Vec::new();
    let mut get = false;
    let mut timeout_ms = None;
    let mut tls = SavedTls::default();
    let mut i = 0;
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
    while i < args.len() {
        let arg = args[i].as_str();
        let mut value = || -> Result<String, CollectionError> {
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| err(format!("curl option {arg} needs a value")))
        };
        match arg {
            "-X" | "--request" => method = Some(value()?.to_ascii_uppercase()),
            "-H" | "--header" => headers.push(parse_header(&value()?)?),
            "-d" | "--data" | "--data-raw" | "--data-binary" | "--data-ascii"
            | "--data-urlencode" => {
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
                    if !headers
                        .iter()
                        .any(|h: &SavedHeader| h.name.eq_ignore_ascii_case(name))
                    {
                        headers.push(SavedHeader::new(name, v));
                    }
                }
            }
            "-u" | "--user" => {
                headers.push(SavedHeader::new("Authorization", basic_auth(&value()?)))
            }
            "-A" | "--user-agent" => headers.push(SavedHeader::new("User-Agent", value()?)),
            "-e" | "--referer" => headers.push(SavedHeader::new("Referer", value()?)),
            "-b" | "--cookie" => headers.push(SavedHeader::new("Cookie", value()?)),
            "-I" | "--head" => method = Some("HEAD".to_string()),
            "-G" | "--get" => get = true,
            "--url" => url = Some(value()?),
            "-m" | "--max-time" => {
                let v = value()?;
                let secs: f64 = v
                    .parse()
                    .map_err(|_| err(format!("curl {arg} {v}: not a number of seconds")))?;
                timeout_ms = Some((secs * 1000.0) as u64);
            }
            "--cacert" => tls.ca_file = value()?,
            "-E" | "--cert" => tls.cert_file = value()?,
            "--key" => tls.key_file = value()?,
            a if no_value.contains(&a) => {}
            a if ignored_value.contains(&a) => {
                value()?;
            }
            // Bundled short flags: -sSL, -sk…
            a if a.starts_with('-')
                && !a.starts_with("--")
                && a.len() > 2
                && a[1..].chars().all(|c| "sSLkvifN#g".contains(c)) => {}
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
        i += 1;
    }
    let mut url = url.ok_or_else(|| err("the curl command has no URL"))?;
    if !url.contains("://") {
        url = format!("http://{url}");
    }
    let mut body = None;
    if get && !data.is_empty() {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&data.join("&"));
    } else if !data.is_empty() {
        body = SavedBody::from_text(&data.join("&"));
        if !headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("content-type"))
        {
            headers.push(SavedHeader::new(
                "Content-Type",
                "application/x-www-form-urlencoded",
            ));
        }
    }
    let method = method.unwrap_or_else(|| if body.is_some() { "POST" } else { "GET" }.to_string());
    let mut request = http_request(&name_for(&method, &url), &method, &url, headers, body);
    if let SavedSpec::Http(h) = &mut request.spec {
        h.timeout_ms = timeout_ms;
        h.tls = tls;
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
                let secs: f64 = v
                    .parse()
                    .map_err(|_| err(format!("grpcurl -max-time {v}: not a number of seconds")))?;
                timeout_ms = Some((secs * 1000.0) as u64);
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
    } else if method != "GET" || h.body.is_some() && method != "POST" {
        parts.push(format!("-X {}", quote(&method)));
    }
    parts.push(quote(h.url.trim()));
    for header in h.headers.iter().filter(|h| h.enabled) {
        parts.push(format!(
            "-H {}",
            quote(&format!("{}: {}", header.name, header.value))
        ));
    }
    if let Some(body) = &h.body {
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
    let mut written = Vec::new();
    for (folder, request) in &imported.requests {
        let rel = free_rel(dir, folder, &request.name);
        save_request(dir, &rel, request, OnDisk::Nothing, secrets)?;
        written.push(rel);
    }
    Ok(written)
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
