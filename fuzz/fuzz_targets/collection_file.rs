//! A collection's files: a request (`*.json`), an environment, `collection.json`; then what the
//! app and `switchboard run` do with a request that parsed.
#![no_main]

mod common;

use std::path::Path;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use switchboard::engine::collection::{
    self, CollectionSettings, Environment, SavedRequest, Vars, import,
};

fuzz_target!(|data: &[u8]| {
    let _ = collection::parse::<CollectionSettings>(data);
    let environment = collection::parse::<Environment>(data);
    let Ok(request) = collection::parse::<SavedRequest>(data) else {
        return;
    };
    let mut vars = Vars::default();
    if let Ok(environment) = &environment {
        vars.add_weak(&environment.variables);
    }
    vars.set("host", "127.0.0.1:8081");
    let _ = request.unresolved(&vars);
    let _ = request.resolve(&vars, Path::new("/collection"), Duration::from_secs(30));
    let _ = request
        .spec
        .to_runnable(Path::new("/collection"), Duration::from_secs(30));
    common::prepare(&request);
    let _ = import::export(&request);
    let mut moved = request.clone();
    let _ = moved.extract_secrets();
    common::write_read_write(&request);
});
