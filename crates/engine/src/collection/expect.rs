//! Simple expectations a saved request may carry, checked by `switchboard run`.

use serde::{Deserialize, Serialize};

use crate::{BodyView, Exchange};

/// What a request's exchange must look like to pass. With no `status`, the exchange must
/// succeed (HTTP 1xx–3xx, gRPC OK, broker ack).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Expect {
    /// `200` (HTTP code), `"NOT_FOUND"` (gRPC code), `"ack"`…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
    /// JSON pointers into the response body and the values they must equal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json: Vec<JsonExpect>,
    /// The whole exchange must take at most this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_total_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonExpect {
    /// RFC 6901: `/name`, `/items/0/sku`.
    pub pointer: String,
    pub equals: serde_json::Value,
}

/// One checked expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// `status is 200`, `/name equals "Alice"`, `total ≤ 500 ms`, `succeeds`.
    pub what: String,
    pub passed: bool,
    /// What was found, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
}

impl Expect {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// Checks one exchange.
    pub fn check(&self, exchange: &Exchange) -> Vec<Check> {
        let mut checks = Vec::new();
        let status = exchange.status.clone();
        match &self.status {
            None => checks.push(Check {
                what: "succeeds".to_string(),
                passed: exchange.ok,
                found: (!exchange.ok).then(|| failure_text(exchange)),
            }),
            Some(expected) => {
                let want = match expected {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let passed = status.as_deref().is_some_and(|s| {
                    s.eq_ignore_ascii_case(&want)
                        || s.split_whitespace()
                            .next()
                            .is_some_and(|code| code.eq_ignore_ascii_case(&want))
                });
                checks.push(Check {
                    what: format!("status is {want}"),
                    passed,
                    found: (!passed).then(|| failure_text(exchange)),
                });
            }
        }
        if !self.json.is_empty() {
            let body = exchange
                .response
                .as_ref()
                .map(|r| r.body.view())
                .unwrap_or(BodyView::Empty);
            for j in &self.json {
                let what = format!("{} equals {}", j.pointer, j.equals);
                let (passed, found) = match &body {
                    BodyView::Json(value) => match value.pointer(&j.pointer) {
                        Some(v) if v == &j.equals => (true, None),
                        Some(v) => (false, Some(v.to_string())),
                        None => (false, Some("nothing at that pointer".to_string())),
                    },
                    _ => (false, Some("the response body is not JSON".to_string())),
                };
                checks.push(Check {
                    what,
                    passed,
                    found,
                });
            }
        }
        if let Some(max) = self.max_total_ms {
            let passed = exchange.total_us <= max.saturating_mul(1000);
            checks.push(Check {
                what: format!("total ≤ {max} ms"),
                passed,
                found: (!passed).then(|| crate::timeline::format_us(exchange.total_us)),
            });
        }
        checks
    }
}

fn failure_text(exchange: &Exchange) -> String {
    match (&exchange.status, &exchange.error) {
        (_, Some(error)) => error.to_string().replace('\n', " "),
        (Some(status), None) => status.clone(),
        (None, None) => "no answer".to_string(),
    }
}
