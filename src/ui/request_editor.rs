//! The request editors behind one trait, kept in one registry ([`EDITORS`]): the app draws,
//! sends, saves and opens every transport's editor through it. An editor's model is the
//! engine's request type, held in [`Settings`] with whatever the editor keeps beside it.

use super::settings::{Settings, TransportTab};
use crate::engine::collection::SavedSpec;

/// What a button under an editor asks the app to do (besides *Send*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditorAction {
    /// *Place order*: the order form through the Order Service.
    PlaceOrder,
    /// *Publish N*: the editor's *Publish many* form.
    PublishMany,
}

/// A button beside *Send*.
pub struct EditorButton {
    pub label: String,
    pub hover: &'static str,
    pub action: EditorAction,
}

/// One transport's request editor.
pub trait RequestEditor: Sync {
    /// The transport tab it is drawn under.
    fn tab(&self) -> TransportTab;
    /// Draws the editor's fields.
    fn ui(&self, ui: &mut egui::Ui, settings: &mut Settings);
    /// The label of its main button.
    fn send_label(&self, _settings: &Settings) -> &'static str {
        "Send"
    }
    /// Its buttons beside the main one.
    fn buttons(&self, _settings: &Settings) -> Vec<EditorButton> {
        Vec::new()
    }
    /// The request as it would be saved; fields the editor does not show (per-request
    /// timeout, publish count…) are kept from `base` when it is of the same kind.
    fn to_saved(&self, settings: &Settings, base: Option<&SavedSpec>) -> SavedSpec;
    /// Puts `spec` into the editor; false (nothing changed) when it is another editor's.
    fn apply_saved(&self, settings: &mut Settings, spec: &SavedSpec) -> bool;
}

/// Every request editor, in the order of the transport tabs.
pub static EDITORS: [&dyn RequestEditor; 5] = [
    &super::http_editor::Editor,
    &super::grpc_editor::Editor,
    &super::amqp_editor::Editor,
    &super::nats_editor::Editor,
    &super::kafka_editor::Editor,
];

/// The editor of `tab`.
pub fn of(tab: TransportTab) -> &'static dyn RequestEditor {
    EDITORS
        .iter()
        .copied()
        .find(|e| e.tab() == tab)
        .unwrap_or(EDITORS[0])
}

/// A *Publish N* button for a *Publish many* form of `count` copies.
pub(crate) fn many_button(verb: &str, count: u64, hover: &'static str) -> EditorButton {
    EditorButton {
        label: format!("{verb} {count}"),
        hover,
        action: EditorAction::PublishMany,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_transport_tab_has_exactly_one_editor() {
        for tab in TransportTab::ALL {
            assert_eq!(
                EDITORS.iter().filter(|e| e.tab() == tab).count(),
                1,
                "{tab:?}"
            );
            assert_eq!(of(tab).tab(), tab);
        }
        assert_eq!(EDITORS.len(), TransportTab::ALL.len());
    }

    #[test]
    fn each_editor_takes_only_its_own_requests_and_saves_what_it_holds() {
        let defaults = Settings::default();
        for editor in EDITORS {
            let spec = editor.to_saved(&defaults, None);
            for other in EDITORS {
                let mut settings = Settings::default();
                assert_eq!(
                    other.apply_saved(&mut settings, &spec),
                    other.tab() == editor.tab(),
                    "{:?} given {:?}'s request",
                    other.tab(),
                    editor.tab()
                );
            }
        }
    }
}
