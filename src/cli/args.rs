//! (Over 800 lines only with its unit tests: under 800 lines of arguments, then the tests.)
//!
//! Command-line arguments.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Explore how microservices talk: HTTP, gRPC, AMQP, NATS and Kafka exchanges with real timelines.
///
/// Without a subcommand, opens the app with the demo services running in-process.
#[derive(Debug, Clone, Parser)]
#[command(name = "switchboard", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Do not start the demo services in-process.
    #[arg(long)]
    pub no_demo: bool,
    #[command(flatten)]
    pub brokers: Brokers,
    /// Where the app's OTLP/HTTP receiver listens for spans (the demo services send theirs
    /// there; a free port is used when it is taken, shown in the app).
    #[arg(long, value_name = "ADDR", default_value = crate::engine::trace::receiver::DEFAULT_OTLP_HTTP_ADDR, value_parser = parse_listen_addr)]
    pub otlp_addr: SocketAddr,
    /// Where the app's OTLP/gRPC receiver listens (a free port when it is taken).
    #[arg(long, value_name = "ADDR", default_value = crate::engine::trace::receiver::DEFAULT_OTLP_GRPC_ADDR, value_parser = parse_listen_addr)]
    pub otlp_grpc_addr: SocketAddr,
    /// Scripted action after start (`lookup`: an HTTP and a gRPC lookup, then prints
    /// `script: done`). Used by scripts/screenshot.
    #[arg(long, hide = true, value_enum)]
    pub script: Option<ScriptArg>,
}

/// Where the demo services and the editors point: the app's and `demo`'s options, not the
/// other commands' (they take a URL of their own).
#[derive(Debug, Clone, Args)]
pub struct Brokers {
    /// RabbitMQ broker the demo services use (and, in the app, the AMQP editor).
    #[arg(long, default_value = demo_services::broker::DEFAULT_AMQP_URL)]
    pub amqp_url: String,
    /// NATS server the demo services use (`user.get`, stream ORDERS; in the app, the NATS editor too).
    #[arg(long, default_value = crate::engine::nats::DEFAULT_NATS_URL)]
    pub nats_url: String,
    /// Kafka broker the demo services use (topic `orders`, group `user-service`; in the app, the Kafka editor too);
    /// the demo holds it for an embedded broker, started on first use, when nothing listens on it.
    #[arg(long, default_value = crate::engine::kafka::DEFAULT_KAFKA_URL)]
    pub kafka_url: String,
}

/// `--show-credentials`, for the commands that print exchanges or messages.
#[derive(Debug, Clone, Copy, Args)]
pub struct Shown {
    /// Print credentials (Authorization, Cookie, API-key headers, URL passwords) as sent;
    /// exchanges and watched messages are printed with them masked otherwise (text and
    /// --json). Bodies are never altered.
    #[arg(long, global = true)]
    pub show_credentials: bool,
}

/// `send`: the kind of request, and whether credentials are printed.
#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    #[command(subcommand)]
    pub command: Send,
    #[command(flatten)]
    pub shown: Shown,
    #[command(flatten)]
    pub tracing: Tracing,
}

/// Trace context and spans, for the commands that send requests.
#[derive(Debug, Clone, Args)]
pub struct Tracing {
    /// Do not send a W3C traceparent (by default each request starts a new trace, unless a
    /// traceparent header is given).
    #[arg(long, global = true)]
    pub no_traceparent: bool,
    /// Receive the services' spans (OTLP/HTTP on --otlp-addr), wait for them after the
    /// exchange and print them under its timeline (with --json: in `spans`).
    #[arg(long, global = true, conflicts_with = "no_traceparent")]
    pub trace: bool,
    /// With --trace: wait at most this long for spans after the response: 500ms, 2s, 1.5s (a
    /// bare number is milliseconds); the wait ends sooner, 500 ms after the last new span.
    #[arg(long, global = true, default_value = "2s", value_name = "DURATION", value_parser = parse_ms_or_unit, requires = "trace")]
    pub trace_wait: Duration,
    /// With --trace: where the receiver listens (a free port when it is taken; the services
    /// must export there: `switchboard demo --otlp-endpoint`).
    #[arg(long, global = true, value_name = "ADDR", default_value = crate::engine::trace::receiver::DEFAULT_OTLP_HTTP_ADDR, value_parser = parse_listen_addr, requires = "trace")]
    pub otlp_addr: SocketAddr,
}

/// A local address to listen on: `127.0.0.1:4318`, `localhost:4318` or the URL the app shows
/// (`http://127.0.0.1:4318`).
pub fn parse_listen_addr(text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let bare = text
        .trim()
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    let bare = bare.split('/').next().unwrap_or(bare);
    bare.to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| format!("{text:?} is not an address to listen on (e.g. 127.0.0.1:4318)"))
}

/// `kafka`: the admin commands, and the broker they ask when none is given.
#[derive(Debug, Clone, Args)]
pub struct KafkaArgs {
    #[command(subcommand)]
    pub command: KafkaCommand,
    /// The broker asked when the command names none.
    #[arg(long, global = true, default_value = crate::engine::kafka::DEFAULT_KAFKA_URL)]
    pub kafka_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScriptArg {
    Lookup,
    Idle,
    Lookups1000,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Send one request and print its exchange with the timeline.
    Send(SendArgs),
    /// Publish a message: to an AMQP exchange (amqp:// URL, with publisher confirms), a NATS
    /// subject (nats:// URL; --jetstream waits for the stream's ack) or a Kafka topic
    /// (kafka:// URL, with the acks asked).
    Publish(PublishArgs),
    /// Watch messages: AMQP (tap an exchange, peek or consume a queue), NATS (tap a subject,
    /// join a queue group, tap/consume/peek a JetStream stream) or Kafka (tap a topic, or
    /// consume it as a group) — the URL scheme decides.
    Watch(WatchArgs),
    /// NATS JetStream: `nats streams URL` (streams and their consumers), `nats kv …`.
    #[command(subcommand)]
    Nats(NatsCommand),
    /// Kafka: `kafka topics URL` (partitions, watermarks, counts), `kafka groups URL` (members,
    /// committed offsets, lag).
    Kafka(KafkaArgs),
    /// Discover gRPC services: `grpc list ADDR [SERVICE]`, `grpc describe ADDR SYMBOL`.
    #[command(subcommand)]
    Grpc(GrpcCommand),
    /// Fire one request many times at a chosen concurrency: throughput, errors, latency histogram.
    #[command(subcommand)]
    Load(Load),
    /// Run the demo User Service and Order Service in the foreground.
    Demo(DemoArgs),
    /// Run only the OTLP receiver (OTLP/HTTP and OTLP/gRPC) and print spans as they arrive:
    /// watch an instrumented system without sending anything.
    Traces(TracesArgs),
    /// Send the requests of a collection folder in order and check their expectations; exits
    /// non-zero if any fails (for CI, like Newman).
    Run(RunArgs),
    /// Bring requests into a collection folder: `import postman FILE DIR`,
    /// `import curl 'CMD' DIR`, `import grpcurl 'CMD' DIR`.
    #[command(subcommand)]
    Import(Import),
    /// Print a saved request as a command line: `export curl FILE`, `export grpcurl FILE`.
    #[command(subcommand)]
    Export(Export),
}

#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Variables: `{{name}}` takes its value from --var, then the environment variable SWITCHBOARD_VAR_<NAME>, then the local secret store, then the --env environment file, then collection.json.\n\nExit status: 0 when every request passed, 1 when any failed or could not be sent."
)]
pub struct RunArgs {
    /// The collection folder.
    pub dir: std::path::PathBuf,
    #[command(flatten)]
    pub shown: Shown,
    /// Only these requests or folders (by name or path; all when none given).
    pub names: Vec<String>,
    /// The environment (a file in DIR/environments/, without `.json`).
    #[arg(short = 'e', long = "env", value_name = "NAME")]
    pub env: Option<String>,
    /// A variable, `--var NAME=VALUE` (repeatable); overrides every other source.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Print one JSON object per exchange (the `send --json` shape plus `file`, `name`,
    /// `passed` and `checks`).
    #[arg(long)]
    pub json: bool,
    /// Timeout for requests that set none, in seconds.
    #[arg(long, default_value = "30", value_name = "SECS", value_parser = parse_secs)]
    pub timeout: Duration,
    /// Do not send a W3C traceparent (by default each request starts a new trace, unless its
    /// headers set a traceparent).
    #[arg(long)]
    pub no_traceparent: bool,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Import {
    /// A Postman collection v2.1 export (requests, folders, variables).
    Postman {
        file: std::path::PathBuf,
        /// The collection folder to write into (created if missing).
        dir: std::path::PathBuf,
    },
    /// A curl command line, quoted as one argument.
    Curl(ImportLine),
    /// A grpcurl command line, quoted as one argument.
    Grpcurl(ImportLine),
}

#[derive(Debug, Clone, Args)]
pub struct ImportLine {
    /// The whole command line: 'curl -H "Accept: application/json" http://127.0.0.1:8081/user/1'.
    pub command: String,
    /// The collection folder to write into (created if missing).
    pub dir: std::path::PathBuf,
    /// Name of the new request (default: from the method and path).
    #[arg(long)]
    pub name: Option<String>,
    /// Sub-folder of the collection to put it in.
    #[arg(long, default_value = "")]
    pub folder: String,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Export {
    /// An HTTP request as a curl command line.
    Curl(ExportArgs),
    /// A gRPC request as a grpcurl command line.
    Grpcurl(ExportArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The saved request file.
    pub file: std::path::PathBuf,
    /// Fill in variables from this environment (otherwise `{{name}}` stays as written).
    #[arg(short = 'e', long = "env", value_name = "NAME")]
    pub env: Option<String>,
    /// Fill in a variable, `--var NAME=VALUE` (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Send {
    /// An HTTP request: `send http [METHOD] URL`.
    Http(HttpArgs),
    /// A unary gRPC call: `send grpc ADDR package.Service/Method --data JSON`.
    Grpc(GrpcArgs),
    /// A NATS request/reply: `send nats URL SUBJECT --body JSON`.
    Nats(NatsSendArgs),
}

#[derive(Debug, Clone, Args)]
pub struct NatsSendArgs {
    /// Server URL: nats://[user:password@]host:4222, tls://…
    #[arg(default_value = crate::engine::nats::DEFAULT_NATS_URL)]
    pub url: String,
    /// The subject.
    #[arg(default_value = demo_contract::USER_GET_SUBJECT)]
    pub subject: String,
    /// Request body: TEXT, @FILE or @- for standard input.
    #[arg(long, value_name = "TEXT|@FILE")]
    pub body: Option<String>,
    /// A header, `-H 'Name: value'` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Publish instead of request/reply: nothing waits for a reply (with --jetstream, the
    /// stream's ack is waited for).
    #[arg(long)]
    pub publish: bool,
    /// With --publish: through JetStream, each publish waiting for the stream's ack.
    #[arg(long, requires = "publish")]
    pub jetstream: bool,
    /// Print JSON (one object per line) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Give up after this many seconds (the whole exchange).
    #[arg(long, default_value = "30", value_name = "SECS", value_parser = parse_secs)]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Subcommand)]
pub enum NatsCommand {
    /// JetStream streams with their subjects, counts, sequences and consumers.
    Streams {
        /// Server URL: nats://[user:password@]host:4222, tls://…
        #[arg(default_value = crate::engine::nats::DEFAULT_NATS_URL)]
        url: String,
        /// Print JSON (one object per line) instead of text.
        #[arg(long)]
        json: bool,
        /// Give up after this many seconds.
        #[arg(long, default_value = "10", value_name = "SECS", value_parser = parse_secs)]
        timeout: Duration,
    },
    /// A key-value bucket: `kv get URL BUCKET KEY`, `kv put URL BUCKET KEY VALUE`,
    /// `kv history URL BUCKET KEY`.
    Kv {
        #[arg(value_enum)]
        op: KvOp,
        url: String,
        bucket: String,
        key: String,
        /// The value to put (TEXT, @FILE or @-).
        value: Option<String>,
        /// Print JSON (one object per line) instead of text.
        #[arg(long)]
        json: bool,
        /// Give up after this many seconds.
        #[arg(long, default_value = "10", value_name = "SECS", value_parser = parse_secs)]
        timeout: Duration,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum KafkaCommand {
    /// Topics with their partitions, leaders, low/high watermarks and message counts.
    Topics {
        /// The broker (default: --kafka-url).
        url: Option<String>,
        /// Print JSON (one object per line) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Consumer groups: state, members, committed offset and lag per partition.
    Groups {
        /// The broker (default: --kafka-url).
        url: Option<String>,
        /// Print JSON (one object per line) instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KvOp {
    Get,
    Put,
    History,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Load {
    /// `load http [METHOD] URL ...` on kept-alive connections (one per concurrent request).
    Http {
        #[command(flatten)]
        request: HttpArgs,
        #[command(flatten)]
        load: LoadOpts,
        #[command(flatten)]
        trace: NoTraceparent,
    },
    /// `load grpc ADDR METHOD --data JSON ...`: concurrent calls on one HTTP/2 channel.
    Grpc {
        #[command(flatten)]
        request: GrpcArgs,
        #[command(flatten)]
        load: LoadOpts,
        #[command(flatten)]
        trace: NoTraceparent,
    },
    /// `load amqp URL --exchange X --routing-key K --body B`: one connection per concurrent
    /// publisher, each awaiting its confirm.
    Amqp {
        #[command(flatten)]
        request: PublishArgs,
        #[command(flatten)]
        load: LoadOpts,
    },
    /// `load nats URL SUBJECT --body B [--publish [--jetstream]]`: one connection per concurrent
    /// requester (each waiting for its reply, or its ack).
    Nats {
        #[command(flatten)]
        request: NatsSendArgs,
        #[command(flatten)]
        load: LoadOpts,
        #[command(flatten)]
        trace: NoTraceparent,
    },
    /// `load kafka URL --topic T --body B [--key K] [--acks all]`: one connection per
    /// concurrent producer, each awaiting its ack.
    Kafka {
        #[command(flatten)]
        request: PublishArgs,
        #[command(flatten)]
        load: LoadOpts,
    },
}

/// `--no-traceparent` for the `load` commands whose request arguments lack it (`load amqp` and
/// `load kafka` take publish's, in [`Tracing`]).
#[derive(Debug, Clone, Args)]
pub struct NoTraceparent {
    /// Do not send a W3C traceparent (by default each request starts a new trace, unless a
    /// traceparent header is given).
    #[arg(long)]
    pub no_traceparent: bool,
}

#[derive(Debug, Clone, Args)]
pub struct LoadOpts {
    /// How many requests in all (default 1000).
    #[arg(short = 'n', long, conflicts_with = "duration", value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,
    /// Run for this many seconds instead.
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub duration: Option<Duration>,
    /// Requests in flight at once.
    #[arg(short = 'c', long, default_value_t = 10, value_parser = parse_concurrency)]
    pub concurrency: usize,
}

#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// `[METHOD] URL`; the method defaults to GET (POST with --body).
    #[arg(required = true, num_args = 1..=2, value_name = "[METHOD] URL")]
    pub method_and_url: Vec<String>,
    /// A header, `-H 'Name: value'` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Request body: TEXT, @FILE or @- for standard input.
    #[arg(long, value_name = "TEXT|@FILE")]
    pub body: Option<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Print JSON instead of text: one object per exchange (`load`: one summary object).
    #[arg(long)]
    pub json: bool,
    /// Give up after this many seconds (the whole exchange).
    #[arg(long, default_value = "30", value_name = "SECS", value_parser = parse_secs)]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct GrpcArgs {
    /// `host:port`, `http://host:port` or `https://host:port`.
    pub addr: String,
    /// `package.Service/Method`.
    #[arg(default_value = crate::engine::grpc::DEFAULT_METHOD)]
    pub method: String,
    /// Request message in proto3 JSON: TEXT, @FILE or @-.
    #[arg(short = 'd', long, value_name = "JSON|@FILE")]
    pub data: Option<String>,
    #[command(flatten)]
    pub protos: ProtoOpts,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Metadata, `-H 'name: value'` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Print JSON (one object per line) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Give up after this many seconds (the whole exchange, discovery included).
    #[arg(long, default_value = "30", value_name = "SECS", value_parser = parse_secs)]
    pub timeout: Duration,
}

/// TLS beyond the public roots (PEM files).
#[derive(Debug, Clone, Args, Default)]
pub struct TlsArgs {
    /// Also trust this CA (or self-signed certificate).
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<std::path::PathBuf>,
    /// Client certificate chain for mutual TLS (with --key).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<std::path::PathBuf>,
    /// Client private key for mutual TLS (with --cert).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<std::path::PathBuf>,
}

impl TlsArgs {
    pub fn options(&self) -> crate::engine::net::TlsOptions {
        crate::engine::net::TlsOptions {
            ca_file: self.cacert.clone(),
            cert_file: self.cert.clone(),
            key_file: self.key.clone(),
        }
    }
}

/// Where message types come from (default: the server's reflection service).
#[derive(Debug, Clone, Args, Default)]
pub struct ProtoOpts {
    /// Use these .proto files instead of reflection (repeatable).
    #[arg(long = "proto", value_name = "FILE")]
    pub proto: Vec<std::path::PathBuf>,
    /// Import path for --proto (repeatable).
    #[arg(short = 'I', long = "import-path", value_name = "DIR")]
    pub import_path: Vec<std::path::PathBuf>,
    /// Use a compiled descriptor set instead of reflection.
    #[arg(long, value_name = "FILE", conflicts_with = "proto")]
    pub protoset: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum GrpcCommand {
    /// List the services of a server (or the methods of one), like `grpcurl list`.
    List {
        addr: String,
        service: Option<String>,
        #[command(flatten)]
        protos: ProtoOpts,
        /// Give up after this many seconds.
        #[arg(long, default_value = "10", value_name = "SECS", value_parser = parse_secs)]
        timeout: Duration,
    },
    /// Describe a service, method, message or enum, like `grpcurl describe`.
    Describe {
        addr: String,
        symbol: String,
        #[command(flatten)]
        protos: ProtoOpts,
        /// Give up after this many seconds.
        #[arg(long, default_value = "10", value_name = "SECS", value_parser = parse_secs)]
        timeout: Duration,
    },
}

#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    /// Broker URL: amqp://guest:guest@127.0.0.1:5672/%2f, nats://127.0.0.1:4222 or
    /// kafka://127.0.0.1:9092
    pub url: String,
    #[command(flatten)]
    pub shown: Shown,
    #[command(flatten)]
    pub tracing: Tracing,
    /// Kafka: the topic.
    #[arg(long, conflicts_with_all = ["exchange", "routing_key", "subject"])]
    pub topic: Option<String>,
    /// Kafka: the record's key (also picks the partition: murmur2, as Java clients).
    #[arg(long, requires = "topic")]
    pub key: Option<String>,
    /// Kafka: the partition (default: by the key's hash, else round robin).
    #[arg(long, requires = "topic")]
    pub partition: Option<i32>,
    /// Kafka: which acknowledgement to wait for: 0, 1 or all.
    #[arg(
        long,
        requires = "topic",
        default_value = "all",
        allow_hyphen_values = true
    )]
    pub acks: String,
    /// Kafka: the batch's compression: none, gzip, snappy, lz4 or zstd.
    #[arg(long, requires = "topic", default_value = "none")]
    pub compression: String,
    /// AMQP: the exchange ("" for the default exchange).
    #[arg(long)]
    pub exchange: Option<String>,
    /// AMQP: the routing key.
    #[arg(long)]
    pub routing_key: Option<String>,
    /// NATS: the subject.
    #[arg(long, conflicts_with_all = ["exchange", "routing_key"])]
    pub subject: Option<String>,
    /// NATS: publish through JetStream and wait for the stream's ack.
    #[arg(long, requires = "subject")]
    pub jetstream: bool,
    /// NATS JetStream: `Nats-Msg-Id`, for the stream's duplicate detection.
    #[arg(long, requires = "jetstream")]
    pub msg_id: Option<String>,
    /// NATS core publish: the reply subject sent with the message (JetStream uses its own for
    /// the ack); AMQP: the reply_to property.
    #[arg(long, conflicts_with = "jetstream")]
    pub reply_to: Option<String>,
    /// Message body: TEXT, @FILE or @-.
    #[arg(long, value_name = "TEXT|@FILE")]
    pub body: String,
    /// A header, `--header key=value` (repeatable).
    #[arg(long = "header", value_name = "KEY=VALUE")]
    pub headers: Vec<String>,
    #[command(flatten)]
    pub props: AmqpProps,
    /// Do not treat a message that reaches no queue as an error.
    #[arg(long)]
    pub allow_unroutable: bool,
    /// Publish this many copies on one connection (at least 1). AMQP: with --json or --trace,
    /// one exchange (and trace) per copy, one confirm at a time; otherwise up to 1000 confirms
    /// in flight and a one-line summary.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub count: u32,
    /// Print JSON (one object per line) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Give up after this many seconds (the whole exchange, discovery included).
    #[arg(long, default_value = "30", value_name = "SECS", value_parser = parse_secs)]
    pub timeout: Duration,
}

/// AMQP message properties (`reply_to` is `--reply-to`, shared with NATS).
#[derive(Debug, Clone, Default, Args)]
pub struct AmqpProps {
    /// AMQP content_type (default: application/json if the body is JSON, else text/plain).
    #[arg(long)]
    pub content_type: Option<String>,
    /// AMQP content_encoding (gzip, …; the body is sent as given).
    #[arg(long)]
    pub content_encoding: Option<String>,
    /// AMQP message_id.
    #[arg(long)]
    pub message_id: Option<String>,
    /// AMQP correlation_id.
    #[arg(long)]
    pub correlation_id: Option<String>,
    /// AMQP type (the message's kind, e.g. OrderCreated).
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// AMQP app_id.
    #[arg(long)]
    pub app_id: Option<String>,
    /// AMQP user_id (RabbitMQ checks it is the connection's user).
    #[arg(long)]
    pub user_id: Option<String>,
    /// AMQP expiration: the message's TTL in milliseconds.
    #[arg(long, value_name = "MS")]
    pub expiration: Option<u64>,
    /// AMQP priority, 0–255 (queues honour it up to their x-max-priority).
    #[arg(long)]
    pub priority: Option<u8>,
    /// AMQP delivery_mode 2 (persistent).
    #[arg(long)]
    pub persistent: bool,
}

impl AmqpProps {
    /// Whether any was given (other brokers refuse them).
    pub fn any(&self) -> bool {
        let Self {
            content_type,
            content_encoding,
            message_id,
            correlation_id,
            kind,
            app_id,
            user_id,
            expiration,
            priority,
            persistent,
        } = self;
        [
            content_type,
            content_encoding,
            message_id,
            correlation_id,
            kind,
            app_id,
            user_id,
        ]
        .iter()
        .any(|v| v.is_some())
            || expiration.is_some()
            || priority.is_some()
            || *persistent
    }
}

#[derive(Debug, Clone, Args)]
#[command(
    after_help = "AMQP modes (amqp:// URL):\n  tap      binds a private auto-delete queue to --exchange: you see every matching message, other consumers still get all of them (default with --exchange)\n  peek     gets up to --count messages (default 100) from --queue and puts them back: marked redelivered, may move to the back of the queue\n  consume  consumes --queue with acks: messages are TAKEN from the queue (default with --queue)\n\nNATS (nats:// URL):\n  --subject S                 a core subscription (wildcards * and >): sees everything published while it listens, takes nothing\n  --subject S --queue-group G joins the queue group: the group's other members get fewer messages\n  --stream N [--mode tap]     an ordered, ephemeral consumer: never acks, never touches durable consumers; --from all|new|last|last_per_subject|seq:N|time:RFC3339\n  --stream N --mode consume   a durable pull consumer (--durable NAME, default switchboard) with acks: messages are TAKEN\n  --stream N --mode peek      reads up to --count messages by sequence from --from; creates nothing\n\nKafka (kafka:// URL):\n  --topic T [--partition P]   a tap: reads the partitions directly, never joins a group, never commits; --from earliest|latest|offset:N|time:RFC3339|last:N\n  --topic T --group G         joins consumer group G and COMMITS what is printed: destructive for that group\n\nA watch survives a broker restart: it reconnects with backoff and says so on stderr."
)]
pub struct WatchArgs {
    /// Broker URL (amqp://…, nats://… or kafka://…).
    pub url: String,
    #[command(flatten)]
    pub shown: Shown,
    /// Kafka: the topic to tap (or consume with --group).
    #[arg(long, conflicts_with_all = ["queue", "exchange", "subject", "stream"])]
    pub topic: Option<String>,
    /// Kafka: one partition of --topic (a tap only).
    #[arg(long, requires = "topic")]
    pub partition: Option<i32>,
    /// Kafka: consume as this consumer group (joins it and COMMITS what is printed); the group
    /// resumes from its committed offsets, --from applies to partitions it never committed.
    #[arg(long, requires = "topic")]
    pub group: Option<String>,
    /// AMQP: the queue to peek or consume.
    #[arg(long, conflicts_with_all = ["exchange", "subject", "stream"])]
    pub queue: Option<String>,
    /// NATS: the subject to tap (wildcards allowed), or the filter of a --stream read.
    #[arg(long)]
    pub subject: Option<String>,
    /// NATS: join this queue group on --subject (destructive for the group's other members).
    #[arg(long, requires = "subject", conflicts_with = "stream")]
    pub queue_group: Option<String>,
    /// NATS: the JetStream stream to tap, consume or peek.
    #[arg(long, conflicts_with = "exchange")]
    pub stream: Option<String>,
    /// Where to start: NATS stream reads: all, new, last, last_per_subject, seq:N,
    /// time:RFC3339; Kafka: earliest, latest (default), offset:N, time:RFC3339, last:N.
    #[arg(long)]
    pub from: Option<String>,
    /// NATS --mode consume: the durable consumer's name (created if missing).
    #[arg(long, requires = "stream")]
    pub durable: Option<String>,
    /// The exchange to tap.
    #[arg(long)]
    pub exchange: Option<String>,
    /// Binding key of the tap.
    #[arg(long, default_value = "#", requires = "exchange")]
    pub binding: String,
    /// tap (with --exchange or --stream), peek or consume (with --queue or --stream).
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Stop after this many messages (at least 1; fails if the timeout comes first); for peek,
    /// how many. A consume takes exactly this many from the queue and leaves the rest there.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Stop after this many seconds (default: run until Ctrl-C or --count).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub timeout: Option<Duration>,
    /// Print JSON (one object per line) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    Tap,
    Peek,
    Consume,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UserCheckArg {
    Grpc,
    Http,
    /// No synchronous check: orders are accepted and the consumer checks the user.
    None,
}

#[derive(Debug, Clone, Args)]
pub struct TracesArgs {
    /// Where OTLP/HTTP exports are taken (a free port when it is taken, said on stderr).
    #[arg(long, value_name = "ADDR", default_value = crate::engine::trace::receiver::DEFAULT_OTLP_HTTP_ADDR, value_parser = parse_listen_addr)]
    pub otlp_addr: SocketAddr,
    /// Where OTLP/gRPC exports are taken.
    #[arg(long, value_name = "ADDR", default_value = crate::engine::trace::receiver::DEFAULT_OTLP_GRPC_ADDR, value_parser = parse_listen_addr)]
    pub otlp_grpc_addr: SocketAddr,
    /// Print one JSON object per span instead of text.
    #[arg(long)]
    pub json: bool,
    /// Stop after this many spans (at least 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub user_http: SocketAddr,
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub user_grpc: SocketAddr,
    #[arg(long, default_value = "127.0.0.1:8082")]
    pub order_http: SocketAddr,
    /// How the Order Service checks users: grpc or http (synchronous: orders fail while the
    /// User Service is down) or none (accepted; the consumer checks them from order_queue).
    #[arg(long, value_enum, default_value = "grpc")]
    pub user_check: UserCheckArg,
    /// Send the services' spans (OTLP/HTTP) here, e.g. http://127.0.0.1:4318 where
    /// `switchboard send … --trace` listens (default: $OTEL_EXPORTER_OTLP_ENDPOINT; unset: not
    /// traced).
    #[arg(long, value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    #[command(flatten)]
    pub brokers: Brokers,
}

impl DemoArgs {
    pub fn config(&self) -> demo_services::DemoConfig {
        let Brokers {
            amqp_url,
            nats_url,
            kafka_url,
        } = &self.brokers;
        demo_services::DemoConfig {
            user_http_addr: self.user_http,
            user_grpc_addr: self.user_grpc,
            order_http_addr: self.order_http,
            amqp_url: amqp_url.to_string(),
            topology: demo_services::Topology::default(),
            nats: Some(demo_services::NatsNames {
                url: nats_url.to_string(),
                ..demo_services::NatsNames::default()
            }),
            kafka: Some(demo_services::KafkaNames::at(kafka_url)),
            user_check: match self.user_check {
                UserCheckArg::Grpc => demo_services::UserCheck::Grpc,
                UserCheckArg::Http => demo_services::UserCheck::Http,
                UserCheckArg::None => demo_services::UserCheck::None,
            },
            otlp_endpoint: self
                .otlp_endpoint
                .clone()
                .or_else(|| std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok())
                .filter(|e| !e.trim().is_empty()),
        }
    }
}

pub use crate::engine::duration::{MAX_SECS, parse_ms_or_unit, parse_secs};

fn parse_concurrency(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=10_000).contains(&n) => Ok(n),
        _ => Err(format!(
            "{text:?}: give a number of requests in flight from 1 to 10000"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_counts_are_refused_by_the_command_line() {
        for args in [
            &[
                "switchboard",
                "publish",
                "amqp://x",
                "--exchange",
                "",
                "--routing-key",
                "k",
                "--body",
                "b",
                "--count",
                "0",
            ][..],
            &[
                "switchboard",
                "watch",
                "amqp://x",
                "--queue",
                "q",
                "--count",
                "0",
            ][..],
            &[
                "switchboard",
                "watch",
                "amqp://x",
                "--queue",
                "q",
                "--timeout",
                "nan",
            ][..],
            &["switchboard", "load", "http", "http://x", "-n", "0"][..],
            &["switchboard", "load", "http", "http://x", "-c", "0"][..],
            &[
                "switchboard",
                "load",
                "http",
                "http://x",
                "--duration",
                "inf",
            ][..],
            &["switchboard", "send", "http", "http://x", "--timeout=-1"][..],
            &["switchboard", "run", "dir", "--timeout", "1e300"][..],
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?} was accepted");
        }
    }

    #[test]
    fn trace_wait_takes_a_unit_and_a_bare_number_is_milliseconds() {
        let wait = |extra: &[&str]| {
            let mut args = vec!["switchboard", "send", "http", "http://x", "--trace"];
            args.extend_from_slice(extra);
            match Cli::try_parse_from(args) {
                Ok(Cli {
                    command: Some(Command::Send(send)),
                    ..
                }) => Ok(send.tracing.trace_wait),
                Ok(other) => panic!("{other:?}"),
                Err(e) => Err(e.to_string()),
            }
        };
        let ms = Duration::from_millis;
        assert_eq!(wait(&[]), Ok(ms(2_000)), "the default");
        assert_eq!(wait(&["--trace-wait", "500"]), Ok(ms(500)));
        assert_eq!(wait(&["--trace-wait", "500ms"]), Ok(ms(500)));
        assert_eq!(wait(&["--trace-wait", "1.5s"]), Ok(ms(1_500)));
        let err = wait(&["--trace-wait", "soon"]).unwrap_err();
        assert!(err.contains("is not a duration"), "{err}");
    }
}
