//! The editors' credentials: which fields are secret, moving them into the secret store when the state is saved, and back at the next launch.

use super::*;

impl Settings {
    /// Every field of the editors that may hold a credential: (the editor it belongs to, the
    /// field's name in [`EditorSecret::field`], the field).
    pub(super) fn credential_slots(&mut self) -> Vec<(&'static str, String, Slot<'_>)> {
        let mut slots = Vec::new();
        fn rows<'a>(
            editor: &'static str,
            field: &str,
            rows: &'a mut [crate::engine::fields::SavedHeader],
            slots: &mut Vec<(&'static str, String, Slot<'a>)>,
        ) {
            for (i, h) in rows.iter_mut().enumerate() {
                slots.push((
                    editor,
                    format!("{field}.{i}"),
                    Slot::Row(h.name.as_str(), &mut h.value),
                ));
            }
        }
        slots.push((
            "http",
            "http.url".into(),
            Slot::Url(&mut self.editors.http.url),
        ));
        rows(
            "http",
            "http.headers",
            &mut self.editors.http.headers,
            &mut slots,
        );
        slots.push((
            "grpc",
            "grpc.addr".into(),
            Slot::Url(&mut self.editors.grpc.addr),
        ));
        rows(
            "grpc",
            "grpc.metadata",
            &mut self.editors.grpc.metadata,
            &mut slots,
        );
        slots.push((
            "amqp",
            "amqp.url".into(),
            Slot::Url(&mut self.editors.amqp.url),
        ));
        // Named as when the order form was part of the AMQP editor: references saved then
        // still find their field.
        slots.push((
            "order",
            "amqp.order_url".into(),
            Slot::Url(&mut self.editors.order.url),
        ));
        rows(
            "amqp",
            "amqp.headers",
            &mut self.editors.amqp.headers,
            &mut slots,
        );
        slots.push((
            "nats",
            "nats.url".into(),
            Slot::Url(&mut self.editors.nats.url),
        ));
        rows(
            "nats",
            "nats.headers",
            &mut self.editors.nats.headers,
            &mut slots,
        );
        slots.push((
            "nats_watch",
            "watch.nats_url".into(),
            Slot::Url(&mut self.watch_form.nats.url),
        ));
        slots
    }

    /// Moves every literal credential of the editors out: each becomes a
    /// `{{switchboard_editor_…}}` reference recorded in [`Settings::editor_secrets`], and the
    /// values are returned (for the secret store). Values that are only `{{references}}`
    /// already stay. A field holding one of the `known` secret values (what the store held,
    /// now in a field the detector does not flag, e.g. a renamed header) is moved out whole.
    pub fn take_credentials(
        &mut self,
        known: &std::collections::BTreeMap<String, String>,
    ) -> std::collections::BTreeMap<String, String> {
        use crate::engine::credentials::{take_named_secret, take_url_password};
        let mut taken = std::collections::BTreeMap::new();
        let mut records = Vec::new();
        let name_for =
            |editor: &str, what: &str, taken: &std::collections::BTreeMap<String, String>| {
                let slug: String = what
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() {
                            c.to_ascii_lowercase()
                        } else {
                            '_'
                        }
                    })
                    .collect();
                let base = format!("{EDITOR_SECRET_PREFIX}{editor}_{slug}");
                let mut name = base.clone();
                let mut n = 2;
                while taken.contains_key(&name) {
                    name = format!("{base}_{n}");
                    n += 1;
                }
                name
            };
        let holds_known = |text: &str| {
            known
                .values()
                .any(|v| !v.is_empty() && text.contains(v.as_str()))
        };
        // Still holding a known secret in clear after the usual rule: the whole field goes.
        let whole = |text: &mut String, name: &str| {
            holds_known(text).then(|| std::mem::replace(text, format!("{{{{{name}}}}}")))
        };
        for (editor, field, slot) in self.credential_slots() {
            let (name, secret) = match slot {
                Slot::Row(key, value) => {
                    let name = name_for(editor, key, &taken);
                    let secret =
                        take_named_secret(key, value, &name).or_else(|| whole(value, &name));
                    (name, secret)
                }
                Slot::Url(url) => {
                    let name = name_for(editor, "password", &taken);
                    let secret = take_url_password(url, &name).or_else(|| whole(url, &name));
                    (name, secret)
                }
            };
            if let Some(secret) = secret {
                taken.insert(name.clone(), secret);
                records.push(EditorSecret {
                    field,
                    reference: name,
                });
            }
        }
        self.editor_secrets = records;
        taken
    }

    /// The text of the field named `field` (see [`EditorSecret::field`]).
    pub(super) fn slot_text(&mut self, field: &str) -> Option<&mut String> {
        self.credential_slots()
            .into_iter()
            .find(|(_, f, _)| f == field)
            .map(|(_, _, slot)| match slot {
                Slot::Row(_, value) => value,
                Slot::Url(url) => url,
            })
    }

    /// Drops every literal credential of the editors: sensitive header values become empty,
    /// URLs lose their password.
    pub fn forget_credentials(&mut self) {
        self.editor_secrets.clear();
        for (_, _, slot) in self.credential_slots() {
            match slot {
                Slot::Row(key, value) => {
                    if take_named_secret_probe(key, value) {
                        value.clear();
                    }
                }
                Slot::Url(url) => {
                    if let Some((before, _, after)) = crate::engine::credentials::url_password(url)
                        && !crate::engine::collection::vars::only_references(
                            &url[before.len()..url.len() - after.len()],
                        )
                    {
                        // `user:` loses its colon too: `amqp://user@host`.
                        *url = format!("{}{after}", before.trim_end_matches(':'));
                    }
                }
            }
        }
    }

    /// Puts back the credentials [`Settings::take_credentials`] moved out: only the fields
    /// recorded in [`Settings::editor_secrets`], and only where they still hold their
    /// reference. Any other `{{switchboard_editor_…}}` (typed by the user, or planted in the
    /// settings file) stays text. The records are consumed.
    pub fn restore_credentials(&mut self, secrets: &std::collections::BTreeMap<String, String>) {
        for EditorSecret { field, reference } in std::mem::take(&mut self.editor_secrets) {
            if !reference.starts_with(EDITOR_SECRET_PREFIX) {
                continue;
            }
            let Some(value) = secrets.get(&reference) else {
                continue;
            };
            let placeholder = format!("{{{{{reference}}}}}");
            let Some(text) = self.slot_text(&field) else {
                continue;
            };
            if *text == placeholder {
                *text = value.clone();
            } else if let Some((before, password, after)) =
                crate::engine::credentials::url_password(text)
                && password == placeholder
            {
                *text = format!("{before}{value}{after}");
            }
        }
    }
}
