//! Requests out as curl or grpcurl command lines, and a collection written out as files (with progress).

use super::*;

pub(super) fn quote(s: &str) -> String {
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
pub(super) fn curl_form_arg(part: &SavedFormPart) -> String {
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
pub(super) fn curl_url(url: &str) -> String {
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
        match crate::collection::load_file::<CollectionSettings>(&settings_path) {
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
    crate::collection::save_new_requests_counted(dir, &imported.requests, secrets, &mut |n| {
        progress(n, total)
    })
}
