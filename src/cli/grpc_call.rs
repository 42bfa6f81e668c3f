//! `switchboard send grpc` and `switchboard grpc`: descriptors (reflection, proto files or the
//! bundled proto) and the call.

use super::*;

/// `send grpc`: unary calls print the exchange; a server stream also prints each message as it
/// arrives (unless `--json`); a client stream reads `-d @-` line by line, sending each JSON line
/// as it is read and half-closing at end of input.
pub(super) async fn send_grpc(
    a: args::GrpcArgs,
    show_credentials: bool,
    traced: &super::traces::Traced,
) -> anyhow::Result<ExitCode> {
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
            return report(&[exchange], a.json, show_credentials);
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
                                errln!("error: stdin line {}: {}", i + 1, e.message);
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
    // A printer that cannot write (its reader closed stdout) ends the stream's call.
    let cancel = tokio_util::sync::CancellationToken::new();
    let observer = if server_streaming && !a.json {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<grpc::Received>(256);
        let cancel = cancel.clone();
        printer = Some(tokio::spawn(async move {
            let mut n = 0;
            while let Some(m) = rx.recv().await {
                n += 1;
                let printed = outln!(
                    "<- #{n} at {} ({} B): {}",
                    print::format_us(m.at_us),
                    m.size_bytes,
                    m.json
                );
                if printed.is_err() {
                    cancel.cancel();
                    return printed;
                }
            }
            anyhow::Ok(())
        }));
        Some(tx)
    } else {
        None
    };
    let context = traced.context(&mut request.metadata);
    // A stream's reader that goes away ends it, even while nothing arrives (`| head -1`).
    let reader_left = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let left_watch = if server_streaming {
        let mut gone = super::watching::stdout_reader_gone()?;
        let (cancel, left) = (cancel.clone(), reader_left.clone());
        Some(tokio::spawn(async move {
            if gone.changed().await.is_ok() {
                left.store(true, std::sync::atomic::Ordering::SeqCst);
                cancel.cancel();
            }
        }))
    } else {
        None
    };
    let call = crate::engine::recorder::cancellable(
        cancel,
        grpc::call_streaming(&request, &pool, None, input, observer),
    );
    let mut exchange = super::traces::in_trace(context, call).await;
    if let Some(watch) = left_watch {
        watch.abort();
    }
    if reader_left.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(super::out::StdoutClosed.into());
    }
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
    // The reader stopped reading the stream: it ends there, quietly, as a watch does.
    if let Some(printer) = printer
        && let Ok(Err(unprinted)) = printer.await
    {
        return Err(unprinted);
    }
    let mut exchanges = [exchange];
    traced.collect(&mut exchanges).await;
    report(&exchanges, a.json, show_credentials)
}

/// The descriptors to call `addr` with: `--proto` files, a `--protoset`, or the server's
/// reflection — falling back to the bundled `user.proto` when the server offers no reflection
/// and the method is one of the demo's.
pub(super) async fn grpc_pool(
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
pub(super) fn descriptor_source(
    protos: &args::ProtoOpts,
) -> crate::engine::descriptors::DescriptorSource {
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

pub(super) fn grpc_request(a: &args::GrpcArgs) -> anyhow::Result<GrpcRequest> {
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
