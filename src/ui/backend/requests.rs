//! Requests from the editors: sends, orders, publish-many, load runs, gRPC streams and discovery.

use super::*;

impl Backend {
    pub(super) async fn send(
        &mut self,
        id: u64,
        spec: Box<RequestSpec>,
        trace: Option<crate::engine::trace::TraceContext>,
    ) {
        let Self {
            outbox,
            pool,
            pools,
            running,
            stream_cancels,
            ..
        } = self;
        let outbox = outbox.clone();
        let pool = match spec.as_ref() {
            RequestSpec::Grpc(g) => pool_for(pools, &g.addr, pool),
            _ => pool.clone(),
        };
        // Every request stops gracefully when cancelled: the running phase ends `cancelled` and
        // what arrived before is kept (gRPC calls also report streamed messages as they arrive).
        let cancel = CancellationToken::new();
        stream_cancels.insert(id, cancel.clone());
        let stopped = cancel.clone();
        running.insert(
            id,
            tokio::spawn(async move {
                let run = async {
                    match (&pool, spec.as_ref()) {
                        (Some(pool), RequestSpec::Grpc(req)) => {
                            let (tx, forward) = outbox
                                .forwarder(64, move |message| Event::StreamMessage { id, message });
                            // The stop ends a stream's message loop gracefully, and any wait
                            // before it (connect, the response headers) through the recorder.
                            let call = crate::engine::grpc::call_streaming_until(
                                req,
                                pool,
                                None,
                                None,
                                Some(tx),
                                cancel.clone(),
                            );
                            let e = crate::engine::recorder::cancellable(cancel, call).await;
                            let _ = forward.await;
                            vec![e]
                        }
                        (Some(pool), _) => {
                            let stop = cancel.clone();
                            let run =
                                crate::engine::recorder::cancellable(cancel, spec.execute(pool));
                            tokio::select! {
                                exchanges = run => exchanges,
                                // A step that cannot be cut (name lookup…) gets a moment, then goes.
                                _ = async {
                                    stop.cancelled().await;
                                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                                } => Vec::new(),
                            }
                        }
                        (None, _) => Vec::new(),
                    }
                };
                // The exchanges say which trace their request started.
                let exchanges = match trace {
                    Some(context) => crate::engine::trace::traced(context, run).await,
                    None => run.await,
                };
                let nothing = exchanges.is_empty();
                outbox.send(Event::Exchanges { id, exchanges }).await;
                if nothing && stopped.is_cancelled() {
                    outbox
                        .send(Event::Done {
                            id,
                            cancelled: true,
                        })
                        .await;
                } else {
                    outbox.done(id).await;
                }
            }),
        );
    }

    pub(super) async fn place_order(
        &mut self,
        id: u64,
        request: Box<HttpRequest>,
        trace: Option<crate::engine::trace::TraceContext>,
    ) {
        let Self {
            outbox,
            deliveries,
            running,
            stream_cancels,
            ..
        } = self;
        let outbox = outbox.clone();
        let deliveries = deliveries.subscribe();
        // Cancelled, the order's POST ends `cancelled` at its running phase and is kept, and
        // the wait for its event stops.
        let cancel = CancellationToken::new();
        stream_cancels.insert(id, cancel.clone());
        running.insert(
            id,
            tokio::spawn(async move {
                place_order(id, request, trace, cancel, deliveries, &outbox).await;
                outbox.done(id).await;
            }),
        );
    }

    pub(super) async fn cancel(&mut self, id: u64) {
        let Self {
            outbox,
            running,
            stream_cancels,
            open_streams,
            ..
        } = self;
        open_streams.remove(&id);
        if let Some(cancel) = stream_cancels.remove(&id) {
            // The call ends itself and reports what it got.
            cancel.cancel();
        } else if let Some(task) = running.remove(&id) {
            task.abort();
            outbox
                .send(Event::Done {
                    id,
                    cancelled: true,
                })
                .await;
        }
    }

    pub(super) async fn publish_many(&mut self, id: u64, job: Box<crate::engine::PublishManyJob>) {
        let Self {
            outbox, running, ..
        } = self;
        let outbox = outbox.clone();
        running.insert(
            id,
            tokio::spawn(async move {
                let (tx, forward) =
                    outbox.forwarder(8, move |progress| Event::PublishProgress { id, progress });
                let result = job.run(Some(tx), CancellationToken::new()).await;
                let _ = forward.await;
                if let Err(e) = result {
                    outbox
                        .send(Event::PublishFailed {
                            id,
                            error: e.into(),
                        })
                        .await;
                }
                outbox.done(id).await;
            }),
        );
    }

    pub(super) async fn load(&mut self, id: u64, spec: Box<crate::engine::load::LoadSpec>) {
        let Self {
            outbox,
            pool,
            pools,
            running,
            ..
        } = self;
        let outbox = outbox.clone();
        let pool = match &spec.request {
            RequestSpec::Grpc(g) => pool_for(pools, &g.addr, pool),
            _ => pool.clone(),
        };
        running.insert(
            id,
            tokio::spawn(async move {
                let Some(pool) = pool else { return };
                let (tx, forward) =
                    outbox.forwarder(8, move |progress| Event::LoadProgress { id, progress });
                let result =
                    crate::engine::load::run_load(&spec, &pool, Some(tx), CancellationToken::new())
                        .await;
                forward.abort();
                let result = result.map(Box::new).map_err(BackendError::from);
                outbox.send(Event::LoadDone { id, result }).await;
                outbox.done(id).await;
            }),
        );
    }

    pub(super) async fn open_stream(
        &mut self,
        id: u64,
        request: Box<crate::engine::grpc::GrpcRequest>,
    ) {
        let Self {
            outbox,
            pool,
            pools,
            running,
            stream_cancels,
            open_streams,
            ..
        } = self;
        let Some(pool) = pool_for(pools, &request.addr, pool) else {
            return;
        };
        let method = match crate::engine::grpc::find_method(&pool, &request.method) {
            Ok(m) => m,
            Err(e) => {
                outbox
                    .send(Event::StreamSent {
                        id,
                        result: Err(e.into()),
                    })
                    .await;
                outbox.done(id).await;
                return;
            }
        };
        let (tx, rx) = mpsc::channel(64);
        open_streams.insert(id, (tx, method));
        let cancel = CancellationToken::new();
        stream_cancels.insert(id, cancel.clone());
        let outbox = outbox.clone();
        running.insert(
            id,
            tokio::spawn(async move {
                let (seen_tx, forward) =
                    outbox.forwarder(64, move |message| Event::StreamMessage { id, message });
                let e = crate::engine::grpc::call_streaming_until(
                    &request,
                    &pool,
                    None,
                    Some(rx),
                    Some(seen_tx),
                    cancel,
                )
                .await;
                let _ = forward.await;
                outbox
                    .send(Event::Exchanges {
                        id,
                        exchanges: vec![e],
                    })
                    .await;
                outbox.done(id).await;
            }),
        );
    }

    pub(super) async fn stream_send(&mut self, id: u64, json: String) {
        let Self {
            outbox,
            open_streams,
            ..
        } = self;
        let result = match open_streams.get(&id) {
            None => Err(BackendError::Invalid("the stream is closed".to_string())),
            Some((tx, method)) => match crate::engine::grpc::json_to_message(method, &json) {
                Ok(message) => tx
                    .send(message)
                    .await
                    .map_err(|_| BackendError::Invalid("the call has ended".to_string())),
                Err(e) => Err(e.into()),
            },
        };
        outbox.send(Event::StreamSent { id, result }).await;
    }

    pub(super) async fn half_close(&mut self, id: u64) {
        let Self { open_streams, .. } = self;
        open_streams.remove(&id);
    }

    pub(super) async fn discover(
        &mut self,
        addr: String,
        source: crate::engine::descriptors::DescriptorSource,
        tls: crate::engine::net::TlsOptions,
    ) {
        let Self { outbox, pools, .. } = self;
        let (outbox, pools) = (outbox.clone(), pools.clone());
        tokio::spawn(async move {
            let loaded =
                crate::engine::descriptors::load(&source, &addr, Duration::from_secs(10), &tls)
                    .await;
            let result = match loaded {
                Ok(found) => {
                    let methods = crate::engine::descriptors::methods(&found);
                    pools
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(addr.trim().to_string(), found);
                    Ok(methods)
                }
                Err(e) => Err(e.into()),
            };
            outbox.send(Event::Discovered { addr, result }).await;
        });
    }
}

/// Posts the order, then waits for the event with the order's id on the tap and reports it as
/// an AMQP delivery exchange timed from the moment the order was sent.
pub(super) async fn place_order(
    id: u64,
    request: Box<HttpRequest>,
    trace: Option<crate::engine::trace::TraceContext>,
    cancel: CancellationToken,
    mut deliveries: broadcast::Receiver<(Instant, WatchedMessage)>,
    outbox: &Outbox,
) {
    let clock = Clock::start();
    let started_at_ms = unix_ms();
    let started_unix_us = crate::engine::recorder::unix_us();
    let post = crate::engine::recorder::cancellable(cancel.clone(), http::send(&request));
    let order = match trace {
        Some(context) => crate::engine::trace::traced(context, post).await,
        None => post.await,
    };
    let order_id = order
        .response
        .as_ref()
        .and_then(|r| serde_json::from_slice::<serde_json::Value>(&r.body.bytes).ok())
        .and_then(|v| {
            v.get("order_id")
                .and_then(|o| o.as_str())
                .map(str::to_string)
        });
    let ok = order.ok;
    // The event's exchange belongs to the order's trace: the services' spans (the handler, its
    // user check, the publish, the consumer) show under it too, on its own clock.
    let trace = order
        .trace
        .clone()
        .map(|t| crate::engine::trace::ExchangeTrace {
            started_unix_us,
            ..t
        });
    outbox
        .send(Event::Exchanges {
            id,
            exchanges: vec![order],
        })
        .await;
    let (Some(order_id), true) = (order_id, ok) else {
        return;
    };
    let wait = async {
        loop {
            match deliveries.recv().await {
                Ok((at, message))
                    if message.field("message_id").as_deref() == Some(order_id.as_str()) =>
                {
                    return Some((at, message));
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    };
    // Cancelled while waiting for the event: the order stands (it was answered), nothing more.
    let delivered = tokio::select! {
        delivered = tokio::time::timeout(request.timeout, wait) => delivered.ok().flatten(),
        _ = cancel.cancelled() => return,
    };
    let target = format!("tap {} -> order {order_id}", request.url);
    let delivery = match delivered {
        Some((at, message)) => Exchange {
            trace,
            ..delivery_exchange(&clock, started_at_ms, at, target, &request.body, message)
        },
        None => Exchange {
            transport: Transport::Amqp,
            target,
            started_at_ms,
            ok: false,
            status: None,
            error: Some(crate::engine::ExchangeError {
                kind: crate::engine::ErrorKind::Timeout,
                phase: Some(crate::engine::amqp::phases::DELIVERY),
                message:
                    "the order's event did not reach the app's tap in time — is the broker up?"
                        .to_string(),
            }),
            total_us: clock.now_us(),
            timeline: vec![Phase {
                phase: crate::engine::amqp::phases::DELIVERY,
                start_us: 0,
                end_us: clock.now_us(),
                detail: None,
                failed: true,
                source: None,
            }],
            request: Message::default(),
            response: None,
            trace,
            spans: Vec::new(),
        },
    };
    outbox
        .send(Event::Exchanges {
            id,
            exchanges: vec![delivery],
        })
        .await;
}

pub(super) fn delivery_exchange(
    clock: &Clock,
    started_at_ms: u64,
    at: Instant,
    target: String,
    order_body: &[u8],
    message: WatchedMessage,
) -> Exchange {
    let end_us = clock.offset_us(at);
    let headers: Vec<Header> = message
        .fields
        .to_named()
        .iter()
        .chain(message.headers.iter())
        .map(|(k, v)| Header::new(k.clone(), crate::engine::watched::text_of(v)))
        .collect();
    Exchange {
        transport: Transport::Amqp,
        target,
        started_at_ms,
        ok: true,
        status: Some("delivered".to_string()),
        error: None,
        total_us: end_us,
        timeline: vec![Phase {
            phase: crate::engine::amqp::phases::DELIVERY,
            start_us: 0,
            end_us,
            detail: Some("order sent -> event delivered on the tap".to_string()),
            failed: false,
            source: None,
        }],
        request: Message {
            line: "POST /orders (the order that caused it)".to_string(),
            body: crate::engine::Body::new(order_body.to_vec()),
            size_bytes: order_body.len() as u64,
            ..Message::default()
        },
        response: Some(Message {
            line: format!(
                "basic.deliver exchange={:?} routing_key={:?}{}",
                message.source,
                message.key,
                if message.redelivered {
                    " redelivered"
                } else {
                    ""
                }
            ),
            headers,
            size_bytes: message.size_bytes(),
            body: message.body,
            ..Message::default()
        }),
        trace: None,
        spans: Vec::new(),
    }
}
