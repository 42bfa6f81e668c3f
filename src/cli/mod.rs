//! The headless front end: `switchboard send|publish|watch|grpc|load|demo|run|import|export`.

mod args;
mod collections;
mod kafka;
mod nats;
mod print;

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
    match runtime.block_on(run(command)) {
        Ok(code) => code,
        Err(err) => fail(&format!("{err:#}")),
    }
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,lapin=off,async_nats=off".into()),
        )
        .try_init();
}

/// Prints one error line on stderr and returns the failure exit code.
pub fn fail(message: &str) -> ExitCode {
    eprintln!("error: {}", message.replace('\n', " "));
    ExitCode::FAILURE
}

/// Runs one subcommand; exchanges are printed with their credentials masked unless
/// `--show-credentials`.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Send(send) => self::send(send.command, send.shown.show_credentials).await,
        Command::Publish(a) => publish(a).await,
        Command::Nats(c) => nats::command(c).await,
        Command::Kafka(k) => kafka::command(k.command, &k.kafka_url).await,
        Command::Watch(a) => {
            let show_credentials = a.shown.show_credentials;
            watch(a, show_credentials).await
        }
        Command::Demo(a) => {
            demo_services::demo::run_foreground(a.config()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(a) => {
            let show_credentials = a.shown.show_credentials;
            collections::run(a, show_credentials).await
        }
        Command::Import(i) => collections::import(i),
        Command::Export(e) => collections::export(e),
        other => tools(other).await,
    }
}

async fn send(command: args::Send, show_credentials: bool) -> anyhow::Result<ExitCode> {
    match command {
        args::Send::Http(a) => {
            let exchange = http::send(&http_request(&a)?).await;
            Ok(report(&[exchange], a.json, show_credentials))
        }
        args::Send::Grpc(a) => send_grpc(a, show_credentials).await,
        args::Send::Nats(a) => {
            let exchanges = crate::engine::nats::execute(&nats::request(&a)?, a.timeout).await;
            Ok(report(&exchanges, a.json, show_credentials))
        }
    }
}

async fn publish(a: args::PublishArgs) -> anyhow::Result<ExitCode> {
    let show_credentials = a.shown.show_credentials;
    match a {
        a if kafka::check_scheme(&a.url).is_err() => {
            kafka::check_scheme(&a.url)?;
            Ok(ExitCode::FAILURE)
        }
        a if kafka::is_kafka_url(&a.url) => {
            let exchanges = crate::engine::kafka::execute(&kafka::publish(&a)?, a.timeout).await;
            Ok(report(&exchanges, a.json, show_credentials))
        }
        a if nats::is_nats_url(&a.url) => {
            let exchanges = crate::engine::nats::execute(&nats::publish(&a)?, a.timeout).await;
            Ok(report(&exchanges, a.json, show_credentials))
        }
        a => {
            let exchanges = amqp::publish(&publish_request(&a)?).await;
            Ok(report(&exchanges, a.json, show_credentials))
        }
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
                        println!("{name}");
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
                        println!("{}.{}", found.full_name(), m.name());
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
            print!("{}", crate::engine::descriptors::describe(&pool, &symbol)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Load(l) => {
            let mut pool = None;
            let (spec, opts, json) = match l {
                args::Load::Http { request, load } => (
                    RequestSpec::Http(http_request(&request)?),
                    load,
                    request.json,
                ),
                args::Load::Grpc { request, load } => {
                    let r = grpc_request(&request)?;
                    pool = Some(
                        grpc_pool(&r.addr, Some(&r.method), &request.protos, r.timeout, &r.tls)
                            .await?,
                    );
                    (RequestSpec::Grpc(r), load, request.json)
                }
                args::Load::Amqp { request, load } => (
                    RequestSpec::Amqp(Box::new(publish_request(&request)?)),
                    load,
                    request.json,
                ),
                args::Load::Kafka { request, load } => (
                    RequestSpec::Kafka(Box::new(kafka::publish(&request)?)),
                    load,
                    request.json,
                ),
                args::Load::Nats { request, load } => (
                    RequestSpec::Nats(Box::new(nats::request(&request)?)),
                    load,
                    request.json,
                ),
            };
            load(spec, opts, json, pool).await
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

/// `send grpc`: unary calls print the exchange; a server stream also prints each message as it
/// arrives (unless `--json`); a client stream reads `-d @-` line by line, sending each JSON line
/// as it is read and half-closing at end of input.
async fn send_grpc(a: args::GrpcArgs, show_credentials: bool) -> anyhow::Result<ExitCode> {
    let stdin_stream = a.data.as_deref() == Some("@-");
    let mut request = if stdin_stream {
        grpc_request(&args::GrpcArgs {
            data: None,
            ..a.clone()
        })?
    } else {
        grpc_request(&a)?
    };
    // One deadline for the whole exchange: discovery by reflection spends part of the timeout
    // and the call gets what is left.
    let timeout = request.timeout;
    let started = tokio::time::Instant::now();
    let deadline = started + timeout;
    let loaded = crate::engine::descriptors::load_for_method_noting(
        &descriptor_source(&a.protos),
        &request.addr,
        Some(&request.method),
        timeout,
        &request.tls,
    )
    .await;
    let discovery = started.elapsed();
    request.timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
    // Discovery that fails (or takes the whole timeout) is still an exchange, printed as one.
    let loaded = match loaded {
        Ok(_) if request.timeout.is_zero() => Err(crate::engine::ExchangeError {
            kind: crate::engine::ErrorKind::Timeout,
            phase: None,
            message: format!(
                "timed out after {:.1} s (the request timeout) while discovering the types of {} by server reflection; pass --proto or --protoset to skip discovery",
                timeout.as_secs_f64(),
                request.addr
            ),
        }),
        other => other,
    };
    let (pool, fell_back) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => {
            let exchange = grpc::discovery_failed(&request, discovery, error);
            return Ok(report(&[exchange], a.json, show_credentials));
        }
    };
    let method = grpc::find_method(&pool, &request.method).ok();
    let client_streaming = method.as_ref().is_some_and(|m| m.is_client_streaming());
    let server_streaming = method.as_ref().is_some_and(|m| m.is_server_streaming());
    let mut input = None;
    if stdin_stream {
        if client_streaming && let Some(method) = method.clone() {
            let (tx, rx) = tokio::sync::mpsc::channel(64);
            std::thread::Builder::new()
                .name("grpc-stdin".into())
                .spawn(move || {
                    use std::io::BufRead;
                    for (i, line) in std::io::stdin()
                        .lock()
                        .lines()
                        .map_while(Result::ok)
                        .enumerate()
                    {
                        if line.trim().is_empty() {
                            continue;
                        }
                        match grpc::json_to_message(&method, &line) {
                            Ok(m) => {
                                if tx.blocking_send(m).is_err() {
                                    return;
                                }
                            }
                            Err(e) => {
                                eprintln!("error: stdin line {}: {}", i + 1, e.message);
                                return;
                            }
                        }
                    }
                })?;
            input = Some(rx);
        } else {
            request.json = String::from_utf8(read_body("@-")?)
                .map_err(|_| anyhow::anyhow!("standard input is not UTF-8 JSON"))?;
        }
    }
    let mut printer = None;
    let observer = if server_streaming && !a.json {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<grpc::Received>(256);
        printer = Some(tokio::spawn(async move {
            let mut n = 0;
            while let Some(m) = rx.recv().await {
                n += 1;
                println!(
                    "<- #{n} at {} ({} B): {}",
                    print::format_us(m.at_us),
                    m.size_bytes,
                    m.json
                );
            }
        }));
        Some(tx)
    } else {
        None
    };
    let mut exchange = grpc::call_streaming(&request, &pool, None, input, observer).await;
    exchange.prepend_phase(
        grpc::phases::DISCOVER,
        discovery.as_micros() as u64,
        if let Some(failed) = &fell_back {
            format!(
                "server reflection failed ({}); the bundled user.proto's types were used",
                failed.message
            )
        } else if !a.protos.proto.is_empty() {
            "the method's types from --proto files".to_string()
        } else if a.protos.protoset.is_some() {
            "the method's types from --protoset".to_string()
        } else {
            "the method's types by server reflection, on a connection of its own (--proto or --protoset skip it)".to_string()
        },
    );
    if let Some(error) = &mut exchange.error
        && error.kind == crate::engine::ErrorKind::Timeout
    {
        error.message = format!(
            "timed out after {:.1} s (the request timeout; discovery took {} ms of it)",
            timeout.as_secs_f64(),
            discovery.as_millis()
        );
    }
    if let Some(printer) = printer {
        let _ = printer.await;
    }
    Ok(report(&[exchange], a.json, show_credentials))
}

/// The descriptors to call `addr` with: `--proto` files, a `--protoset`, or the server's
/// reflection — falling back to the bundled `user.proto` when the server offers no reflection
/// and the method is one of the demo's.
async fn grpc_pool(
    addr: &str,
    method: Option<&str>,
    protos: &args::ProtoOpts,
    timeout: Duration,
    tls: &crate::engine::net::TlsOptions,
) -> anyhow::Result<prost_reflect::DescriptorPool> {
    Ok(crate::engine::descriptors::load_for_method(
        &descriptor_source(protos),
        addr,
        method,
        timeout,
        tls,
    )
    .await?)
}

/// Where the types come from: `--proto` files, a `--protoset`, or the server's reflection.
fn descriptor_source(protos: &args::ProtoOpts) -> crate::engine::descriptors::DescriptorSource {
    use crate::engine::descriptors::DescriptorSource;
    if !protos.proto.is_empty() {
        DescriptorSource::Protos {
            files: protos.proto.clone(),
            includes: protos.import_path.clone(),
        }
    } else if let Some(protoset) = &protos.protoset {
        DescriptorSource::Protoset(protoset.clone())
    } else {
        DescriptorSource::Reflection
    }
}

fn grpc_request(a: &args::GrpcArgs) -> anyhow::Result<GrpcRequest> {
    Ok(GrpcRequest {
        addr: a.addr.clone(),
        method: a.method.clone(),
        metadata: parse_headers(&a.headers)?,
        json: match &a.data {
            Some(data) => String::from_utf8(read_body(data)?)
                .map_err(|_| anyhow::anyhow!("--data is not UTF-8 JSON"))?,
            None => "{}".to_string(),
        },
        timeout: a.timeout,
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

async fn load(
    spec: RequestSpec,
    opts: args::LoadOpts,
    json: bool,
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
    };
    let cancel = tokio_util::sync::CancellationToken::new();
    let stop = cancel.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.cancel();
        }
    });
    let report = run_load(&spec, &pool, None, cancel).await;
    ctrl_c.abort();
    let report = report?;
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", print::load_text(&report));
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
fn report(exchanges: &[Exchange], json: bool, show_credentials: bool) -> ExitCode {
    let mut all_ok = true;
    for exchange in exchanges {
        let exchange = &shown(exchange, show_credentials);
        if json {
            println!("{}", exchange.to_json_line());
        } else {
            print!("{}", print::exchange_text(exchange));
        }
        if let Some(error) = &exchange.error {
            eprintln!("error: {}", error.to_string().replace('\n', " "));
        }
        all_ok &= exchange.ok;
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Watches a queue or exchange; message headers are printed masked unless
/// `show_credentials`.
async fn watch(a: args::WatchArgs, show_credentials: bool) -> anyhow::Result<ExitCode> {
    use crate::engine::WatchRequest;
    kafka::check_scheme(&a.url)?;
    let spec = if kafka::is_kafka_url(&a.url) {
        WatchRequest::Kafka(kafka::watch(&a)?)
    } else if nats::is_nats_url(&a.url) {
        WatchRequest::Nats(nats::watch(&a)?)
    } else {
        WatchRequest::Amqp(amqp_watch(&a)?)
    };
    let wanted = if spec.is_peek() { None } else { a.count };
    let mut spec = spec;
    spec.set_limit(wanted);
    run_watch_request(a, spec, wanted, show_credentials).await
}

/// The AMQP watch of `watch amqp://…`.
fn amqp_watch(a: &args::WatchArgs) -> anyhow::Result<crate::engine::watch::WatchSpec> {
    use crate::engine::watch::{WatchMode, WatchSpec};
    use args::ModeArg;
    if a.topic.is_some() || a.group.is_some() || a.partition.is_some() {
        anyhow::bail!("--topic, --partition and --group are for Kafka (a kafka:// URL)");
    }
    if a.from.is_some() {
        anyhow::bail!("--from is for NATS streams and Kafka topics; an AMQP watch starts now");
    }
    if a.subject.is_some() || a.stream.is_some() {
        anyhow::bail!(
            "--subject and --stream are for NATS (a nats:// URL); an AMQP watch takes --exchange or --queue"
        );
    }
    let spec = match (&a.queue, &a.exchange, a.mode) {
        (None, Some(exchange), None | Some(ModeArg::Tap)) => {
            WatchSpec::tap(&a.url, exchange, &a.binding)
        }
        (Some(queue), None, None | Some(ModeArg::Consume)) => {
            WatchSpec::queue(&a.url, WatchMode::Consume, queue)
        }
        (Some(queue), None, Some(ModeArg::Peek)) => WatchSpec {
            peek_limit: u32::try_from(a.count.unwrap_or(100)).unwrap_or(u32::MAX),
            ..WatchSpec::queue(&a.url, WatchMode::Peek, queue)
        },
        (_, Some(_), Some(_)) => {
            anyhow::bail!("--exchange is tapped; peek and consume need --queue")
        }
        (Some(_), _, Some(ModeArg::Tap)) => anyhow::bail!("tap needs --exchange, not --queue"),
        _ => anyhow::bail!("give either --queue NAME or --exchange NAME"),
    };
    let wanted = if spec.mode == WatchMode::Peek {
        None
    } else {
        a.count
    };
    Ok(WatchSpec {
        limit: wanted,
        ..spec
    })
}

async fn run_watch_request(
    a: args::WatchArgs,
    spec: crate::engine::WatchRequest,
    wanted: Option<u64>,
    show_credentials: bool,
) -> anyhow::Result<ExitCode> {
    use crate::engine::watch::{self, WatchEvent};
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let cancel = tokio_util::sync::CancellationToken::new();
    // A consume acknowledges only what was printed; the rest stays in (or goes back to) the queue.
    let (delivered, delivered_rx) = watch::delivery_counter();
    let task = tokio::spawn(spec.clone().run(tx, cancel.clone(), Some(delivered_rx)));
    let mut writer = StdoutWriter::spawn(delivered)?;
    let deadline = a.timeout.map(|t| tokio::time::Instant::now() + t);
    let sleep_until = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(sleep_until);
    let mut received: u64 = 0;
    let mut lost_at: Option<std::time::Instant> = None;
    let timed_out = |received: u64| match wanted {
        Some(n) => Err(format!(
            "timed out after {}s: received {received} of {n} messages",
            a.timeout.unwrap_or_default().as_secs_f64()
        )),
        None => Ok(()),
    };
    // Set when the user or the timeout stops the watch: then lines not yet written are not
    // waited for.
    let mut interrupted = false;
    let outcome: Result<(), String> = loop {
        if wanted.is_some_and(|n| received >= n) {
            break Ok(());
        }
        let event = tokio::select! {
            _ = &mut sleep_until => {
                interrupted = true;
                break timed_out(received);
            }
            _ = tokio::signal::ctrl_c() => {
                interrupted = true;
                break Ok(());
            }
            // The reader went away while nothing arrived (`| head -1` on a quiet queue): a
            // quiet end now, not at the next message.
            Ok(()) = writer.reader_gone.changed() => {
                interrupted = true;
                break Ok(());
            }
            event = rx.recv() => event,
        };
        match event {
            Some(WatchEvent::Connected { queue, reconnected }) => {
                if reconnected {
                    let gap = lost_at.take().map_or(0.0, |t| t.elapsed().as_secs_f64());
                    eprintln!(
                        "watch: reconnected after a {gap:.1} s gap; {received} messages so far"
                    );
                } else if !a.json {
                    let queue = match spec.transport() {
                        crate::engine::Transport::Amqp => format!(" (queue {queue})"),
                        _ => String::new(),
                    };
                    eprintln!(
                        "watching: {}{queue} — {} (Ctrl-C to stop)",
                        spec.describe(),
                        spec.explanation()
                    );
                }
            }
            Some(WatchEvent::Messages(batch)) => {
                let mut lines = Vec::with_capacity(batch.len());
                for message in batch {
                    if wanted.is_some_and(|n| received + lines.len() as u64 >= n) {
                        break;
                    }
                    let message = if show_credentials {
                        message
                    } else {
                        crate::engine::credentials::Redact::redacted(&message)
                    };
                    lines.push(if a.json {
                        format!("{}\n", serde_json::to_string(&message).unwrap_or_default())
                    } else {
                        print::message_text(&message)
                    });
                }
                received += lines.len() as u64;
                // A blocked standard output must not block Ctrl-C or the timeout.
                tokio::select! {
                    sent = writer.lines.send(lines) => if sent.is_err() {
                        // The reader went away (`| head -1`): a quiet end, as `cat` has.
                        interrupted = true;
                        break writer.failure().await.map_or(Ok(()), Err);
                    },
                    _ = tokio::signal::ctrl_c() => {
                        interrupted = true;
                        break Ok(());
                    }
                    _ = &mut sleep_until => {
                        interrupted = true;
                        break timed_out(received);
                    }
                }
            }
            Some(WatchEvent::Lost { reason, retry_in }) => {
                lost_at.get_or_insert_with(std::time::Instant::now);
                if reason.ends_with("waiting for it to come back") {
                    eprintln!(
                        "watch: {reason}; next look in {:.2} s",
                        retry_in.as_secs_f64()
                    );
                } else {
                    eprintln!(
                        "watch: connection lost ({reason}); reconnecting in {:.2} s",
                        retry_in.as_secs_f64()
                    );
                }
            }
            Some(WatchEvent::Notice(notice)) => eprintln!("watch: {notice}"),
            Some(WatchEvent::PeekDone { count }) => {
                if !a.json {
                    if spec.transport() == crate::engine::Transport::Amqp {
                        eprintln!(
                            "peeked {count} messages and put them back (now marked redelivered)"
                        );
                    } else {
                        eprintln!("peeked {count} messages (read by sequence, nothing acked)");
                    }
                }
                break Ok(());
            }
            Some(WatchEvent::Failed(error)) => break Err(error.to_string()),
            None => break Err("the watch ended".to_string()),
        }
    };
    // Everything handed over is written before a normal end (like `cat`), unless the user
    // presses Ctrl-C meanwhile; only what was written counts as shown.
    let StdoutWriter { lines, done, .. } = writer;
    drop(lines);
    if !interrupted && outcome.is_ok() {
        tokio::select! {
            _ = done => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    cancel.cancel();
    // Messages not written were not shown: they are not acknowledged and go back.
    drop(rx);
    let _ = task.await;
    match outcome {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(message) => Ok(fail(&message)),
    }
}

/// Writes watched messages to standard output on a thread of its own, so a reader that does not
/// read (a pager, a full pipe) never blocks Ctrl-C or the watch; counts into `delivered` only
/// what was written.
struct StdoutWriter {
    lines: tokio::sync::mpsc::Sender<Vec<String>>,
    /// Fires when the thread ends: everything written, the reader gone (`None`), or a write failed.
    done: tokio::sync::oneshot::Receiver<Option<String>>,
    /// Changes when standard output is a pipe whose reader closed it.
    reader_gone: tokio::sync::watch::Receiver<()>,
}

impl StdoutWriter {
    fn spawn(delivered: tokio::sync::watch::Sender<u64>) -> anyhow::Result<Self> {
        let (lines, mut rx) = tokio::sync::mpsc::channel::<Vec<String>>(4);
        let (done_tx, done) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("watch-stdout".into())
            .spawn(move || {
                use std::io::Write;
                let mut written = 0u64;
                let mut failure = None;
                'all: while let Some(batch) = rx.blocking_recv() {
                    let mut out = std::io::stdout().lock();
                    for line in batch {
                        if let Err(e) = out.write_all(line.as_bytes()) {
                            failure = write_failure(&e);
                            break 'all;
                        }
                        written += 1;
                        delivered.send_replace(written);
                    }
                    if let Err(e) = out.flush() {
                        failure = write_failure(&e);
                        break;
                    }
                }
                let _ = done_tx.send(failure);
            })?;
        let (gone_tx, reader_gone) = tokio::sync::watch::channel(());
        // Waits for the pipe's reader to go away: poll() reports an error on the write end
        // then, and never for a terminal or a file (nothing else is asked for).
        std::thread::Builder::new()
            .name("watch-stdout-reader".into())
            .spawn(move || {
                use rustix::event::{PollFd, PollFlags, poll};
                let stdout = std::io::stdout();
                loop {
                    let mut fds = [PollFd::new(&stdout, PollFlags::empty())];
                    match poll(&mut fds, None) {
                        Ok(_) if fds[0].revents().intersects(PollFlags::ERR | PollFlags::HUP) => {
                            gone_tx.send_replace(());
                            return;
                        }
                        Ok(_) | Err(rustix::io::Errno::INTR) => {}
                        // An invalid or unpollable descriptor: nothing to watch.
                        Err(_) => return,
                    }
                    if fds[0].revents().contains(PollFlags::NVAL) {
                        return;
                    }
                }
            })?;
        Ok(Self {
            lines,
            done,
            reader_gone,
        })
    }

    /// Why the writer stopped taking lines: `None` when the reader closed the pipe.
    async fn failure(&mut self) -> Option<String> {
        match (&mut self.done).await {
            Ok(failure) => failure,
            Err(_) => Some("standard output closed".to_string()),
        }
    }
}

/// A write error worth reporting; a reader that closed the pipe is not one.
fn write_failure(e: &std::io::Error) -> Option<String> {
    (e.kind() != std::io::ErrorKind::BrokenPipe)
        .then(|| format!("cannot write to standard output: {e}"))
}
