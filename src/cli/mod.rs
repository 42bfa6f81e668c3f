//! The headless front end: `switchboard send|publish|watch|grpc|load|demo|run|import|export`.

mod args;
mod collections;
mod grpc_call;
mod kafka;
mod nats;
pub(crate) mod out;
mod print;
mod traces;
mod watching;

use grpc_call::{grpc_pool, grpc_request, send_grpc};
use out::{errln, out, outln};
use watching::watch;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

pub use args::{Cli, Command, MAX_SECS, ScriptArg, parse_secs};

use crate::engine::amqp::{self, Properties, PublishRequest};
use crate::engine::grpc::{self, GrpcRequest};
use crate::engine::http::{self, HttpRequest};
use crate::engine::{Exchange, Header, RequestSpec};

/// Parses the command line and runs it. Without a subcommand, `launch` is called (the app).
pub fn main_with(launch: impl FnOnce(&Cli) -> anyhow::Result<()>) -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let Some(command) = cli.command.clone() else {
        return match launch(&cli) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => fail(&format!("{err:#}")),
        };
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => return fail(&format!("cannot start the async runtime: {err}")),
    };
    // So that the first exchange's network phases have the kernel's stamps too (about a
    // millisecond; a system where stamping is already on answers at once).
    crate::engine::kernel_time::keep_receive_stamps_on(std::time::Duration::from_millis(50));
    match runtime.block_on(run(command)) {
        Ok(code) => code,
        Err(err) if out::stdout_closed(&err) => ExitCode::SUCCESS,
        Err(err) => fail(&format!("{err:#}")),
    }
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                "warn,lapin=off,async_nats=off,opentelemetry_sdk=off,opentelemetry_otlp=off".into()
            }),
        )
        .try_init();
}

/// Prints one error line on stderr and returns the failure exit code.
pub fn fail(message: &str) -> ExitCode {
    errln!("error: {}", message.replace('\n', " "));
    ExitCode::FAILURE
}

/// Runs one subcommand; exchanges are printed with their credentials masked unless
/// `--show-credentials`.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Send(send) => {
            let traced = traces::Traced::start(&send.tracing).await?;
            self::send(send.command, send.shown.show_credentials, &traced).await
        }
        Command::Publish(a) => publish(a).await,
        Command::Nats(c) => nats::command(c).await,
        Command::Kafka(k) => kafka::command(k.command, &k.kafka_url).await,
        Command::Watch(a) => {
            let show_credentials = a.shown.show_credentials;
            watch(a, show_credentials).await
        }
        Command::Demo(a) => demo(a.config()).await,
        Command::Traces(a) => traces::follow(a).await,
        Command::Run(a) => {
            let show_credentials = a.shown.show_credentials;
            collections::run(a, show_credentials).await
        }
        Command::Import(i) => collections::import(i),
        Command::Export(e) => collections::export(e),
        other => tools(other).await,
    }
}

/// `demo`: the services in the foreground, saying where each listens, until Ctrl-C or SIGTERM;
/// stopping flushes their last spans. A reader that closes stdout stops them too.
async fn demo(config: demo_services::DemoConfig) -> anyhow::Result<ExitCode> {
    let mut signal = StopSignal::new();
    let demo = demo_services::DemoServices::start(config).await?;
    let banner = (|| -> anyhow::Result<()> {
        for line in demo.describe() {
            outln!("{line}")?;
        }
        outln!("Press Ctrl-C to stop.")
    })();
    if let Err(err) = banner {
        demo.stop().await;
        return Err(err);
    }
    // A reader that closed stdout (`demo | head -1`) stops it too.
    let mut reader_gone = watching::stdout_reader_gone()?;
    tokio::select! {
        () = signal.recv() => {}
        Ok(()) = reader_gone.changed() => {}
    }
    let _ = outln!("Stopping...");
    demo.stop().await;
    Ok(ExitCode::SUCCESS)
}

async fn send(
    command: args::Send,
    show_credentials: bool,
    traced: &traces::Traced,
) -> anyhow::Result<ExitCode> {
    use traces::in_trace;
    let (mut exchanges, json) = match command {
        args::Send::Http(a) => {
            let mut req = http_request(&a)?;
            let context = traced.context(&mut req.headers);
            (vec![in_trace(context, http::send(&req)).await], a.json)
        }
        args::Send::Grpc(a) => return send_grpc(a, show_credentials, traced).await,
        args::Send::Nats(a) => {
            let mut req = nats::request(&a)?;
            let context = traced.context(&mut req.headers);
            let run = crate::engine::nats::execute(&req, a.timeout);
            (in_trace(context, run).await, a.json)
        }
    };
    traced.collect(&mut exchanges).await;
    report(&exchanges, json, show_credentials)
}

async fn publish(a: args::PublishArgs) -> anyhow::Result<ExitCode> {
    use traces::in_trace;
    let show_credentials = a.shown.show_credentials;
    let traced = traces::Traced::start(&a.tracing).await?;
    let mut exchanges = match &a {
        a if kafka::check_scheme(&a.url).is_err() => {
            kafka::check_scheme(&a.url)?;
            return Ok(ExitCode::FAILURE);
        }
        a if kafka::is_kafka_url(&a.url) => {
            let mut req = kafka::publish(a)?;
            let context = traced.context(&mut req.headers);
            in_trace(context, crate::engine::kafka::execute(&req, a.timeout)).await
        }
        a if nats::is_nats_url(&a.url) => {
            let mut req = nats::publish(a)?;
            let context = traced.context(&mut req.headers);
            in_trace(context, crate::engine::nats::execute(&req, a.timeout)).await
        }
        // Many copies with nothing asked of each one: pipelined confirms and a summary.
        a if a.count > 1 && !a.json && !a.tracing.trace => {
            let mut req = publish_request(a)?;
            let _ = traced.context(&mut req.headers);
            return publish_count(req).await;
        }
        a => {
            let mut req = publish_request(a)?;
            let context = traced.context(&mut req.headers);
            in_trace(context, amqp::publish(&req)).await
        }
    };
    traced.collect(&mut exchanges).await;
    report(&exchanges, a.json, show_credentials)
}

/// `publish --count N` (AMQP, no `--json`/`--trace`): N copies on one connection with up to
/// 1000 confirms in flight, then one line saying how many the broker confirmed and how fast.
async fn publish_count(request: PublishRequest) -> anyhow::Result<ExitCode> {
    let count = u64::from(request.count);
    let target = request.target();
    let job = crate::engine::publish_many::PublishMany {
        request,
        count,
        rate_per_sec: 0.0,
        numbered: false,
    };
    let done = crate::engine::publish_many::publish_many(
        &job,
        None,
        tokio_util::sync::CancellationToken::new(),
    )
    .await?;
    let secs = done.elapsed.as_secs_f64();
    let summary = outln!(
        "published {} of {count} to {target}: {} confirmed, {} failed, in {secs:.3} s ({:.0} msg/s)",
        done.published,
        done.confirmed,
        done.failed,
        done.rate()
    );
    // A reader that closed stdout still gets the error line and the exit status.
    out::still_open(summary)?;
    if done.confirmed == count {
        Ok(ExitCode::SUCCESS)
    } else {
        errln!(
            "error: {} of {count} messages were not confirmed (nacked, or returned as unroutable: --allow-unroutable accepts those)",
            count - done.confirmed
        );
        Ok(ExitCode::FAILURE)
    }
}

/// `grpc` and `load`.
async fn tools(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Grpc(args::GrpcCommand::List {
            addr,
            service,
            protos,
            timeout,
        }) => {
            // By reflection, exactly what the server's ListServices names; from files, every
            // service they define.
            let (pool, listed) = if protos.proto.is_empty() && protos.protoset.is_none() {
                let found = crate::engine::descriptors::reflect(&addr, timeout).await?;
                (found.pool, found.services)
            } else {
                let pool = grpc_pool(&addr, None, &protos, timeout, &Default::default()).await?;
                let listed = crate::engine::descriptors::services(&pool);
                (pool, listed)
            };
            match service {
                None => {
                    for name in listed {
                        outln!("{name}")?;
                    }
                }
                Some(service) => {
                    let found = pool.get_service_by_name(&service).ok_or_else(|| {
                        anyhow::anyhow!(
                            "service {service:?} not found (services: {})",
                            listed.join(", ")
                        )
                    })?;
                    for m in found.methods() {
                        outln!("{}.{}", found.full_name(), m.name())?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Grpc(args::GrpcCommand::Describe {
            addr,
            symbol,
            protos,
            timeout,
        }) => {
            let pool = grpc_pool(&addr, None, &protos, timeout, &Default::default()).await?;
            out!("{}", crate::engine::descriptors::describe(&pool, &symbol)?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Load(l) => {
            let mut pool = None;
            let (spec, opts, json, no_traceparent) = match l {
                args::Load::Http {
                    request,
                    load,
                    trace,
                } => (
                    RequestSpec::Http(http_request(&request)?),
                    load,
                    request.json,
                    trace.no_traceparent,
                ),
                args::Load::Grpc {
                    request,
                    load,
                    trace,
                } => {
                    let r = grpc_request(&request)?;
                    pool = Some(
                        grpc_pool(&r.addr, Some(&r.method), &request.protos, r.timeout, &r.tls)
                            .await?,
                    );
                    (
                        RequestSpec::Grpc(r),
                        load,
                        request.json,
                        trace.no_traceparent,
                    )
                }
                args::Load::Amqp { request, load } => (
                    RequestSpec::Amqp(Box::new(publish_request(&request)?)),
                    load,
                    request.json,
                    load_no_traceparent(&request.tracing)?,
                ),
                args::Load::Kafka { request, load } => (
                    RequestSpec::Kafka(Box::new(kafka::publish(&request)?)),
                    load,
                    request.json,
                    load_no_traceparent(&request.tracing)?,
                ),
                args::Load::Nats {
                    request,
                    load,
                    trace,
                } => (
                    RequestSpec::Nats(Box::new(nats::request(&request)?)),
                    load,
                    request.json,
                    trace.no_traceparent,
                ),
            };
            load(spec, opts, json, !no_traceparent, pool).await
        }
        _ => anyhow::bail!("not a tool command"),
    }
}

fn http_request(a: &args::HttpArgs) -> anyhow::Result<HttpRequest> {
    let (method, url) = match a.method_and_url.as_slice() {
        [url] => (
            if a.body.is_some() { "POST" } else { "GET" }.to_string(),
            url.clone(),
        ),
        [method, url] => (method.clone(), url.clone()),
        _ => anyhow::bail!("expected [METHOD] URL"),
    };
    // A body file of any size is streamed as it is sent; text and standard input are read
    // (up to the limit).
    let body_file = a
        .body
        .as_deref()
        .and_then(|b| b.strip_prefix('@'))
        .filter(|path| *path != "-")
        .map(std::path::PathBuf::from);
    if let Some(path) = &body_file {
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => anyhow::bail!("cannot read {}: not a regular file", path.display()),
            Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
        }
    }
    Ok(HttpRequest {
        method,
        url,
        headers: parse_headers(&a.headers)?,
        body: match &a.body {
            Some(_) if body_file.is_some() => Vec::new(),
            Some(body) => read_body(body)?,
            None => Vec::new(),
        },
        body_file,
        form: Vec::new(),
        timeout: a.timeout,
        max_body_bytes: http::DEFAULT_MAX_BODY_BYTES,
        tls: a.tls.options(),
    })
}

fn publish_request(a: &args::PublishArgs) -> anyhow::Result<PublishRequest> {
    if a.topic.is_some() {
        anyhow::bail!(
            "--topic is for Kafka (a kafka:// URL); an AMQP publish takes --exchange and --routing-key"
        );
    }
    if a.subject.is_some() || a.jetstream {
        anyhow::bail!(
            "--subject and --jetstream are for NATS (a nats:// URL); an AMQP publish takes --exchange and --routing-key"
        );
    }
    let (Some(exchange), Some(routing_key)) = (&a.exchange, &a.routing_key) else {
        anyhow::bail!(
            "an AMQP publish needs --exchange NAME (\"\" for the default exchange) and --routing-key KEY"
        );
    };
    let body = read_body(&a.body)?;
    let mut headers = Vec::new();
    for h in &a.headers {
        let (k, v) = h
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("header {h:?} is not of the form key=value"))?;
        headers.push(Header::new(k.trim(), v.trim()));
    }
    let p = &a.props;
    let content_type = p.content_type.clone().or_else(|| {
        Some(
            if serde_json::from_slice::<serde_json::Value>(&body).is_ok() {
                "application/json".to_string()
            } else {
                "text/plain".to_string()
            },
        )
    });
    Ok(PublishRequest {
        properties: Properties {
            content_type,
            content_encoding: p.content_encoding.clone(),
            message_id: p.message_id.clone(),
            correlation_id: p.correlation_id.clone(),
            timestamp: Some(crate::engine::recorder::unix_ms() / 1000),
            delivery_mode: p.persistent.then_some(2),
            priority: p.priority,
            kind: p.kind.clone(),
            app_id: p.app_id.clone(),
            user_id: p.user_id.clone(),
            reply_to: a.reply_to.clone(),
            expiration: p.expiration.map(|ms| ms.to_string()),
        },
        headers,
        mandatory: !a.allow_unroutable,
        count: a.count.max(1),
        timeout: a.timeout,
        ..PublishRequest::new(a.url.clone(), exchange.clone(), routing_key.clone(), body)
    })
}

/// `load amqp` / `load kafka` take publish's trace options: only `--no-traceparent` means
/// something there (load mode collects no spans).
fn load_no_traceparent(t: &args::Tracing) -> anyhow::Result<bool> {
    if t.trace {
        anyhow::bail!(
            "load does not collect spans: --trace is for send and publish (each load request \
             still carries a traceparent unless --no-traceparent)"
        );
    }
    Ok(t.no_traceparent)
}

async fn load(
    spec: RequestSpec,
    opts: args::LoadOpts,
    json: bool,
    traceparent: bool,
    pool: Option<prost_reflect::DescriptorPool>,
) -> anyhow::Result<ExitCode> {
    use crate::engine::load::{LoadLimit, LoadSpec, run_load};
    let limit = match (opts.requests, opts.duration) {
        (Some(n), None) => LoadLimit::Requests(n),
        (None, Some(duration)) => LoadLimit::Duration(duration),
        (None, None) => LoadLimit::Requests(1000),
        (Some(_), Some(_)) => anyhow::bail!("give --requests N or --duration SECS, not both"),
    };
    let pool = match pool {
        Some(pool) => pool,
        None => grpc::builtin_pool()?,
    };
    let spec = LoadSpec {
        request: spec,
        limit,
        concurrency: opts.concurrency,
        traceparent,
    };
    let cancel = tokio_util::sync::CancellationToken::new();
    let stop = cancel.clone();
    let mut signal = StopSignal::new();
    // A reader that closed stdout (`| head`, a pager quit) will see nothing: the load stops.
    let mut reader_gone = watching::stdout_reader_gone()?;
    let ctrl_c = tokio::spawn(async move {
        tokio::select! {
            () = signal.recv() => {}
            Ok(()) = reader_gone.changed() => {}
        }
        stop.cancel();
    });
    let report = run_load(&spec, &pool, None, cancel).await;
    ctrl_c.abort();
    let report = report?;
    if json {
        outln!("{}", report.to_json())?;
    } else {
        out!("{}", print::load_text(&report))?;
    }
    Ok(if report.ok == report.requests {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn parse_headers(lines: &[String]) -> anyhow::Result<Vec<Header>> {
    lines
        .iter()
        .map(|l| http::parse_header_line(l).map_err(anyhow::Error::from))
        .collect()
}

/// The largest request body or message the command line sends (64 MiB).
pub const MAX_REQUEST_BODY_BYTES: u64 = 64 * 1024 * 1024;

/// `TEXT`, `@FILE`, or `@-` for standard input; at most [`MAX_REQUEST_BODY_BYTES`].
fn read_body(spec: &str) -> anyhow::Result<Vec<u8>> {
    let too_big = |what: &str| {
        anyhow::anyhow!(
            "{what} is larger than the {} MiB limit for request bodies",
            MAX_REQUEST_BODY_BYTES / (1024 * 1024)
        )
    };
    let read_capped = |reader: &mut dyn std::io::Read, what: &str| -> anyhow::Result<Vec<u8>> {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(reader, MAX_REQUEST_BODY_BYTES + 1),
            &mut buf,
        )
        .map_err(|e| anyhow::anyhow!("cannot read {what}: {e}"))?;
        if buf.len() as u64 > MAX_REQUEST_BODY_BYTES {
            return Err(too_big(what));
        }
        Ok(buf)
    };
    match spec.strip_prefix('@') {
        Some("-") => read_capped(&mut std::io::stdin().lock(), "standard input"),
        Some(path) => {
            let mut file = std::fs::File::open(path)
                .map_err(|e| anyhow::anyhow!("cannot read {path}: {e}"))?;
            if file
                .metadata()
                .is_ok_and(|m| m.is_file() && m.len() > MAX_REQUEST_BODY_BYTES)
            {
                return Err(too_big(path));
            }
            read_capped(&mut file, path)
        }
        None => Ok(spec.as_bytes().to_vec()),
    }
}

/// The exchange as printed: credentials masked unless `show_credentials`.
pub(crate) fn shown(exchange: &Exchange, show_credentials: bool) -> std::borrow::Cow<'_, Exchange> {
    use crate::engine::credentials::Redact;
    if show_credentials {
        std::borrow::Cow::Borrowed(exchange)
    } else {
        std::borrow::Cow::Owned(exchange.redacted())
    }
}

/// Prints exchanges and picks the exit code: success only if every exchange is ok.
fn report(exchanges: &[Exchange], json: bool, show_credentials: bool) -> anyhow::Result<ExitCode> {
    let mut all_ok = true;
    // A reader that closed stdout still gets the exit code the exchanges earned.
    let mut stdout_open = true;
    for exchange in exchanges {
        let exchange = &shown(exchange, show_credentials);
        if stdout_open {
            let printed = if json {
                outln!("{}", exchange.to_json_line())
            } else {
                out!("{}", print::exchange_text(exchange))
            };
            stdout_open = out::still_open(printed)?;
        }
        // The one-line error on stderr, for scripts; in a terminal the text above ends with
        // the same line already, so it is not said twice.
        let said = !json && std::io::IsTerminal::is_terminal(&std::io::stdout());
        if let Some(error) = &exchange.error
            && !said
        {
            errln!("error: {}", error.to_string().replace('\n', " "));
        }
        all_ok &= exchange.ok;
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Ctrl-C, or SIGTERM (`kill`, a process manager): a watch, a load or a trace follow stops as
/// cleanly on either — what it holds on a server (a stream tap's consumer) is given back.
/// Made once, before the work starts, so a signal that comes between two waits is not lost.
pub(crate) struct StopSignal {
    terminate: Option<tokio::signal::unix::Signal>,
}

impl StopSignal {
    pub(crate) fn new() -> Self {
        Self {
            terminate: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .ok(),
        }
    }

    /// Waits for Ctrl-C or SIGTERM.
    pub(crate) async fn recv(&mut self) {
        let terminate = async {
            match &mut self.terminate {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminate => {}
        }
    }
}
