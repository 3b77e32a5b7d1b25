//! One search over the whole room, shown on every room screen: a field, and the results as
//! links that open each item in its section. The index (`domain::SearchIndex`) is built only
//! while there is something to look for, once per room version; each keystroke queries it.

use super::form::Handle;
use super::runtime::RoomView;
use super::t;
use crate::domain::{SearchIndex, SearchKind, SearchResults};
use leptos::prelude::*;

fn kind_label(kind: SearchKind) -> &'static str {
    match kind {
        SearchKind::Page => t("Page"),
        SearchKind::Post => t("Need or offer"),
        SearchKind::Thing => t("Shared thing"),
        SearchKind::Task => t("Task"),
        SearchKind::Decision => t("Decision"),
        SearchKind::Member => t("Member"),
    }
}

#[component]
pub fn RoomSearch(handle: Handle, view: RwSignal<RoomView>, room_id: String) -> impl IntoView {
    let query = RwSignal::new(String::new());
    let active = Memo::new(move |_| !query.with(|q| q.trim().is_empty()));
    let version = Memo::new(move |_| view.with(|v| v.version));
    // Built when the room changes while a query is typed (the board's posts are those the
    // room view already derived), not per keystroke.
    let index = Memo::new(move |_| {
        let _ = version.get();
        if !active.get() {
            return None;
        }
        handle.with_value(|h| {
            h.as_ref().map(|h| {
                h.read(|room, _| {
                    view.with_untracked(|v| {
                        SearchIndex::build_with_posts(room, &v.posts, super::now_ms())
                    })
                })
            })
        })
    });
    let results = Memo::new(move |_| {
        let q = query.get();
        index.with(|index| {
            let index = index.as_ref()?;
            handle.with_value(|h| h.as_ref().map(|h| h.read(|room, _| index.search(room, &q))))
        })
    });
    let base = StoredValue::new(format!("#/room/{room_id}/"));

    view! {
        <div class="room-search">
            <form role="search" aria-label=t("Search this room") on:submit=|ev| ev.prevent_default()>
                <label for="room-search">{t("Search this room")}</label>
                <input id="room-search" type="search" data-testid="room-search" autocomplete="off"
                    prop:value=move || query.get() on:input=move |ev| query.set(event_target_value(&ev))/>
            </form>
            <div role="status" aria-live="polite" data-testid="search-status" class="muted">
                {move || {
                    let found: SearchResults = results.get()?;
                    let q = query.get_untracked().trim().to_owned();
                    Some(match (found.hits.len(), found.more) {
                        (0, _) => tr!("Nothing in this room matches “{}”.", q),
                        (n, true) => tr!("The first {} results: add a word to find fewer.", n),
                        (1, false) => t("1 result").to_string(),
                        (n, false) => tr!("{} results", n),
                    })
                }}
            </div>
            {move || {
                let found = results.get()?;
                (!found.hits.is_empty()).then(|| view! {
                    <ul class="search-results" data-testid="search-results">
                        {found.hits.into_iter().map(|hit| {
                            let href = format!("{}{}", base.get_value(), hit.route);
                            let to = href.clone();
                            // Navigates before the results go: a link taken out of the page
                            // would not be followed.
                            let follow = move |ev: leptos::ev::MouseEvent| {
                                if ev.ctrl_key() || ev.meta_key() || ev.shift_key() || ev.button() != 0 {
                                    return;
                                }
                                ev.prevent_default();
                                super::go(&to);
                                query.set(String::new());
                            };
                            view! {
                                <li data-testid="search-result" data-kind=hit.kind.as_str() data-id=hit.id.clone()>
                                    <span class="badge">{kind_label(hit.kind)}</span>" "
                                    <a href=href on:click=follow>{hit.title}</a>
                                    {(!hit.snippet.is_empty()).then(|| view! { <span class="snippet">{hit.snippet}</span> })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                })
            }}
        </div>
    }
}
