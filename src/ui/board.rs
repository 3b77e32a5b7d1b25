//! Needs and offers: the post form, the list (paged) and each post with its author and the date
//! it was posted, its edit and status controls (shown only on one's own posts: only a post's
//! author changes it) and its replies, each with its author and date.

use super::form::{error_for, field_error, RadioField, SelectField, TextArea, TextField};
use super::runtime::{RoomHandle, RoomView};
use super::t;
use crate::domain::{
    DomainError, Member, NewPost, Post, PostDetails, PostEdit, PostKind, PostStatus, Urgency,
    CATEGORIES,
};
use leptos::prelude::*;

const PAGE: usize = 50;

/// A change to one post, run against the open room.
type PostCommand = Box<dyn FnOnce(&RoomHandle) -> Result<(), DomainError>>;

/// The categories a post can have, as choices.
fn categories() -> Signal<Vec<(String, String)>> {
    Signal::derive(|| {
        CATEGORIES
            .iter()
            .map(|c| ((*c).to_owned(), t(c).to_owned()))
            .collect()
    })
}

/// Need or offer, as choices.
fn post_kinds() -> Signal<Vec<(String, String)>> {
    Signal::derive(|| {
        [("need", t("Need")), ("offer", t("Offer"))]
            .map(|(v, words)| (v.to_owned(), words.to_owned()))
            .to_vec()
    })
}

/// How urgent a post is, as choices.
fn urgencies() -> Signal<Vec<(String, String)>> {
    Signal::derive(|| {
        [
            ("low", t("low")),
            ("normal", t("normal")),
            ("high", t("urgent")),
        ]
        .map(|(v, words)| (v.to_owned(), words.to_owned()))
        .to_vec()
    })
}

#[component]
pub fn Board(
    handle: StoredValue<Option<RoomHandle>, LocalStorage>,
    view: RwSignal<RoomView>,
    /// A post named by the route (`board/<id>`, as search links): shown even past the first
    /// page, highlighted and scrolled to.
    #[prop(optional)]
    focus: String,
    /// The room's id, for links to its posts.
    #[prop(optional, into)]
    room_id: String,
) -> impl IntoView {
    let focus = StoredValue::new(focus);
    let post_link = StoredValue::new(format!("#/room/{room_id}/board/"));
    let run = move |f: &dyn Fn(&RoomHandle) -> Result<(), DomainError>| -> Result<(), DomainError> {
        handle.with_value(|h| match h {
            Some(h) => f(h),
            None => Err(DomainError::NotReady),
        })
    };
    let kind = RwSignal::new("need".to_string());
    let title = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let category = RwSignal::new(CATEGORIES[0].to_string());
    let errors = RwSignal::new(None::<(String, String)>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let post = NewPost {
            kind: PostKind::parse(&kind.get_untracked()).unwrap_or(PostKind::Need),
            title: title.get_untracked(),
            description: description.get_untracked(),
            category: category.get_untracked(),
        };
        match run(&|h| {
            h.command(|room, me, now| room.add_post(me, post.clone(), now))
                .map(|_| ())
        }) {
            Ok(()) => {
                title.set(String::new());
                description.set(String::new());
                errors.set(None);
            }
            Err(e) => errors.set(Some(field_error(e))),
        }
    };
    let writable = Memo::new(move |_| view.get().writable);
    let limit = RwSignal::new(PAGE);
    let total = Memo::new(move |_| view.get().posts.len());
    // Filters: kind, status, category, and words found in the title, category or tags.
    let filter_kind = RwSignal::new(String::new());
    let filter_status = RwSignal::new(String::new());
    let filter_category = RwSignal::new(String::new());
    let filter_text = RwSignal::new(String::new());
    let filtered = Memo::new(move |_| {
        let (kind, status, category) = (
            filter_kind.get(),
            filter_status.get(),
            filter_category.get(),
        );
        let words = filter_text.get().to_lowercase();
        view.with(|v| {
            v.posts
                .iter()
                .filter(|p| kind.is_empty() || p.kind.as_str() == kind)
                .filter(|p| status.is_empty() || p.status.as_str() == status)
                .filter(|p| category.is_empty() || p.category == category)
                .filter(|p| {
                    words.split_whitespace().all(|w| {
                        p.title.to_lowercase().contains(w)
                            || p.category.to_lowercase().contains(w)
                            || p.tags.iter().any(|t| t.contains(w))
                    })
                })
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    let shown = move || {
        let list = filtered.get();
        let to_focus = focus
            .with_value(|f| list.iter().position(|p| &p.id == f))
            .map_or(0, |i| i + 1);
        list.into_iter()
            .take(limit.get().max(to_focus))
            .collect::<Vec<_>>()
    };
    // Members' names, for the posts' authors.
    let members = super::form::derived(handle, view, |room, _| room.members());
    // Matching suggestions pair every open need with every open offer: computed only on request.
    let suggesting = RwSignal::new(false);
    let suggestions = super::form::derived(handle, view, move |room, me| {
        if !suggesting.get_untracked() {
            return Vec::new();
        }
        let posts = room.posts();
        let post = |id: &str| posts.iter().find(|p| p.id == id).cloned();
        let me = me.public();
        room.matches(super::now_ms())
            .into_iter()
            .take(10)
            .filter_map(|m| {
                let (need, offer) = (post(&m.need)?, post(&m.offer)?);
                let mine = if need.author.as_deref() == Some(me.as_str()) {
                    Mine::Need
                } else if offer.author.as_deref() == Some(me.as_str()) {
                    Mine::Offer
                } else {
                    Mine::Neither
                };
                Some(Suggestion {
                    need: (need.id, need.title),
                    offer: (offer.id, offer.title),
                    mine,
                })
            })
            .collect::<Vec<_>>()
    });
    // What acting on a suggestion says, and on which post: replied once per suggestion.
    let match_errors = RwSignal::new(None::<(String, String)>);
    let acted = RwSignal::new(std::collections::BTreeSet::<(String, String)>::new());
    let act = move |s: Suggestion| {
        let (post, text) = match s.mine {
            Mine::Need => (
                s.offer.0.clone(),
                tr!(
                    "This could meet my need “{}”. Is it still on offer?",
                    s.need.1
                ),
            ),
            Mine::Offer => (
                s.need.0.clone(),
                tr!("My offer “{}” could meet this need.", s.offer.1),
            ),
            Mine::Neither => (
                s.need.0.clone(),
                tr!("The offer “{}” could meet this need.", s.offer.1),
            ),
        };
        if super::form::run(handle, match_errors, |room, me, now| {
            room.respond(me, &post, &text, now)
        })
        .is_some()
        {
            acted.update(|a| {
                a.insert((s.need.0, s.offer.0));
            });
        }
    };

    view! {
        {move || view.get().newer_schema.then(|| view! {
            <p class="card error" role="alert">{t("This room was changed by a newer version of Tequio. Update the app: this one may not show everything in it.")}</p>
        })}
        <section class="card">
            <h2>{t("Post a need or an offer")}</h2>
            <form on:submit=submit class="post-form">
                <RadioField label=t("Kind") field="kind" value=kind errors options=post_kinds()/>
                <TextField label=t("Title") field="title" value=title errors maxlength=120/>
                <TextArea label=t("Description") field="description" value=description errors/>
                <SelectField label=t("Category") field="category" value=category errors options=categories()/>
                {error_for(errors, "")}
                <button type="submit" disabled=move || !writable.get()>{t("Post")}</button>
            </form>
        </section>
        <section class="card">
            <h2>{t("Needs and offers ")} <span class="count" data-testid="post-count">{move || total.get()}</span></h2>
            <div class="filters">
                <label class="inline">{t("Kind")}<select data-testid="filter-kind" on:change=move |ev| filter_kind.set(event_target_value(&ev))>
                    <option value="">{t("All")}</option><option value="need">{t("Needs")}</option><option value="offer">{t("Offers")}</option>
                </select></label>
                <label class="inline">{t("Status")}<select data-testid="filter-status" on:change=move |ev| filter_status.set(event_target_value(&ev))>
                    <option value="">{t("Any")}</option><option value="open">{t("Open")}</option><option value="matched">{t("Matched")}</option>
                    <option value="fulfilled">{t("Fulfilled")}</option><option value="withdrawn">{t("Withdrawn")}</option>
                </select></label>
                <label class="inline">{t("Category")}<select data-testid="filter-category" on:change=move |ev| filter_category.set(event_target_value(&ev))>
                    <option value="">{t("All")}</option>
                    {CATEGORIES.iter().map(|c| view! { <option value=*c>{t(c)}</option> }).collect_view()}
                </select></label>
                <label class="inline">{t("Search")}<input data-testid="filter-text" type="search" prop:value=move || filter_text.get()
                    on:input=move |ev| filter_text.set(event_target_value(&ev))/></label>
                {move || (filtered.with(Vec::len) != total.get()).then(|| view! {
                    <span class="muted" data-testid="filtered-count">{move || tr!("{} shown", filtered.with(Vec::len))}</span>
                })}
            </div>
            <button type="button" data-testid="suggest" on:click=move |_| {
                suggesting.update(|s| *s = !*s);
                view.update(|v| v.version += 1);
            }>{move || if suggesting.get() { t("Hide matching suggestions") } else { t("Suggest matches") }}</button>
            {move || suggesting.get().then(|| view! {
                <ul class="matches" data-testid="matches">
                    {move || {
                        let list = suggestions.get().unwrap_or_default();
                        if list.is_empty() {
                            return view! { <li>{t("No open need shares a category or tag with an open offer.")}</li> }.into_any();
                        }
                        let base = post_link.get_value();
                        list.into_iter().map(|s| {
                            let done = acted.with(|a| a.contains(&(s.need.0.clone(), s.offer.0.clone())));
                            let action = match s.mine {
                                Mine::Need => t("Ask about this offer"),
                                Mine::Offer => t("Offer it"),
                                Mine::Neither => t("Point them to each other"),
                            };
                            let suggestion = s.clone();
                            view! {
                                <li data-testid="match" data-need=s.need.1.clone() data-offer=s.offer.1.clone()>
                                    {t("Need")}" "<a href=format!("{base}{}", s.need.0)>{format!("“{}”", s.need.1)}</a>
                                    " ↔ "{t("offer")}" "<a href=format!("{base}{}", s.offer.0)>{format!("“{}”", s.offer.1)}</a>" "
                                    {if done {
                                        view! { <span class="ok" role="status">{t("Replied: they will see it under the post.")}</span> }.into_any()
                                    } else {
                                        view! { <button type="button" on:click=move |_| act(suggestion.clone())>{action}</button> }.into_any()
                                    }}
                                </li>
                            }
                        }).collect_view().into_any()
                    }}
                </ul>
            })}
            {super::form::error_for(match_errors, "")}
            {super::form::error_for(match_errors, "text")}
            {move || (total.get() == 0).then(|| view! { <p>{t("Nothing posted yet.")}</p> })}
            <ul class="posts">
                <For each=shown key=|p: &Post| (p.id.clone(), p.updated_at, p.status, p.description.clone(), p.title.clone()) let:post>
                    <PostItem focused=focus.with_value(|f| *f == post.id) post handle view writable members/>
                </For>
            </ul>
            {move || (filtered.with(Vec::len) > limit.get()).then(|| view! {
                <button on:click=move |_| limit.update(|l| *l += PAGE)>{move || tr!("Show more ({} more)", filtered.with(Vec::len).saturating_sub(limit.get()))}</button>
            })}
        </section>
    }
}

/// A date field's value ("2026-11-21") from a time, and back (the end of that day, UTC).
fn date_field(ms: Option<i64>) -> String {
    ms.map(|ms| crate::domain::iso_time(ms)[..10].to_owned())
        .unwrap_or_default()
}

fn end_of_day(text: &str) -> Result<Option<i64>, DomainError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let ms = js_sys::Date::parse(text.trim());
    if ms.is_nan() {
        return Err(DomainError::Invalid {
            field: "expires_at",
            problem: "is not a date".into(),
        });
    }
    Ok(Some(ms as i64 + 24 * 60 * 60 * 1000 - 1))
}

/// Replies to a post: the list and, for members, a form.
#[component]
fn Responses(
    post: String,
    handle: StoredValue<Option<RoomHandle>, LocalStorage>,
    view: RwSignal<RoomView>,
) -> impl IntoView {
    let id = StoredValue::new(post);
    let list = super::form::derived(handle, view, move |room, _| {
        let responses = room.responses(Some(&id.get_value()));
        let members = if responses.is_empty() {
            Vec::new()
        } else {
            room.members()
        };
        responses
            .into_iter()
            .map(|r| (super::form::name_of(&members, &r.author), r.text, r.at))
            .collect::<Vec<_>>()
    });
    let open = RwSignal::new(false);
    let text = RwSignal::new(String::new());
    let errors = RwSignal::new(None::<(String, String)>);
    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (post, reply) = (id.get_value(), text.get_untracked());
        if super::form::run(handle, errors, |room, me, now| {
            room.respond(me, &post, &reply, now)
        })
        .is_some()
        {
            text.set(String::new());
        }
    };
    let count = move || list.with(|l| l.as_ref().map_or(0, Vec::len));
    view! {
        <div class="responses">
            <button type="button" class="secondary" data-testid="responses-toggle" aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)>{move || tr!("Responses ({})", count())}</button>
            {move || open.get().then(|| view! {
                <ul class="feed" data-testid="responses">
                    {move || list.get().unwrap_or_default().into_iter().map(|(who, text, at)| view! {
                        <li data-testid="response"><strong>{who}</strong>" "{text}" "<span class="muted">{super::form::when(at)}</span></li>
                    }).collect_view()}
                </ul>
                <form on:submit=send data-testid="respond">
                    <TextArea label=t("Your reply") field="response" value=text errors rows=2 maxlength=1000 testid="response-text"/>
                    {error_for(errors, "")}
                    <button type="submit" data-testid="send-response">{t("Reply")}</button>
                </form>
            })}
        </div>
    }
}

#[component]
fn PostItem(
    post: Post,
    handle: StoredValue<Option<RoomHandle>, LocalStorage>,
    view: RwSignal<RoomView>,
    writable: Memo<bool>,
    members: Memo<Option<Vec<Member>>>,
    /// Opened through a link to it: highlighted and scrolled to.
    focused: bool,
) -> impl IntoView {
    let item = NodeRef::<leptos::html::Li>::new();
    if focused {
        Effect::new(move |_| {
            if let Some(el) = item.get() {
                el.scroll_into_view();
            }
        });
    }
    let editing = RwSignal::new(false);
    let errors = RwSignal::new(None::<(String, String)>);
    let title = RwSignal::new(post.title.clone());
    let description = RwSignal::new(post.description.clone());
    let category = RwSignal::new(post.category.clone());
    let tags = RwSignal::new(post.tags.join(", "));
    let urgency = RwSignal::new(post.urgency.as_str().to_owned());
    let expires = RwSignal::new(date_field(post.expires_at));
    let id = StoredValue::new(post.id.clone());
    let run = move |f: PostCommand| {
        let result = handle.with_value(|h| match h {
            Some(h) => f(h),
            None => Err(DomainError::NotReady),
        });
        match result {
            Ok(()) => {
                errors.set(None);
                editing.set(false);
            }
            Err(e) => errors.set(Some(field_error(e))),
        }
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut edit = PostEdit {
            title: Some(title.get_untracked()),
            description: Some(description.get_untracked()),
            category: Some(category.get_untracked()),
            details: None,
        };
        let expires_at = match end_of_day(&expires.get_untracked()) {
            Ok(e) => e,
            Err(e) => return errors.set(Some(field_error(e))),
        };
        let details = PostDetails {
            tags: tags
                .get_untracked()
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            urgency: Urgency::parse(&urgency.get_untracked()).unwrap_or_default(),
            expires_at,
        };
        edit.details = Some(details);
        let id = id.get_value();
        // One signed version: everything is checked before anything is written.
        run(Box::new(move |h| {
            h.command(|room, me, now| room.edit_post(me, &id, edit, now))
        }));
    };
    let set_status = move |to: PostStatus| {
        let id = id.get_value();
        run(Box::new(move |h| {
            h.command(|room, me, now| room.set_post_status(me, &id, to, now))
        }));
    };
    let status = post.status;
    let kind_label = match post.kind {
        PostKind::Need => t("Need"),
        PostKind::Offer => t("Offer"),
    };
    let status_label = match status {
        PostStatus::Open => t("open"),
        PostStatus::Matched => t("matched"),
        PostStatus::Fulfilled => t("fulfilled"),
        PostStatus::Withdrawn => t("withdrawn"),
    };
    let expired = post.is_expired(super::now_ms());
    let transitions: Vec<(PostStatus, &'static str)> = [
        (PostStatus::Open, t("Reopen")),
        (PostStatus::Matched, t("Mark matched")),
        (PostStatus::Fulfilled, t("Mark fulfilled")),
        (PostStatus::Withdrawn, t("Withdraw")),
    ]
    .into_iter()
    .filter(|(to, _)| status.may_become(*to))
    .collect();
    // The verified author, and whether that is this device's member: only they see the controls.
    let (signer, me) = handle
        .with_value(|h| h.as_ref().map(|h| (h.post_signer(&post), h.my_key())))
        .unwrap_or_default();
    let mine = signer.is_some() && signer.as_deref() == Some(me.as_str());
    // Who posted it (only a verified author is named) and when.
    let posted_at = post.created_at;
    let author = signer.clone();
    let byline = move || {
        let when = super::form::when(posted_at);
        match &author {
            Some(key) => members.with(|m| {
                let name = super::form::name_of(m.as_deref().unwrap_or_default(), key);
                tr!("by {} · {}", name, when)
            }),
            None => when,
        }
    };
    view! {
        <li class=format!("post {} {}{}{}", post.kind.as_str(), status.as_str(), if expired { " expired" } else { "" }, if focused { " focused" } else { "" }) data-testid="post"
            node_ref=item data-focused=focused.to_string()
            data-title=post.title.clone() data-status=status.as_str() data-expired=expired.to_string()>
            <div class="post-head">
                <span class="badge">{kind_label}</span>
                <h3>{post.title.clone()}</h3>
                <span class="category">{crate::i18n::lookup_dyn(super::lang(), &post.category)}</span>
                <span class="post-status" data-testid="post-status">{status_label}</span>
                {(post.urgency == Urgency::High).then(|| view! { <span class="urgent" data-testid="urgent">{t("urgent")}</span> })}
                {match post.expires_at {
                    Some(_) if expired => Some(view! { <span class="expired-note" data-testid="expiry">{t("expired")}</span> }.into_any()),
                    Some(at) => Some(view! { <span class="muted" data-testid="expiry">{tr!("until {}", super::form::when(at))}</span> }.into_any()),
                    None => None,
                }}
                {signer.is_none().then(|| view! {
                    <span class="unverified" data-testid="unverified"
                        title=t("This post carries no valid signature: it was written by an older version, or altered after it was signed.")>
                        {t("unverified")}
                    </span>
                })}
                {(signer.is_some() && !post.signed_text).then(|| view! {
                    <span class="unverified" data-testid="text-unsigned"
                        title=t("Posted with an older version of Tequio: its text is not signed, so anyone with the link could have changed it. Its author's next edit signs it.")>
                        {t("text not signed")}
                    </span>
                })}
            </div>
            <p class="muted" data-testid="post-byline">{byline}</p>
            <p class="description" data-testid="post-description">{post.description.clone()}</p>
            {(!post.tags.is_empty()).then(|| view! {
                <p class="tags" data-testid="tags">{post.tags.iter().map(|tag| view! { <span class="tag">{format!("#{tag}")}</span>" " }).collect_view()}</p>
            })}
            {move || editing.get().then(|| {
                view! {
                <form class="edit" on:submit=save>
                    <TextField label=t("Title") field="title" value=title errors maxlength=120 testid="edit-title"/>
                    <TextArea label=t("Description") field="description" value=description errors testid="edit-description"/>
                    <SelectField label=t("Category") field="category" value=category errors options=categories()/>
                    <TextField label=t("Tags, separated by commas") field="tags" value=tags errors testid="edit-tags"/>
                    <SelectField label=t("Urgency") field="urgency" value=urgency errors options=urgencies() testid="edit-urgency"/>
                    <TextField label=t("Until (optional; after it the post shows as expired)") field="expires_at" value=expires errors kind="date" testid="edit-expires"/>
                    <button type="submit" data-testid="save-post">{t("Save")}</button>
                    <button type="button" on:click=move |_| editing.set(false)>{t("Cancel")}</button>
                </form>
            }})}
            {error_for(errors, "")}
            {mine.then(|| view! {
                <div class="actions">
                    {(!status.is_final()).then(|| view! {
                        <button data-testid="edit-post" on:click=move |_| editing.set(true) disabled=move || !writable.get()>{t("Edit")}</button>
                    })}
                    {transitions.into_iter().map(|(to, label)| view! {
                        <button on:click=move |_| set_status(to) disabled=move || !writable.get()>{label}</button>
                    }).collect_view()}
                </div>
            })}
            <Responses post=post.id.clone() handle view/>
        </li>
    }
}

/// Whose side of a suggested match this device's member is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mine {
    Need,
    Offer,
    Neither,
}

/// A suggested match as the board shows it: (id, title) of the need and the offer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Suggestion {
    need: (String, String),
    offer: (String, String),
    mine: Mine,
}
