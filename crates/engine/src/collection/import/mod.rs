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

mod curl;
mod export;
mod postman;

pub use curl::{curl, grpcurl};
pub use export::*;
pub use postman::postman;
use postman::{basic, encode_keeping_references, has_header};

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

#[cfg(test)]
mod tests {
    use super::curl::data_urlencode;
    use super::postman::{postman_auth, postman_url};
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
