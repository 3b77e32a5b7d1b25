//! Room home: what needs me, and the activity feed (everything that happened, newest first).

use super::form::{derived, name_of, when, Handle};
use super::now_ms;
use super::runtime::RoomView;
use crate::domain::{Outcome, Standing};
use leptos::prelude::*;

const FEED_PAGE: usize = 50;

#[component]
pub fn HomeSection(handle: Handle, view: RwSignal<RoomView>, room_id: String) -> impl IntoView {
    let data = derived(handle, view, |room, me| {
        let now = now_ms();
        let members = room.members();
        let key = me.public();
        let admitted = room.admitted().contains(&key);
        let mut needs: Vec<(String, &'static str)> = Vec::new();
        let standing = members
            .iter()
            .find(|m| m.key == key)
            .map(|m| m.standing.clone());
        match standing {
            None => needs.push((
                "Introduce yourself so the members can vouch for you".into(),
                "members",
            )),
            Some(Standing::Pending { vouches, needed }) => needs.push((
                format!("You are waiting for vouches ({vouches} of {needed})"),
                "members",
            )),
            _ => {}
        }
        if admitted {
            let pending = members
                .iter()
                .filter(|m| matches!(m.standing, Standing::Pending { .. }))
                .count();
            if pending > 0 {
                needs.push((
                    format!("{pending} newcomer(s) waiting for vouches"),
                    "members",
                ));
            }
            let unanswered = room
                .decisions(now)
                .into_iter()
                .filter(|d| d.outcome == Outcome::Open)
                .count();
            if unanswered > 0 {
                needs.push((format!("{unanswered} open decision(s)"), "decisions"));
            }
        }
        (needs, room.activity(now), members)
    });
    let limit = RwSignal::new(FEED_PAGE);
    let link = move |section: &str| format!("#/room/{room_id}/{section}");
    view! {
        <section class="card" data-testid="needs-me">
            <h2>"What needs you"</h2>
            {move || {
                let needs = data.get().map(|d| d.0).unwrap_or_default();
                if needs.is_empty() {
                    view! { <p>"Nothing right now."</p> }.into_any()
                } else {
                    view! { <ul>{needs.into_iter().map(|(text, section)| view! {
                        <li><a href=link(section)>{text}</a></li>
                    }).collect_view()}</ul> }.into_any()
                }
            }}
        </section>
        <section class="card">
            <h2>"Activity"</h2>
            <ul class="feed" data-testid="activity">
                {move || {
                    let (_, feed, members) = data.get().unwrap_or_default();
                    let total = feed.len();
                    let items = feed.into_iter().take(limit.get()).map(|item| {
                        let who = item.author.as_deref().map(|k| name_of(&members, k)).unwrap_or_else(|| "Someone".into());
                        view! { <li><span class="muted">{when(item.at)}</span>" "<strong>{who}</strong>" "{item.what}</li> }
                    }).collect_view();
                    view! {
                        {items}
                        {(total == 0).then(|| view! { <li>"Nothing has happened yet."</li> })}
                        {(total > limit.get()).then(|| view! {
                            <li><button on:click=move |_| limit.update(|l| *l += FEED_PAGE)>"Show more"</button></li>
                        })}
                    }
                }}
            </ul>
        </section>
    }
}
