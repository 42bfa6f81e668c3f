//! The User Service's data: a handful of seeded users and the orders it has consumed.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

/// A user as the HTTP API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    /// Orders consumed from `order_queue` for this user.
    pub order_count: u32,
    /// Ids of the most recent orders (newest last, at most [`RECENT_ORDERS`]).
    pub recent_orders: Vec<String>,
}

/// How many order ids each user remembers.
pub const RECENT_ORDERS: usize = 10;

const SEED: &[(&str, &str)] = &[
    ("John Doe", "john@example.com"),
    ("Jane Roe", "jane@example.com"),
    ("Ada Lovelace", "ada@example.com"),
    ("Grace Hopper", "grace@example.com"),
    ("Alan Turing", "alan@example.com"),
];

/// Number of seeded users; their ids are `"1"..="SEEDED_USERS"`.
pub const SEEDED_USERS: usize = SEED.len();

/// Why a user id cannot be looked up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("malformed user id {0:?}: expected a positive decimal number")]
    Malformed(String),
    #[error("user {0} not found")]
    NotFound(String),
}

/// An order the consumer recorded: `(user id, order id)`.
pub type OrderSeen = (String, String);

/// The user table, shared by the HTTP and gRPC fronts and the order consumer.
#[derive(Debug)]
pub struct UserStore {
    users: Mutex<BTreeMap<u64, User>>,
    orders: tokio::sync::broadcast::Sender<OrderSeen>,
}

impl Default for UserStore {
    fn default() -> Self {
        let users = SEED
            .iter()
            .enumerate()
            .map(|(i, (name, email))| {
                let id = i as u64 + 1;
                let user = User {
                    id: id.to_string(),
                    name: (*name).to_string(),
                    email: (*email).to_string(),
                    order_count: 0,
                    recent_orders: Vec::new(),
                };
                (id, user)
            })
            .collect();
        Self {
            users: Mutex::new(users),
            orders: tokio::sync::broadcast::channel(256).0,
        }
    }
}

/// Parses a user id: a positive decimal number without sign or spaces.
pub fn parse_user_id(id: &str) -> Result<u64, LookupError> {
    if id.is_empty() || id.len() > 19 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LookupError::Malformed(id.to_string()));
    }
    match id.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(LookupError::Malformed(id.to_string())),
    }
}

impl UserStore {
    pub fn get(&self, id: &str) -> Result<User, LookupError> {
        let key = parse_user_id(id)?;
        let users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        users
            .get(&key)
            .cloned()
            .ok_or_else(|| LookupError::NotFound(id.to_string()))
    }

    /// Records an order consumed for `user_id`; returns false for an unknown user.
    pub fn record_order(&self, user_id: &str, order_id: &str) -> bool {
        let Ok(key) = parse_user_id(user_id) else {
            return false;
        };
        let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        let Some(user) = users.get_mut(&key) else {
            return false;
        };
        user.order_count = user.order_count.saturating_add(1);
        user.recent_orders.push(order_id.to_string());
        if user.recent_orders.len() > RECENT_ORDERS {
            user.recent_orders.remove(0);
        }
        let _ = self.orders.send((user.id.clone(), order_id.to_string()));
        true
    }

    /// Every order recorded from now on.
    pub fn subscribe_orders(&self) -> tokio::sync::broadcast::Receiver<OrderSeen> {
        self.orders.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated() {
        assert_eq!(parse_user_id("1"), Ok(1));
        for bad in ["", "0", "-1", "abc", " 1", "1.5", "99999999999999999999"] {
            assert!(
                matches!(parse_user_id(bad), Err(LookupError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn orders_are_counted_and_bounded() {
        let store = UserStore::default();
        assert!(store.record_order("2", "o-1"));
        assert!(!store.record_order("999", "o-2"));
        for i in 0..20 {
            store.record_order("2", &format!("x{i}"));
        }
        let user = store.get("2").unwrap();
        assert_eq!(user.order_count, 21);
        assert_eq!(user.recent_orders.len(), RECENT_ORDERS);
        assert_eq!(user.recent_orders.last().unwrap(), "x19");
        assert_eq!(store.get("999"), Err(LookupError::NotFound("999".into())));
    }
}
