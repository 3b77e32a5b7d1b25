//! Room home: what needs me, and the activity feed (everything that happened, newest first).

use super::form::{derived, name_of, when, Handle};
use super::now_ms;
use super::runtime::RoomView;
use super::t;
use leptos::prelude::*;

const FEED_PAGE: usize = 50;

/// A needs phrase in the app's language, with its values.
fn localised(phrase: &'static str, values: &[String]) -> String {
    crate::i18n::fill_strings(super::t(phrase), values)
}

/// A feed item in the app's language, amounts and quantities written its way.
fn feed_text(item: &crate::domain::ActivityItem) -> String {
    let values: Vec<String> = item.values.iter().map(super::labels::feed_value).collect();
    crate::i18n::fill_strings(super::t(item.phrase), &values)
}

#[component]
pub fn HomeSection(handle: Handle, view: RwSignal<RoomView>, room_id: String) -> impl IntoView {
    let data = derived(handle, view, |room, me| {
        let now = now_ms();
        let needs: Vec<(String, &'static str)> = room
            .needs_me(&me.public(), now)
            .into_iter()
            .map(|n| (localised(n.phrase, &n.values), n.section))
            .collect();
        (needs, room.activity(now), room.members(), me.public())
    });
    // Items after what was seen when the home opened are marked new; seeing them marks them seen.
    let seen_before = handle
        .with_value(|h| h.as_ref().map(|h| h.seen_at()))
        .unwrap_or(0);
    Effect::new(move |_| {
        let newest = data.with(|d| d.as_ref().and_then(|d| d.1.first().map(|i| i.at)));
        if let Some(at) = newest {
            handle.with_value(|h| {
                if let Some(h) = h {
                    h.mark_seen(at)
                }
            });
        }
    });
    let limit = RwSignal::new(FEED_PAGE);
    let link = move |section: &str| format!("#/room/{room_id}/{section}");
    view! {
        <section class="card" data-testid="needs-me">
            <h2>{t("What needs you")}</h2>
            {move || {
                let needs = data.get().map(|d| d.0).unwrap_or_default();
                if needs.is_empty() {
                    view! { <p>{t("Nothing right now.")}</p> }.into_any()
                } else {
                    view! { <ul>{needs.into_iter().map(|(text, section)| view! {
                        <li><a href=link(section)>{text}</a></li>
                    }).collect_view()}</ul> }.into_any()
                }
            }}
        </section>
        <section class="card">
            <h2>{t("Activity")}</h2>
            <ul class="feed" data-testid="activity">
                {move || {
                    let (_, feed, members, me) = data.get().unwrap_or_default();
                    let total = feed.len();
                    let items = feed.into_iter().take(limit.get()).map(|item| {
                        let who = item.author.as_deref().map(|k| name_of(&members, k)).unwrap_or_else(|| t("Someone").into());
                        let new = item.at > seen_before && item.author.as_deref() != Some(me.as_str());
                        view! {
                            <li class:unread=new data-testid="activity-item" data-new=new.to_string()>
                                {new.then(|| view! { <span class="new-badge">{t("New")}</span>" " })}
                                <span class="muted">{when(item.at)}</span>" "<strong>{who}</strong>" "{feed_text(&item)}
                            </li>
                        }
                    }).collect_view();
                    view! {
                        {items}
                        {(total == 0).then(|| view! { <li>{t("Nothing has happened yet.")}</li> })}
                        {(total > limit.get()).then(|| view! {
                            <li><button on:click=move |_| limit.update(|l| *l += FEED_PAGE)>{t("Show more")}</button></li>
                        })}
                    }
                }}
            </ul>
        </section>
    }
}
