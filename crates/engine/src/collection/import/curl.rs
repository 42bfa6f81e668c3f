//! curl and grpcurl command lines read as those tools read them: quoting, continuations, bundled short options, `-F` form parts, `--data-urlencode`.

use super::*;

/// A curl `-F` argument: `name=value`, `name=@path` (a file part) with `;type=` and
/// `;filename=` after either; values may be double-quoted (`name="a;b"`, `name=@"x;y.txt"`).
pub(super) fn curl_form(arg: &str, literal: bool) -> Result<SavedFormPart, CollectionError> {
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

/// curl's short options that take a value; it may be glued to the flag (`-XPOST`,
/// `-HAccept: x`, `-dDATA`) or follow flags without a value (`-sXPOST`).
pub(super) const CURL_SHORT_WITH_VALUE: &str = "XHduAebmowEF";
/// curl's short options without a value, which may be bundled (`-sSL`).
pub(super) const CURL_SHORT_FLAGS: &str = "sSLkvifN#gIG";

/// `-sXPOST` as `-s -X POST`; `None` for anything that is not a bundle of short options.
pub(super) fn split_short_options(arg: &str) -> Result<Option<Vec<String>>, CollectionError> {
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
pub(super) fn data_urlencode(content: &str) -> Result<String, CollectionError> {
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
