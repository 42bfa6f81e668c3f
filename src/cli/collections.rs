//! `switchboard run`, `import` and `export`: collections from the command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use super::args;
use super::out::{errln, out, outln};
use super::print::format_us;
use crate::engine::collection::{
    self, COLLECTION_FILE, Collection, Loaded, SavedRequest, SecretStore, import,
    run::{RunOptions, RunResult},
};

fn parse_vars(vars: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    vars.iter()
        .map(|v| {
            v.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| anyhow::anyhow!("--var {v:?} is not of the form NAME=VALUE"))
        })
        .collect()
}

fn secrets() -> anyhow::Result<SecretStore> {
    Ok(SecretStore::load(&SecretStore::default_path())?)
}

/// The secrets for reading only: an unreadable store is a warning (variables from it stay
/// unresolved), not a reason to refuse running.
fn secrets_or_empty() -> SecretStore {
    SecretStore::load(&SecretStore::default_path()).unwrap_or_else(|e| {
        errln!("warning: secrets not used: {e}");
        SecretStore::default()
    })
}

pub async fn run(a: args::RunArgs, show_credentials: bool) -> anyhow::Result<ExitCode> {
    let collection = Collection::load(&a.dir)?;
    if let Loaded::Broken { reason } = &collection.settings {
        anyhow::bail!("{}: {reason}", a.dir.join(COLLECTION_FILE).display());
    }
    let options = RunOptions {
        environment: a.env.clone(),
        vars: parse_vars(&a.vars)?,
        names: a.names.clone(),
        timeout: a.timeout,
        traceparent: !a.no_traceparent,
    };
    let json = a.json;
    // The first failed write to stdout: later results are not printed, and the command ends
    // with it once the run is over (a closed stdout is no error).
    let mut printed: anyhow::Result<()> = Ok(());
    let results = collection::run::run(&collection, &secrets_or_empty(), &options, |r| {
        if printed.is_err() {
            return;
        }
        let masked;
        let r = if show_credentials {
            r
        } else {
            masked = RunResult {
                exchanges: r
                    .exchanges
                    .iter()
                    .map(|x| super::shown(x, false).into_owned())
                    .collect(),
                ..r.clone()
            };
            &masked
        };
        printed = if json {
            print_json(r)
        } else {
            out!("{}", result_text(r))
        };
    })
    .await?;
    // A reader that closed stdout still gets the summary on stderr and the earned exit code.
    super::out::still_open(printed)?;
    let failed = results.iter().filter(|r| !r.passed).count();
    let skipped = results.iter().filter(|r| r.skipped.is_some()).count();
    let passed = results.len() - failed - skipped;
    errln!(
        "{}: {passed} passed, {failed} failed{}",
        collection.name(),
        if skipped > 0 {
            format!(", {skipped} skipped")
        } else {
            String::new()
        }
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One JSON line per exchange: the exchange's own fields, then which request and how it did.
fn print_json(r: &RunResult) -> anyhow::Result<()> {
    let summary = serde_json::to_value(r).unwrap_or_default();
    if r.exchanges.is_empty() {
        return outln!("{summary}");
    }
    for exchange in &r.exchanges {
        let mut value = serde_json::to_value(exchange).unwrap_or_default();
        if let (Some(obj), serde_json::Value::Object(extra)) = (value.as_object_mut(), &summary) {
            for (k, v) in extra {
                obj.insert(k.clone(), v.clone());
            }
        }
        outln!("{value}")?;
    }
    Ok(())
}

fn result_text(r: &RunResult) -> String {
    let mark = if r.skipped.is_some() {
        "-"
    } else if r.passed {
        "✔"
    } else {
        "✘"
    };
    let mut out = format!("{mark} {}  ({})", r.name, r.file);
    if let Some(x) = r.exchanges.first() {
        out.push_str(&format!(
            "  {} {} → {} in {}",
            x.transport.label(),
            x.target,
            x.status_text(),
            format_us(x.total_us)
        ));
        if r.exchanges.len() > 1 {
            out.push_str(&format!(" (+{} more)", r.exchanges.len() - 1));
        }
    }
    out.push('\n');
    if let Some(error) = &r.error {
        out.push_str(&format!("    error: {}\n", error.replace('\n', " ")));
    }
    if let Some(skipped) = &r.skipped {
        out.push_str(&format!("    skipped: {skipped}\n"));
    }
    for c in &r.checks {
        out.push_str(&format!(
            "    {} {}{}\n",
            if c.passed { "✔" } else { "✘" },
            c.what,
            c.found
                .as_ref()
                .map(|f| format!(" (got {f})"))
                .unwrap_or_default()
        ));
    }
    out
}

pub fn import(i: args::Import) -> anyhow::Result<ExitCode> {
    let mut secrets = secrets()?;
    let (dir, imported) = match i {
        args::Import::Postman { file, dir } => {
            let raw = crate::engine::fsutil::read_regular(&file, 256 * 1024 * 1024)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let text = String::from_utf8(raw)
                .map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", file.display()))?;
            (dir, import::postman(&text)?)
        }
        args::Import::Curl(line) => (line.dir.clone(), one(import::curl(&line.command)?, &line)),
        args::Import::Grpcurl(line) => (
            line.dir.clone(),
            one(import::grpcurl(&line.command)?, &line),
        ),
    };
    for warning in &imported.warnings {
        errln!("warning: {warning}");
    }
    let written = import::write_into(&dir, &imported, &mut secrets)?;
    for rel in &written {
        outln!("{}", dir.join(rel).display())?;
    }
    errln!(
        "imported {} request(s) into {}{}",
        written.len(),
        dir.display(),
        match imported.scripts_dropped {
            0 => String::new(),
            n => format!("; {n} Postman script(s) not imported (see the warnings above)"),
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn one(mut request: SavedRequest, line: &args::ImportLine) -> import::Imported {
    if let Some(name) = &line.name {
        request.name = name.clone();
    }
    import::Imported {
        requests: vec![(line.folder.trim_matches('/').to_string(), request)],
        ..Default::default()
    }
}

/// The collection a request file belongs to: the nearest folder above it with a
/// `collection.json`, else its own folder.
fn collection_root(file: &Path) -> PathBuf {
    let dir = file.parent().unwrap_or(Path::new("."));
    dir.ancestors()
        .find(|d| d.join(COLLECTION_FILE).is_file())
        .unwrap_or(dir)
        .to_path_buf()
}

pub fn export(e: args::Export) -> anyhow::Result<ExitCode> {
    let (a, curl) = match e {
        args::Export::Curl(a) => (a, true),
        args::Export::Grpcurl(a) => (a, false),
    };
    let raw =
        crate::engine::fsutil::read_regular(&a.file, crate::engine::collection::MAX_FILE_BYTES)
            .with_context(|| format!("cannot read {}", a.file.display()))?;
    let text = std::str::from_utf8(&raw)
        .map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", a.file.display()))?;
    let mut request: SavedRequest = serde_json::from_str(text)
        .map_err(|err| anyhow::anyhow!("{} is not a saved request: {err}", a.file.display()))?;
    if request.version != collection::FORMAT_VERSION {
        anyhow::bail!(
            "{}: format version {} is not supported",
            a.file.display(),
            request.version
        );
    }
    if a.env.is_some() || !a.vars.is_empty() {
        let root = collection_root(&a.file);
        let loaded = Collection::load(&root)?;
        let mut vars = loaded.vars(a.env.as_deref(), &secrets_or_empty())?;
        for (k, v) in parse_vars(&a.vars)? {
            vars.set(k, v);
        }
        request.spec = request.substituted(&vars).map_err(|names| {
            anyhow::anyhow!("unresolved variables: {}", collection::vars::braced(&names))
        })?;
    }
    let line = if curl {
        import::export_curl(&request)?
    } else {
        import::export_grpcurl(&request)?
    };
    outln!("{line}")?;
    Ok(ExitCode::SUCCESS)
}
