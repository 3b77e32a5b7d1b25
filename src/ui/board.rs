//! Needs and offers: the post form, the list (paged) and each post's edit and status controls.

use super::form::{error_for, field_error};
use super::runtime::{RoomHandle, RoomView};
use super::t;
use crate::domain::{DomainError, NewPost, Post, PostEdit, PostKind, PostStatus, CATEGORIES};
use leptos::prelude::*;

const PAGE: usize = 50;

/// A change to one post, run against the open room.
type PostCommand = Box<dyn FnOnce(&RoomHandle) -> Result<(), DomainError>>;

fn category_options(selected: String) -> impl IntoView {
    CATEGORIES
        .iter()
        .map(|c| view! { <option value=*c selected=selected == *c>{*c}</option> })
        .collect_view()
}

#[component]
pub fn Board(
    handle: StoredValue<Option<RoomHandle>, LocalStorage>,
    view: RwSignal<RoomView>,
) -> impl IntoView {
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
    // Filters: kind, status, and words found in the title, category or tags.
    let filter_kind = RwSignal::new(String::new());
    let filter_status = RwSignal::new(String::new());
    let filter_text = RwSignal::new(String::new());
    let filtered = Memo::new(move |_| {
        let (kind, status) = (filter_kind.get(), filter_status.get());
        let words = filter_text.get().to_lowercase();
        view.with(|v| {
            v.posts
                .iter()
                .filter(|p| kind.is_empty() || p.kind.as_str() == kind)
                .filter(|p| status.is_empty() || p.status.as_str() == status)
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
        filtered
            .get()
            .into_iter()
            .take(limit.get())
            .collect::<Vec<_>>()
    };
    // Matching suggestions pair every open need with every open offer: computed only on request.
    let suggesting = RwSignal::new(false);
    let suggestions = super::form::derived(handle, view, move |room, _| {
        if !suggesting.get_untracked() {
            return Vec::new();
        }
        let posts = room.posts();
        let title = |id: &str| {
            posts
                .iter()
                .find(|p| p.id == id)
                .map(|p| p.title.clone())
                .unwrap_or_default()
        };
        room.matches(super::now_ms())
            .into_iter()
            .take(10)
            .map(|m| (title(&m.need), title(&m.offer), m.score))
            .collect::<Vec<_>>()
    });

    view! {
        {move || (!writable.get()).then(|| view! {
            <p class="card error" role="alert">{t("This room was changed by a newer version of Tequio. Update the app to make changes here; you can still read it.")}</p>
        })}
        <section class="card">
            <h2>{t("Post a need or an offer")}</h2>
            <form on:submit=submit class="post-form">
                <fieldset class="kind">
                    <legend>{t("Kind")}</legend>
                    <label><input type="radio" name="kind" value="need" prop:checked=move || kind.get() == "need" on:change=move |_| kind.set("need".into())/>{t(" Need")}</label>
                    <label><input type="radio" name="kind" value="offer" prop:checked=move || kind.get() == "offer" on:change=move |_| kind.set("offer".into())/>{t(" Offer")}</label>
                </fieldset>
                <label for="post-title">{t("Title")}</label>
                <input id="post-title" maxlength="120" prop:value=move || title.get() on:input=move |ev| title.set(event_target_value(&ev))/>
                {error_for(errors, "title")}
                <label for="post-description">{t("Description")}</label>
                <textarea id="post-description" rows="3" prop:value=move || description.get() on:input=move |ev| description.set(event_target_value(&ev))></textarea>
                {error_for(errors, "description")}
                <label for="post-category">{t("Category")}</label>
                <select id="post-category" on:change=move |ev| category.set(event_target_value(&ev))>
                    {category_options(CATEGORIES[0].to_string())}
                </select>
                {error_for(errors, "category")}
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
                        list.into_iter().map(|(need, offer, score)| view! {
                            <li data-testid="match" data-need=need.clone() data-offer=offer.clone()>
                                {tr!("Need “{}” ↔ offer “{}” (score {})", need, offer, score)}
                            </li>
                        }).collect_view().into_any()
                    }}
                </ul>
            })}
            {move || (total.get() == 0).then(|| view! { <p>{t("Nothing posted yet.")}</p> })}
            <ul class="posts">
                <For each=shown key=|p: &Post| (p.id.clone(), p.updated_at, p.status, p.description.clone(), p.title.clone()) let:post>
                    <PostItem post handle writable/>
                </For>
            </ul>
            {move || (filtered.with(Vec::len) > limit.get()).then(|| view! {
                <button on:click=move |_| limit.update(|l| *l += PAGE)>{move || tr!("Show more ({} more)", filtered.with(Vec::len).saturating_sub(limit.get()))}</button>
            })}
        </section>
    }
}

#[component]
fn PostItem(
    post: Post,
    handle: StoredValue<Option<RoomHandle>, LocalStorage>,
    writable: Memo<bool>,
) -> impl IntoView {
    let editing = RwSignal::new(false);
    let errors = RwSignal::new(None::<(String, String)>);
    let title = RwSignal::new(post.title.clone());
    let description = RwSignal::new(post.description.clone());
    let category = RwSignal::new(post.category.clone());
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
        let edit = PostEdit {
            title: Some(title.get_untracked()),
            description: Some(description.get_untracked()),
            category: Some(category.get_untracked()),
        };
        let id = id.get_value();
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
        PostKind::Need => "Need",
        PostKind::Offer => "Offer",
    };
    let transitions: Vec<(PostStatus, &'static str)> = [
        (PostStatus::Open, "Reopen"),
        (PostStatus::Matched, "Mark matched"),
        (PostStatus::Fulfilled, "Mark fulfilled"),
        (PostStatus::Withdrawn, "Withdraw"),
    ]
    .into_iter()
    .filter(|(to, _)| status.may_become(*to))
    .collect();
    let original_category = post.category.clone();
    view! {
        <li class=format!("post {} {}", post.kind.as_str(), status.as_str()) data-testid="post"
            data-title=post.title.clone() data-status=status.as_str()>
            <div class="post-head">
                <span class="badge">{kind_label}</span>
                <h3>{post.title.clone()}</h3>
                <span class="category">{post.category.clone()}</span>
                <span class="post-status" data-testid="post-status">{status.as_str()}</span>
                {handle.with_value(|h| h.as_ref().map(|h| h.post_signer(&post))).flatten().is_none().then(|| view! {
                    <span class="unverified" data-testid="unverified"
                        title="This post carries no valid signature: it was written by an older version, or altered after it was signed.">
                        {t("unverified")}
                    </span>
                })}
            </div>
            <p class="description" data-testid="post-description">{post.description.clone()}</p>
            {move || editing.get().then(|| {
                let original_category = original_category.clone();
                view! {
                <form class="edit" on:submit=save>
                    <label>{t("Title")}<input data-testid="edit-title" prop:value=move || title.get() on:input=move |ev| title.set(event_target_value(&ev))/></label>
                    {error_for(errors, "title")}
                    <label>{t("Description")}<textarea data-testid="edit-description" rows="3" prop:value=move || description.get() on:input=move |ev| description.set(event_target_value(&ev))></textarea></label>
                    {error_for(errors, "description")}
                    <label>{t("Category")}<select on:change=move |ev| category.set(event_target_value(&ev))>{category_options(original_category)}</select></label>
                    <button type="submit">{t("Save")}</button>
                    <button type="button" on:click=move |_| editing.set(false)>{t("Cancel")}</button>
                </form>
            }})}
            {error_for(errors, "")}
            <div class="actions">
                {(!status.is_final()).then(|| view! {
                    <button on:click=move |_| editing.set(true) disabled=move || !writable.get()>{t("Edit")}</button>
                })}
                {transitions.into_iter().map(|(to, label)| view! {
                    <button on:click=move |_| set_status(to) disabled=move || !writable.get()>{label}</button>
                }).collect_view()}
            </div>
        </li>
    }
}
