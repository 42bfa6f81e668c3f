//! Running a collection headless, in order, with expectations: what `switchboard run` does.

use std::collections::HashMap;
use std::time::Duration;

use prost_reflect::DescriptorPool;
use serde::Serialize;

use super::expect::Check;
use super::saved::{Runnable, SavedSpec};
use super::{Collection, CollectionError, Loaded, SecretStore};
use crate::{Exchange, RequestSpec, descriptors};

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The environment to use (none: collection variables only).
    pub environment: Option<String>,
    /// `--var NAME=VALUE`, strongest of all sources.
    pub vars: Vec<(String, String)>,
    /// Requests or folders to run (all when empty).
    pub names: Vec<String>,
    /// For requests that set no timeout.
    pub timeout: Duration,
    /// Each request carries a W3C `traceparent`: a new trace each, unless its headers set one
    /// (as `send` does: [`RequestSpec::inject_trace`]).
    pub traceparent: bool,
}

/// What happened to one saved request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunResult {
    /// The request's file in the collection: `users/01-get-user.json`.
    pub file: String,
    pub name: String,
    pub passed: bool,
    /// Why it could not be sent (broken file, unresolved variable…), when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why it was not run (a watch definition).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
    #[serde(skip)]
    pub exchanges: Vec<Exchange>,
}

impl RunResult {
    fn failed(request: &str, name: String, error: String) -> Self {
        Self {
            file: request.to_string(),
            name,
            passed: false,
            error: Some(error),
            skipped: None,
            checks: Vec::new(),
            exchanges: Vec::new(),
        }
    }

    fn skipped(request: &str, name: String, why: String) -> Self {
        Self {
            file: request.to_string(),
            name,
            passed: true,
            error: None,
            skipped: Some(why),
            checks: Vec::new(),
            exchanges: Vec::new(),
        }
    }
}

/// Runs the selected requests of `collection` one after another, calling `report` after each.
pub async fn run(
    collection: &Collection,
    secrets: &SecretStore,
    options: &RunOptions,
    mut report: impl FnMut(&RunResult),
) -> Result<Vec<RunResult>, CollectionError> {
    let mut vars = collection.vars(options.environment.as_deref(), secrets)?;
    for (name, value) in &options.vars {
        vars.set(name.clone(), value.clone());
    }
    let items = collection.select(&options.names)?;
    let mut pools: HashMap<(String, String), DescriptorPool> = HashMap::new();
    let mut results = Vec::new();
    for item in items {
        let result = match &item.file {
            Loaded::Broken { reason } => RunResult::failed(
                &item.rel,
                item.name(),
                format!("cannot read {}: {reason}", item.rel),
            ),
            Loaded::Ok { value: saved, .. } => {
                match saved.resolve(&vars, &collection.root, options.timeout) {
                    Err(e) => RunResult::failed(&item.rel, saved.name.clone(), e.message),
                    Ok(Runnable::Watch(w)) => RunResult::skipped(
                        &item.rel,
                        saved.name.clone(),
                        format!(
                            "a watch definition ({}): open it in the app's message viewer",
                            w.describe()
                        ),
                    ),
                    Ok(Runnable::Request(mut spec)) => {
                        let pool = match (&spec, &saved.spec) {
                            (RequestSpec::Grpc(req), SavedSpec::Grpc(g)) => {
                                let source = g.descriptor_source(&collection.root);
                                let key = (format!("{source:?}"), req.addr.clone());
                                match pools.get(&key) {
                                    Some(pool) => Ok(pool.clone()),
                                    None => {
                                        let loaded = descriptors::load_for_method(
                                            &source,
                                            &req.addr,
                                            Some(&req.method),
                                            req.timeout,
                                            &req.tls,
                                        )
                                        .await;
                                        if let Ok(pool) = &loaded {
                                            pools.insert(key, pool.clone());
                                        }
                                        loaded
                                    }
                                }
                            }
                            _ => Ok(DescriptorPool::new()),
                        };
                        match pool {
                            Err(e) => RunResult::failed(
                                &item.rel,
                                saved.name.clone(),
                                format!("cannot load gRPC descriptors: {e}"),
                            ),
                            Ok(pool) => {
                                let exchanges = if options.traceparent {
                                    spec.execute_traced(&pool).await
                                } else {
                                    spec.execute(&pool).await
                                };
                                let checks: Vec<Check> = exchanges
                                    .iter()
                                    .flat_map(|x| saved.expect.check(x))
                                    .collect();
                                RunResult {
                                    file: item.rel.clone(),
                                    name: saved.name.clone(),
                                    passed: !exchanges.is_empty()
                                        && checks.iter().all(|c| c.passed),
                                    error: None,
                                    skipped: None,
                                    checks,
                                    exchanges,
                                }
                            }
                        }
                    }
                }
            }
        };
        report(&result);
        results.push(result);
    }
    Ok(results)
}
