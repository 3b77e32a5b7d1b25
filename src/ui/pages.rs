//! Pages: the room's written knowledge. Markdown with a live preview; an edit is merged with
//! whatever other devices changed while it was being written. Rendered pages are sanitised by
//! `crate::markdown` (only its own tags; input is always text).

use super::form::{derived, error_for, name_of, run, when, Handle, TextField};
use super::runtime::RoomView;
use super::t;
use crate::markdown::to_html;
use leptos::prelude::*;

/// A rendered page body.
#[component]
pub fn Rendered(#[prop(into)] markdown: Signal<String>, testid: &'static str) -> impl IntoView {
    view! { <div class="page-body" data-testid=testid inner_html=move || to_html(&markdown.get())></div> }
}

#[component]
fn Editor(
    draft: RwSignal<String>,
    #[prop(into)] label: String,
    errors: RwSignal<Option<(String, String)>>,
) -> impl IntoView {
    view! {
        <div class="editor">
            <div>
                <label for="page-text">{label}</label>
                <textarea id="page-text" data-testid="page-text" rows="12" maxlength="100000"
                    prop:value=move || draft.get() on:input=move |ev| draft.set(event_target_value(&ev))></textarea>
                {error_for(errors, "body")}
                <p class="muted">{t("Markdown: # heading, *emphasis*, **strong**, - lists, [link](https://…), > quote.")}</p>
            </div>
            <div>
                <p class="preview-label" id="preview-label">{t("Preview")}</p>
                <div aria-labelledby="preview-label" class="preview">
                    <Rendered markdown=draft testid="page-preview"/>
                </div>
            </div>
        </div>
    }
}

#[component]
pub fn PagesSection(
    handle: Handle,
    view: RwSignal<RoomView>,
    /// A page named by the route (`pages/<id>`, as search links): opened at once.
    #[prop(optional)]
    focus: String,
    /// The room's id, for a page's link.
    #[prop(optional, into)]
    room_id: String,
) -> impl IntoView {
    let page_link = StoredValue::new(format!(
        "{}#/room/{room_id}/pages/",
        super::form::app_base()
    ));
    let copied = RwSignal::new(false);
    let data = derived(handle, view, |room, me| {
        let admitted = room.admitted();
        (
            room.pages(),
            room.members(),
            admitted.contains(&me.public()),
        )
    });
    let open = RwSignal::new((!focus.is_empty()).then_some(focus));
    let errors = RwSignal::new(None::<(String, String)>);
    let title = RwSignal::new(String::new());
    let draft = RwSignal::new(String::new());
    let creating = RwSignal::new(false);
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (t, body) = (title.get_untracked(), draft.get_untracked());
        if let Some(id) = run(handle, errors, |room, me, now| {
            room.create_page(me, &t, &body, now)
        }) {
            title.set(String::new());
            draft.set(String::new());
            creating.set(false);
            open.set(Some(id));
        }
    };
    // Editing an existing page: the text and room version it started from.
    let editing = RwSignal::new(None::<(String, Vec<automerge::ChangeHash>)>);
    let edit_errors = RwSignal::new(None::<(String, String)>);
    let start_edit = move |id: String| {
        let start = handle.with_value(|h| {
            h.as_ref()
                .and_then(|h| h.read(|room, _| room.page(&id).map(|p| (p.body, room.heads()))))
        });
        if let Some((body, heads)) = start {
            draft.set(body.clone());
            editing.set(Some((body, heads)));
            edit_errors.set(None);
        }
    };
    let save = move |id: String| {
        let Some((_, since)) = editing.get_untracked() else {
            return;
        };
        let body = draft.get_untracked();
        if run(handle, edit_errors, |room, me, now| {
            room.edit_page(me, &id, &since, &body, now)
        })
        .is_some()
        {
            editing.set(None);
        }
    };

    let list = move || {
        let (mut pages, members, _) = data.get().unwrap_or_default();
        pages.sort_by_key(|p| std::cmp::Reverse(p.history.last().map(|h| h.1)));
        if pages.is_empty() {
            return view! { <p>{t("No pages yet. Write down how you do things: rules of thumb, contacts, recipes.")}</p> }.into_any();
        }
        view! {
            <ul class="pages" data-testid="page-list">
                {pages.into_iter().map(|p| {
                    let id = p.id.clone();
                    let (who, at) = p.history.last().cloned().unwrap_or_default();
                    view! {
                        <li data-testid="page-item" data-title=p.title.clone()>
                            <button class="link" on:click=move |_| { editing.set(None); open.set(Some(id.clone())) }>{p.title.clone()}</button>
                            <span class="muted">{format!(" · {} · {}", name_of(&members, &who), when(at))}</span>
                        </li>
                    }
                }).collect_view()}
            </ul>
        }.into_any()
    };

    let page_view = move |id: String| {
        let (pages, members, member) = data.get().unwrap_or_default();
        let Some(p) = pages.into_iter().find(|p| p.id == id) else {
            return view! { <p>{t("This page is not here (yet).")}</p> }.into_any();
        };
        let body = p.body.clone();
        let edits = p.history.len().saturating_sub(1);
        let (last_by, last_at) = p.history.last().cloned().unwrap_or_default();
        let history = tr!(
            "Written by {} · {} · last change by {}, {}",
            name_of(&members, &p.author),
            match edits {
                0 => t("never edited").to_string(),
                1 => t("edited once").to_string(),
                n => tr!("edited {} times", n),
            },
            name_of(&members, &last_by),
            when(last_at),
        );
        let id_edit = id.clone();
        let id_save = id.clone();
        view! {
            <article class="card" data-testid="page" data-title=p.title.clone()>
                <p><button class="link" on:click=move |_| { editing.set(None); open.set(None) }>{t("← All pages")}</button></p>
                <h2>{p.title.clone()}</h2>
                <p class="muted" data-testid="page-history">{history}</p>
                {
                    let link = format!("{}{id}", page_link.get_value());
                    let field = super::form::unique_id("page-link");
                    let to_copy = link.clone();
                    view! {
                        <details class="page-link">
                            <summary>{t("Link to this page")}</summary>
                            <label for=field.clone()>{t("Members of this room open the page with it:")}</label>
                            <input id=field readonly data-testid="page-link" prop:value=link/>
                            <button type="button" on:click=move |_| {
                                if let Some(w) = web_sys::window() {
                                    let _ = w.navigator().clipboard().write_text(&to_copy);
                                    copied.set(true);
                                }
                            }>{move || if copied.get() { t("Copied") } else { t("Copy link") }}</button>
                        </details>
                    }
                }
                {(!p.signed).then(|| view! {
                    <p class="muted" data-testid="page-unsigned">{t("Written with an older version of Tequio: this text is not signed, so anyone with the link could have changed it. The next edit signs it.")}</p>
                })}
                {move || match editing.get() {
                    None => {
                        let id = id_edit.clone();
                        let body = body.clone();
                        view! {
                            <Rendered markdown=Signal::stored(body) testid="page-rendered"/>
                            {member.then(|| view! { <button data-testid="edit-page" on:click=move |_| start_edit(id.clone())>{t("Edit")}</button> })}
                        }.into_any()
                    }
                    Some((started, _)) => {
                        let id = id_save.clone();
                        let changed_meanwhile = started != body;
                        view! {
                            {changed_meanwhile.then(|| view! {
                                <p class="notice" role="status" data-testid="changed-meanwhile">{t("Someone changed this page while you were editing. Saving keeps their changes and yours.")}</p>
                            })}
                            <Editor draft label="Page text" errors=edit_errors/>
                            {error_for(edit_errors, "page")}
                            {error_for(edit_errors, "")}
                            <button data-testid="save-page" on:click=move |_| save(id.clone())>{t("Save")}</button>
                            <button on:click=move |_| editing.set(None)>{t("Cancel")}</button>
                        }.into_any()
                    }
                }}
            </article>
        }.into_any()
    };

    view! {
        {move || match open.get() {
            Some(id) => page_view(id),
            None => view! {
                <section class="card">
                    <h2>{t("Pages")}</h2>
                    {list}
                    {move || data.get().is_some_and(|d| d.2).then(|| view! {
                        <button data-testid="new-page" aria-expanded=move || creating.get().to_string()
                            on:click=move |_| { draft.set(String::new()); creating.update(|c| *c = !*c) }>{t("New page")}</button>
                    })}
                </section>
                {move || creating.get().then(|| view! {
                    <section class="card">
                        <h2>{t("New page")}</h2>
                        <form on:submit=create data-testid="create-page">
                            <TextField label=t("Title") field="title" value=title errors maxlength=160 testid="page-title"/>
                            <Editor draft label="Text" errors/>
                            {error_for(errors, "")}
                            <button type="submit" data-testid="create">{t("Create the page")}</button>
                        </form>
                    </section>
                })}
            }.into_any(),
        }}
    }
}
