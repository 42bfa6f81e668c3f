//! Multipart forms both ways, permissions of the data directory, and files that are not files.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(super) async fn multipart_forms_import_from_curl_and_postman_run_and_export_with_files_by_path()
{
    let sandbox = Sandbox::new();
    let echo = Echo::start().await;
    let root = sandbox.collection();
    let root_s = root.to_str().unwrap();
    let base = echo.base_url();
    std::fs::create_dir_all(root.join("files")).unwrap();
    std::fs::write(root.join("files/report.csv"), "a,b\n1,2\n").unwrap();
    // Binary, with a CRLF and a would-be delimiter inside.
    let logo: Vec<u8> = [
        &[0x89, b'P', b'N', b'G', 0, b'\r', b'\n'][..],
        b"--x\r\n\xff",
    ]
    .concat();
    std::fs::write(root.join("files/logo.png"), &logo).unwrap();

    let line = format!(
        "curl -F title=Quarterly -F 'report=@files/report.csv;type=text/csv' -F 'logo=@files/logo.png;filename=brand.png' -F 'note={{{{note}}}}' --form-string 'at=@home' {base}/upload"
    );
    let out = run_cli(
        sandbox.data(),
        args(&["import", "curl", &line, root_s, "--name", "upload"]),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let postman = serde_json::json!({
        "info": {"name": "Forms", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
        "item": [{
            "name": "Postman form",
            "request": {
                "method": "POST",
                "url": {"raw": "{{base}}/postman-form"},
                "body": {"mode": "formdata", "formdata": [
                    {"key": "kind", "value": "report", "type": "text"},
                    {"key": "attachment", "type": "file", "src": "files/report.csv"},
                    {"key": "skip", "value": "me", "type": "text", "disabled": true}
                ]}
            }
        }]
    });
    let postman_file = sandbox.dir.join("forms.postman_collection.json");
    std::fs::write(&postman_file, postman.to_string()).unwrap();
    let out = run_cli(
        sandbox.data(),
        args(&["import", "postman", postman_file.to_str().unwrap(), root_s]),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // Files are referenced by path, never copied in; the format stays version 1.
    let saved = std::fs::read_to_string(root.join("upload.json")).unwrap();
    assert!(saved.contains("\"file\": \"files/report.csv\""), "{saved}");
    assert!(!saved.contains("1,2"), "{saved}");
    assert!(saved.contains("\"version\": 1"), "{saved}");

    let out = run_cli(
        sandbox.data(),
        args(&[
            "run",
            root_s,
            "--var",
            "note=hello",
            "--var",
            &format!("base={base}"),
        ]),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    let upload = echo.one("/upload");
    assert!(upload.line.starts_with("POST "), "{upload:?}");
    let parts = multipart_parts(&upload);
    let headers: Vec<&str> = parts.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(
        headers,
        [
            "Content-Disposition: form-data; name=\"title\"",
            "Content-Disposition: form-data; name=\"report\"; filename=\"report.csv\"\r\nContent-Type: text/csv",
            "Content-Disposition: form-data; name=\"logo\"; filename=\"brand.png\"\r\nContent-Type: image/png",
            "Content-Disposition: form-data; name=\"note\"",
            "Content-Disposition: form-data; name=\"at\"",
        ]
    );
    let bodies: Vec<&[u8]> = parts.iter().map(|(_, b)| b.as_slice()).collect();
    assert_eq!(
        bodies,
        [&b"Quarterly"[..], b"a,b\n1,2\n", &logo, b"hello", b"@home"]
    );
    let from_postman = multipart_parts(&echo.one("/postman-form"));
    assert_eq!(from_postman.len(), 2, "{from_postman:?}");
    assert_eq!(
        from_postman[1].0,
        "Content-Disposition: form-data; name=\"attachment\"; filename=\"report.csv\"\r\nContent-Type: text/csv"
    );
    assert_eq!(from_postman[1].1, b"a,b\n1,2\n");

    // Export as curl -F, and back: the same form.
    let upload_file = root.join("upload.json");
    let out = run_cli(
        sandbox.data(),
        args(&["export", "curl", upload_file.to_str().unwrap()]),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let exported = text(&out.stdout);
    assert!(
        exported.contains("-F 'report=@files/report.csv;type=text/csv'"),
        "{exported}"
    );
    assert!(exported.contains("--form-string 'at=@home'"), "{exported}");
    let again = import::curl(&exported).unwrap();
    let SavedSpec::Http(again) = again.spec else {
        panic!()
    };
    assert_eq!(again.form, loaded_http(&root, "upload.json").form);

    // A missing file is an error that names it, and nothing is sent.
    std::fs::remove_file(root.join("files/logo.png")).unwrap();
    let out = run_cli(
        sandbox.data(),
        args(&[
            "run",
            root_s,
            "--var",
            "note=x",
            "--var",
            &format!("base={base}"),
        ]),
    )
    .await;
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("logo.png"),
        "{}",
        text(&out.stdout)
    );
    let uploads = echo
        .received()
        .iter()
        .filter(|r| r.target() == "/upload")
        .count();
    assert_eq!(uploads, 1, "the failed upload sent nothing");
}

/// The CLI tightens an existing data directory to 0700 when it writes the secret store.
#[cfg(unix)]
#[test]
pub(super) fn the_cli_makes_the_data_directory_owner_only_when_it_writes_secrets() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    let root = sandbox.collection();
    std::fs::set_permissions(sandbox.data(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = sandbox.switchboard(&[
        "import",
        "curl",
        "curl -H 'Authorization: Bearer cli-5ecret' http://127.0.0.1:1/x",
        root.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = std::fs::read_to_string(sandbox.data().join("secrets.json")).unwrap();
    assert!(store.contains("cli-5ecret"));
    let mode = std::fs::metadata(sandbox.data())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}

/// Regression (hostile run): a symbolic link to a device or a FIFO in a collection (both can
/// arrive with a cloned repository) is a broken entry, not an endless read or a hang; the
/// rest of the folder loads and runs.
#[test]
pub(super) fn devices_fifos_and_huge_files_in_a_collection_are_broken_entries() {
    let sandbox = Sandbox::new();
    let root = sandbox.collection();
    std::os::unix::fs::symlink("/dev/zero", root.join("04-zero.json")).unwrap();
    let fifo = root.join("03-fifo.json");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let huge = std::fs::File::create(root.join("05-huge.json")).unwrap();
    huge.set_len(collection::MAX_FILE_BYTES + 1).unwrap();
    drop(huge);
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let loader = root.clone();
    std::thread::Builder::new()
        .name("load".into())
        .spawn(move || {
            let _ = tx.send(Collection::load(&loader).map(|c| {
                c.items
                    .iter()
                    .map(|i| match &i.file {
                        Loaded::Broken { reason } => (i.rel.clone(), reason.clone()),
                        other => (i.rel.clone(), format!("loaded: {other:?}")),
                    })
                    .collect::<Vec<_>>()
            }));
        })
        .unwrap();
    let items = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("the collection loads without hanging")
        .unwrap();
    let reason = |rel: &str| {
        items
            .iter()
            .find(|(r, _)| r == rel)
            .map(|(_, reason)| reason.clone())
            .unwrap_or_else(|| panic!("{rel} not listed: {items:?}"))
    };
    assert_eq!(reason("04-zero.json"), "not a regular file");
    assert_eq!(reason("03-fifo.json"), "not a regular file");
    assert!(reason("05-huge.json").contains("larger than"), "{items:?}");
}
