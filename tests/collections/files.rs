//! Saved files: round trips, corrupt and unknown versions, crashes mid-save, conflicts, secrets kept out of the folder.

use super::*;

#[test]
pub(super) fn every_request_kind_round_trips_through_its_file() {
    let sandbox = Sandbox::new();
    let root = sandbox.collection();
    let mut secrets = sandbox.secrets();
    let mut raws = Vec::new();
    for (i, request) in one_of_each().iter().enumerate() {
        let rel = collection::free_rel(&root, &format!("folder{i}"), &request.name);
        let (saved, bytes) =
            collection::save_request(&root, &rel, request, OnDisk::Nothing, &mut secrets).unwrap();
        assert_eq!(&saved, request, "nothing secret here, nothing changed");
        raws.push((rel, bytes));
    }
    let loaded = Collection::load(&root).unwrap();
    assert_eq!(loaded.items.len(), 4);
    for ((rel, bytes), request) in raws.iter().zip(one_of_each()) {
        let item = loaded.item(rel).unwrap();
        assert_eq!(item.file.ok(), Some(&request), "{rel}");
        assert_eq!(item.file.raw(), Some(bytes.as_slice()));
        // Saving again what was loaded writes the very same bytes (stable diffs).
        assert_eq!(collection::to_file_bytes(&request), *bytes);
    }
    let text = String::from_utf8(raws[0].1.clone()).unwrap();
    assert!(
        text.starts_with("{\n  \"version\": 1,\n  \"name\": \"Get user\",\n  \"kind\": \"http\""),
        "{text}"
    );
    assert!(text.ends_with("}\n"));
}

#[test]
pub(super) fn corrupt_and_unknown_version_files_are_reported_and_left_intact() {
    let sandbox = Sandbox::new();
    let root = sandbox.collection();
    let torn = b"{\n  \"version\": 1,\n  \"name\": \"half a fi".to_vec();
    let future =
        b"{\"version\": 9, \"name\": \"from the future\", \"kind\": \"teleport\"}\n".to_vec();
    std::fs::write(root.join("torn.json"), &torn).unwrap();
    std::fs::write(root.join("future.json"), &future).unwrap();
    let loaded = Collection::load(&root).unwrap();
    let reason = |rel: &str| match &loaded.item(rel).unwrap().file {
        Loaded::Broken { reason } => reason.clone(),
        other => panic!("{rel} loaded: {other:?}"),
    };
    assert!(
        reason("torn.json").contains("not valid JSON"),
        "{}",
        reason("torn.json")
    );
    assert!(
        reason("future.json").contains("version 9"),
        "{}",
        reason("future.json")
    );
    // Saving over them is refused: the app only writes where it knows what is on disk.
    let mut secrets = sandbox.secrets();
    let request = one_of_each().remove(0);
    for rel in ["torn.json", "future.json"] {
        let err = collection::save_request(&root, rel, &request, OnDisk::Nothing, &mut secrets)
            .unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
    }
    // A run reports them as failures (and a corrupt secret store is a warning, not a stop).
    let secrets_file = sandbox.data().join("secrets.json");
    std::fs::write(&secrets_file, b"{ not json").unwrap();
    let out = sandbox.switchboard(&["run", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("cannot read torn.json"), "{stdout}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("warning: secrets not used"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Writing credentials with a corrupt store is refused, and the store is left as it was.
    let out = sandbox.switchboard(&[
        "import",
        "curl",
        "curl -u a:b http://127.0.0.1:1/x",
        root.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    assert_eq!(std::fs::read(&secrets_file).unwrap(), b"{ not json");
    assert_eq!(std::fs::read(root.join("torn.json")).unwrap(), torn);
    assert_eq!(std::fs::read(root.join("future.json")).unwrap(), future);
}

#[test]
pub(super) fn a_crash_between_write_and_rename_keeps_the_old_content() {
    let sandbox = Sandbox::new();
    let root = sandbox.collection();
    let mut secrets = sandbox.secrets();
    let request = one_of_each().remove(1);
    let (_, old) =
        collection::save_request(&root, "call.json", &request, OnDisk::Nothing, &mut secrets)
            .unwrap();
    let mut changed = request.clone();
    changed.name = "Changed".into();
    // The new content is written and synced to the temporary file, then the process "dies"
    // before the rename.
    let staged = Staged::write(
        &root.join("call.json"),
        &collection::to_file_bytes(&changed),
        None,
    )
    .unwrap();
    std::mem::forget(staged);
    assert_eq!(std::fs::read(root.join("call.json")).unwrap(), old);
    let leftovers: Vec<_> = files(&root)
        .into_iter()
        .filter(|(p, _)| p.file_name().unwrap().to_string_lossy().contains(".tmp-"))
        .collect();
    assert_eq!(leftovers.len(), 1, "the crash leaves its temporary file");
    let loaded = Collection::load(&root).unwrap();
    assert_eq!(loaded.items.len(), 1, "the leftover is not a request");
    assert_eq!(loaded.items[0].file.ok(), Some(&request));
}

#[test]
pub(super) fn a_file_changed_on_disk_is_not_clobbered() {
    let sandbox = Sandbox::new();
    let root = sandbox.collection();
    let mut secrets = sandbox.secrets();
    let request = one_of_each().remove(0);
    let (_, loaded_bytes) =
        collection::save_request(&root, "r.json", &request, OnDisk::Nothing, &mut secrets).unwrap();
    // Another instance saves its own edit.
    let mut theirs = request.clone();
    theirs.name = "Theirs".into();
    let (_, their_bytes) = collection::save_request(
        &root,
        "r.json",
        &theirs,
        OnDisk::Bytes(&loaded_bytes),
        &mut secrets,
    )
    .unwrap();
    // Ours, based on what we loaded, is refused…
    let mut ours = request.clone();
    ours.name = "Ours".into();
    let err = collection::save_request(
        &root,
        "r.json",
        &ours,
        OnDisk::Bytes(&loaded_bytes),
        &mut secrets,
    )
    .unwrap_err();
    assert!(
        matches!(err, collection::CollectionError::Conflict { .. }),
        "{err}"
    );
    assert_eq!(std::fs::read(root.join("r.json")).unwrap(), their_bytes);
    // …and so are a rename and a delete based on the stale content.
    assert!(collection::move_file(&root, "r.json", "s.json", &loaded_bytes).is_err());
    assert!(collection::delete_file(&root, "r.json", &loaded_bytes).is_err());
    assert!(root.join("r.json").exists());
    // Overwriting is an explicit choice.
    collection::save_request(&root, "r.json", &ours, OnDisk::Any, &mut secrets).unwrap();
    collection::move_file(
        &root,
        "r.json",
        "sub/s.json",
        &std::fs::read(root.join("r.json")).unwrap(),
    )
    .unwrap();
    let loaded = Collection::load(&root).unwrap();
    assert_eq!(loaded.folders, vec!["sub".to_string()]);
    assert_eq!(loaded.items[0].rel, "sub/s.json");
    assert_eq!(loaded.items[0].name(), "Ours");
}

#[test]
pub(super) fn secrets_never_reach_the_collection_folder() {
    let sandbox = Sandbox::new();
    let root = sandbox.collection();
    let mut secrets = sandbox.secrets();
    let mut requests = one_of_each();
    if let SavedSpec::Http(h) = &mut requests[0].spec {
        h.headers
            .push(SavedHeader::new("Authorization", "Bearer h77p-5ecret"));
    }
    if let SavedSpec::Grpc(g) = &mut requests[1].spec {
        g.metadata
            .push(SavedHeader::new("x-api-key", "gRPC-5ecret"));
    }
    if let SavedSpec::Amqp(a) = &mut requests[2].spec {
        a.url = "amqp://app:amqp-5ecret@127.0.0.1:5672/%2f".into();
    }
    if let SavedSpec::Watch(w) = &mut requests[3].spec {
        w.url = "amqp://app:watch-5ecret@127.0.0.1:5672/%2f".into();
    }
    let mut saved = Vec::new();
    for request in &requests {
        let rel = collection::free_rel(&root, "", &request.name);
        let (written, _) =
            collection::save_request(&root, &rel, request, OnDisk::Nothing, &mut secrets).unwrap();
        saved.push(written);
    }
    collection::save_environment(
        &root,
        "staging",
        &[
            Variable::new("base_url", "http://127.0.0.1:1"),
            Variable {
                name: "db_password".into(),
                value: "env-5ecret".into(),
                secret: true,
            },
        ],
        OnDisk::Nothing,
        &mut secrets,
    )
    .unwrap();
    for secret in [
        "h77p-5ecret",
        "gRPC-5ecret",
        "amqp-5ecret",
        "watch-5ecret",
        "env-5ecret",
    ] {
        assert_nowhere_in(&root, secret);
    }
    // They are in the owner-only secret store, and resolve when running.
    let store_path = sandbox.data().join("secrets.json");
    let store_text = std::fs::read_to_string(&store_path).unwrap();
    assert!(store_text.contains("amqp-5ecret") && store_text.contains("env-5ecret"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&store_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let loaded = Collection::load(&root).unwrap();
    let vars = loaded
        .vars(Some("staging"), &SecretStore::load(&store_path).unwrap())
        .unwrap();
    assert_eq!(vars.get("db_password").as_deref(), Some("env-5ecret"));
    let SavedSpec::Amqp(amqp) = &saved[2].spec else {
        panic!()
    };
    assert_eq!(
        amqp.url,
        "amqp://app:{{publish_amqp_password}}@127.0.0.1:5672/%2f"
    );
    let mut vars = vars;
    vars.set("amqp_url", "unused");
    let resolved = saved[0].substituted(&{
        let mut v = vars.clone();
        v.set("base_url", "http://h");
        v.set("user_id", "1");
        v
    });
    let SavedSpec::Http(h) = resolved.unwrap() else {
        panic!()
    };
    assert!(h.headers.iter().any(|h| h.value == "Bearer h77p-5ecret"));
    // The environment file lists the secret by name only.
    let env: Environment =
        serde_json::from_slice(&std::fs::read(root.join("environments/staging.json")).unwrap())
            .unwrap();
    assert_eq!(env.variables[1], Variable::secret("db_password"));
}
