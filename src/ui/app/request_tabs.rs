//! Request tabs: several requests open at once. The current tab's state lives in the app's
//! editors (so every editor and test reads it where it always did); the others are parked
//! here whole — every transport's editor, the saved requests they hold, their unsaved
//! scratch work, what is running and each editor's last result — and swapped back in when
//! their tab is chosen. A result that arrives for a parked tab goes to that tab.

use std::collections::HashMap;

use egui::RichText;

use super::collections::{Active, Dialog};
use super::{EditorOutcome, InFlight, SwitchboardApp};
use crate::engine::collection::SavedRequest;
use crate::ui::settings::{EditorKind, OpenRequest, Settings, TabEditors, TransportTab};

/// One request tab's state while another tab is shown.
#[derive(Debug)]
pub struct Workspace {
    /// Its editors; `open_requests` holds links still to be reattached (a tab restored
    /// from the last session, before its collections were looked up).
    editors: TabEditors,
    active: HashMap<EditorKind, Active>,
    scratch: HashMap<EditorKind, SavedRequest>,
    in_flight: HashMap<TransportTab, InFlight>,
    outcomes: HashMap<TransportTab, EditorOutcome>,
    last_by_tab: HashMap<TransportTab, u64>,
}

impl Workspace {
    /// What a parked tab's editor of `tab` produced last, and whether its request still runs.
    pub(crate) fn finished(&mut self, id: u64, tab: TransportTab, outcome: Option<EditorOutcome>) {
        self.in_flight.retain(|_, f| f.id != id);
        if let Some(outcome) = outcome {
            self.outcomes.insert(tab, outcome);
        }
    }

    pub(crate) fn result(&mut self, tab: TransportTab, outcome: EditorOutcome, seq: Option<u64>) {
        self.outcomes.insert(tab, outcome);
        if let Some(seq) = seq {
            self.last_by_tab.insert(tab, seq);
        }
    }

    fn restored(mut editors: TabEditors) -> Self {
        // Its kept-aside requests come back with their credentials already filled in.
        let scratch = std::mem::take(&mut editors.scratch)
            .into_iter()
            .map(|s| (s.kind, s.request))
            .collect();
        Self {
            editors,
            active: HashMap::new(),
            scratch,
            in_flight: HashMap::new(),
            outcomes: HashMap::new(),
            last_by_tab: HashMap::new(),
        }
    }

    /// As kept between launches: its links, editors pointed at the default demo (credentials
    /// are moved out or dropped by the caller, as for the current tab).
    fn to_saved(&self, bound: Option<&demo_services::DemoConfig>) -> TabEditors {
        let mut saved = self.editors.clone();
        // Its kept-aside requests, credentials still in (the caller moves them out).
        let mut scratch: Vec<_> = self
            .scratch
            .iter()
            .filter(|(kind, _)| kind.tab().is_some())
            .map(|(kind, request)| crate::ui::settings::SavedScratch {
                kind: *kind,
                request: request.clone(),
                editor_secrets: Vec::new(),
            })
            .collect();
        scratch.sort_by_key(|s| s.kind.label());
        saved.scratch = scratch;
        saved
            .open_requests
            .extend(self.active.iter().map(|(kind, a)| OpenRequest {
                kind: *kind,
                root: a.root.clone(),
                rel: a.rel.clone(),
            }));
        saved.edit(|s| {
            if let Some(bound) = bound {
                s.retarget_demo(bound, &demo_services::DemoConfig::default());
            }
        });
        saved
    }
}

/// A tab in the strip.
#[derive(Debug)]
pub struct RequestTab {
    pub id: u64,
    /// It held unsaved changes when it was parked.
    pub dirty: bool,
    parked: Option<Box<Workspace>>,
}

/// The tab strip above the editor.
#[derive(Debug)]
pub struct RequestTabs {
    pub tabs: Vec<RequestTab>,
    pub current: usize,
    next_id: u64,
    /// Bring the current tab into view in the strip (after a keyboard switch or a new tab).
    scroll_to_current: bool,
}

impl Default for RequestTabs {
    fn default() -> Self {
        Self {
            tabs: vec![RequestTab {
                id: 0,
                dirty: false,
                parked: None,
            }],
            current: 0,
            next_id: 1,
            scroll_to_current: false,
        }
    }
}

impl RequestTabs {
    /// The tabs kept from the last session around the current one (at `index`).
    pub fn restore(saved: Vec<TabEditors>, index: usize) -> Self {
        let mut tabs: Vec<RequestTab> = saved
            .into_iter()
            .enumerate()
            .map(|(i, editors)| RequestTab {
                id: i as u64 + 1,
                dirty: false,
                parked: Some(Box::new(Workspace::restored(editors))),
            })
            .collect();
        let current = index.min(tabs.len());
        tabs.insert(
            current,
            RequestTab {
                id: 0,
                dirty: false,
                parked: None,
            },
        );
        let next_id = tabs.len() as u64 + 1;
        Self {
            tabs,
            current,
            next_id,
            scroll_to_current: false,
        }
    }

    /// The other tabs as kept between launches, and where the current one sits.
    pub fn to_saved(&self, bound: Option<&demo_services::DemoConfig>) -> (Vec<TabEditors>, usize) {
        let saved = self
            .tabs
            .iter()
            .filter_map(|t| t.parked.as_ref().map(|w| w.to_saved(bound)))
            .collect();
        (saved, self.current)
    }

    /// Runs `f` on every parked tab's editors (retargeting them at the demo as bound).
    pub fn edit_parked(&mut self, f: impl Fn(&mut Settings)) {
        for tab in &mut self.tabs {
            if let Some(w) = tab.parked.as_mut() {
                w.editors.edit(&f);
            }
        }
    }

    /// The id of the tab shown.
    pub fn current_id(&self) -> u64 {
        self.tabs.get(self.current).map_or(0, |t| t.id)
    }

    /// A parked tab's state (`None` for the current tab or one that was closed).
    pub(crate) fn parked(&mut self, id: u64) -> Option<&mut Workspace> {
        self.tabs
            .iter_mut()
            .find(|t| t.id == id)
            .and_then(|t| t.parked.as_deref_mut())
    }

    /// The index of the tab holding the saved request `root`/`rel` (parked tabs only).
    fn holding(&self, root: &std::path::Path, rel: &str) -> Option<usize> {
        self.tabs.iter().position(|t| {
            t.parked
                .as_ref()
                .is_some_and(|w| w.active.values().any(|a| a.root == root && a.rel == rel))
        })
    }
}

/// What a tab's title starts with: the HTTP method, else the transport.
fn verb(transport: TransportTab, http: &crate::engine::collection::saved::SavedHttp) -> String {
    match transport {
        TransportTab::Http => http.method.trim().to_uppercase(),
        other => other.label().to_string(),
    }
}

/// Request kinds a tab holds (the saved watch belongs to the Messages view, not to a tab).
const KINDS: [EditorKind; 5] = [
    EditorKind::Http,
    EditorKind::Grpc,
    EditorKind::Amqp,
    EditorKind::Nats,
    EditorKind::Kafka,
];

impl SwitchboardApp {
    /// The current tab's title, as Postman's: the method (HTTP) or transport, then the open
    /// saved request's name, else "new request".
    pub fn tab_title(&self) -> String {
        let transport = self.settings.editors.transport;
        let kind = EditorKind::from(transport);
        let verb = verb(transport, &self.settings.editors.http);
        match self.collections.active.get(&kind) {
            Some(a) => format!("{verb} {}", a.baseline.name),
            None => format!("{verb} new request"),
        }
    }

    /// Takes the request side out of the app, leaving it as `fresh` has it.
    fn park(&mut self, fresh: &Settings) -> Workspace {
        let mut active = HashMap::new();
        let mut scratch = HashMap::new();
        for kind in KINDS {
            if let Some(a) = self.collections.active.remove(&kind) {
                active.insert(kind, a);
            }
            if let Some(r) = self.collections.scratch.remove(&kind) {
                scratch.insert(kind, r);
            }
        }
        Workspace {
            editors: TabEditors::replace(&mut self.settings, fresh),
            active,
            scratch,
            in_flight: std::mem::take(&mut self.in_flight),
            outcomes: std::mem::take(&mut self.outcomes),
            last_by_tab: std::mem::take(&mut self.last_by_tab),
        }
    }

    /// Puts a parked tab's state back into the app.
    fn unpark(&mut self, mut w: Workspace) {
        let links = std::mem::take(&mut w.editors.open_requests);
        w.editors.put(&mut self.settings);
        self.collections.active.extend(w.active);
        self.collections.scratch.extend(w.scratch);
        self.in_flight = w.in_flight;
        self.outcomes = w.outcomes;
        self.last_by_tab = w.last_by_tab;
        // A tab from the last session: its editors find their saved requests again.
        if !links.is_empty() {
            let roots: std::collections::BTreeSet<_> =
                links.iter().map(|l| l.root.clone()).collect();
            self.collections.relink_later(links);
            for root in roots {
                self.relink(&root);
            }
        }
        // The result pane follows the tab: its editor's own last result.
        self.history_view.compare = false;
        self.history_view.selected = self
            .last_by_tab
            .get(&self.settings.editors.transport)
            .copied();
    }

    /// Editors as a new tab starts them: the defaults, pointed at the demo as it is bound.
    fn fresh_settings(&self) -> Settings {
        let mut fresh = Settings::default();
        fresh.editors.transport = self.settings.editors.transport;
        if let Some(bound) = self.demo_config() {
            fresh.retarget_demo(&demo_services::DemoConfig::default(), bound);
        }
        fresh
    }

    /// Opens a new tab with a fresh request of the current transport.
    pub fn new_tab(&mut self) {
        let fresh = self.fresh_settings();
        let dirty = self.tab_dirty();
        let parked = self.park(&fresh);
        let current = self.request_tabs.current;
        if let Some(tab) = self.request_tabs.tabs.get_mut(current) {
            tab.dirty = dirty;
            tab.parked = Some(Box::new(parked));
        }
        self.close_request_dialog();
        let id = self.request_tabs.next_id;
        self.request_tabs.next_id += 1;
        self.request_tabs.tabs.push(RequestTab {
            id,
            dirty: false,
            parked: None,
        });
        self.request_tabs.current = self.request_tabs.tabs.len() - 1;
        self.request_tabs.scroll_to_current = true;
        self.history_view.compare = false;
        self.history_view.selected = None;
    }

    /// Shows tab `index`.
    pub fn switch_tab(&mut self, index: usize) {
        let current = self.request_tabs.current;
        if index == current || index >= self.request_tabs.tabs.len() {
            return;
        }
        let Some(next) = self.request_tabs.tabs[index].parked.take() else {
            return;
        };
        let dirty = self.tab_dirty();
        let parked = self.park(&Settings::default());
        if let Some(tab) = self.request_tabs.tabs.get_mut(current) {
            tab.dirty = dirty;
            tab.parked = Some(Box::new(parked));
        }
        self.request_tabs.current = index;
        self.unpark(*next);
        self.close_request_dialog();
    }

    /// A dialog about the request shown (rename, move, delete, save as…) is about the tab
    /// that was: it closes when the tab changes. Closing a tab keeps its own question.
    fn close_request_dialog(&mut self) {
        if !matches!(self.collections.dialog, Some(Dialog::CloseTab { .. })) {
            self.collections.dialog = None;
        }
    }

    /// The current tab holds a saved request with unsaved changes.
    fn tab_dirty(&mut self) -> bool {
        KINDS.into_iter().any(|k| self.is_dirty(k))
    }

    /// A parked tab's title: its transport (or HTTP method) and its saved request's name as
    /// the collection has it now, else "new request"; "..." while a request of it runs.
    fn parked_title(&self, tab: &RequestTab) -> String {
        let Some(w) = tab.parked.as_deref() else {
            return self.tab_title();
        };
        let e = &w.editors;
        let verb = verb(e.editors.transport, &e.editors.http);
        let kind = EditorKind::from(e.editors.transport);
        let link = w
            .active
            .get(&kind)
            .map(|a| (a.root.clone(), a.rel.clone(), Some(a.baseline.name.clone())))
            .or_else(|| {
                e.open_requests
                    .iter()
                    .find(|o| o.kind == kind)
                    .map(|o| (o.root.clone(), o.rel.clone(), None))
            });
        let name = match link {
            Some((root, rel, known)) => self
                .saved_name(&root, &rel)
                .or(known)
                .unwrap_or_else(|| rel.rsplit('/').next().unwrap_or(&rel).to_string()),
            None => "new request".to_string(),
        };
        let running = if w.in_flight.is_empty() { "" } else { "... " };
        format!("{running}{verb} {name}")
    }

    /// True when the current tab holds work nothing else keeps: a saved request changed but
    /// not saved, an unsaved request that is not a new tab's, or kept scratch work.
    fn tab_unsaved(&mut self) -> bool {
        let fresh = self.fresh_settings();
        let s = &self.settings;
        let edited = |kind: EditorKind| match kind {
            EditorKind::Http => s.editors.http != fresh.editors.http,
            EditorKind::Grpc => s.editors.grpc != fresh.editors.grpc,
            EditorKind::Amqp => s.editors.amqp != fresh.editors.amqp,
            EditorKind::Nats => s.editors.nats != fresh.editors.nats,
            EditorKind::Kafka => s.editors.kafka != fresh.editors.kafka,
            EditorKind::Watch => false,
        };
        let unsaved: Vec<EditorKind> = KINDS
            .into_iter()
            .filter(|k| !self.collections.active.contains_key(k) && edited(*k))
            .collect();
        !unsaved.is_empty()
            || KINDS
                .into_iter()
                .any(|k| self.collections.scratch.contains_key(&k) || self.is_dirty(k))
    }

    /// Closes tab `index` (asking first when it holds unsaved changes).
    pub fn close_tab(&mut self, index: usize, confirmed: bool) {
        if self.request_tabs.tabs.len() < 2 || index >= self.request_tabs.tabs.len() {
            return;
        }
        self.switch_tab(index);
        if !confirmed && self.tab_unsaved() {
            self.collections.dialog = Some(Dialog::CloseTab { index });
            return;
        }
        // Show a neighbour, then drop this tab's state (what it had running finishes into
        // the history).
        let neighbour = if index + 1 < self.request_tabs.tabs.len() {
            index + 1
        } else {
            index - 1
        };
        self.switch_tab(neighbour);
        self.request_tabs.tabs.remove(index);
        if self.request_tabs.current > index {
            self.request_tabs.current -= 1;
        }
    }

    /// Shows the tab that holds saved request `root`/`rel`, if one does.
    pub(crate) fn show_tab_holding(&mut self, root: &std::path::Path, rel: &str) -> bool {
        match self.request_tabs.holding(root, rel) {
            Some(index) => {
                self.switch_tab(index);
                true
            }
            None => false,
        }
    }

    /// The tab strip: one row, scrolled sideways when there are many.
    pub(crate) fn request_tabs_ui(&mut self, ui: &mut egui::Ui) {
        let many = self.request_tabs.tabs.len() > 1;
        if !many {
            // One request open: only the way to a second (the bar below names the request).
            if ui
                .small_button("+ New tab")
                .on_hover_text("Open another request beside this one (Ctrl+T)")
                .clicked()
            {
                self.new_tab();
            }
            return;
        }
        let current_title = self.tab_title();
        let dirty = self.tab_dirty();
        let titles: Vec<(String, bool)> = self
            .request_tabs
            .tabs
            .iter()
            .enumerate()
            .map(|(i, tab)| {
                if i == self.request_tabs.current {
                    (current_title.clone(), dirty)
                } else {
                    (self.parked_title(tab), tab.dirty)
                }
            })
            .collect();
        let (mut choose, mut close, mut new) = (None, None, false);
        let current = self.request_tabs.current;
        egui::ScrollArea::horizontal()
            .id_salt("request-tabs")
            .auto_shrink([false, true])
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    for (i, (title, dirty)) in titles.iter().enumerate() {
                        let is_current = i == current;
                        let text = if *dirty {
                            format!("{title} *")
                        } else {
                            title.clone()
                        };
                        let response = ui
                            .selectable_label(is_current, RichText::new(text))
                            .on_hover_text(
                                "Switch to this request (Ctrl+Tab: the next); middle-click closes it",
                            );
                        if is_current && self.request_tabs.scroll_to_current {
                            response.scroll_to_me(None);
                        }
                        if response.clicked() {
                            choose = Some(i);
                        }
                        if response.middle_clicked() {
                            close = Some(i);
                        }
                        if ui
                            .small_button("x")
                            .on_hover_text("Close this tab (Ctrl+W)")
                            .clicked()
                        {
                            close = Some(i);
                        }
                        ui.separator();
                    }
                    if ui
                        .small_button("+")
                        .on_hover_text("A new request in its own tab (Ctrl+T)")
                        .clicked()
                    {
                        new = true;
                    }
                });
            });
        self.request_tabs.scroll_to_current = false;
        if new {
            self.new_tab();
        } else if let Some(i) = close {
            self.close_tab(i, false);
        } else if let Some(i) = choose {
            self.switch_tab(i);
        }
    }

    /// Ctrl+T, Ctrl+W, Ctrl+Tab and Ctrl+Shift+Tab (taken before any widget sees them), and
    /// Ctrl+1…5 for the HTTP, gRPC, AMQP, NATS and Kafka editors.
    pub(crate) fn request_tab_keys(&mut self, ui: &mut egui::Ui) {
        let key = |ui: &mut egui::Ui, modifiers, key| {
            ui.input_mut(|i| i.consume_shortcut(&egui::KeyboardShortcut::new(modifiers, key)))
        };
        let n = self.request_tabs.tabs.len();
        let current = self.request_tabs.current;
        if key(ui, egui::Modifiers::COMMAND, egui::Key::T) {
            self.new_tab();
        } else if key(ui, egui::Modifiers::COMMAND, egui::Key::W) {
            self.close_tab(current, false);
        } else if key(
            ui,
            egui::Modifiers::COMMAND | egui::Modifiers::SHIFT,
            egui::Key::Tab,
        ) {
            self.switch_tab((current + n - 1) % n.max(1));
            self.request_tabs.scroll_to_current = true;
        } else if key(ui, egui::Modifiers::COMMAND, egui::Key::Tab) {
            self.switch_tab((current + 1) % n.max(1));
            self.request_tabs.scroll_to_current = true;
        }
        let digits = [
            egui::Key::Num1,
            egui::Key::Num2,
            egui::Key::Num3,
            egui::Key::Num4,
            egui::Key::Num5,
        ];
        for (digit, tab) in digits.into_iter().zip(TransportTab::ALL) {
            if key(ui, egui::Modifiers::COMMAND, digit) {
                self.show_editor(tab);
            }
        }
    }
}
