//! Pairing by hand, for two devices with no signaling server or relay in reach (a LAN with no
//! internet): one device makes a connection offer as a code (to copy and send, or to scan as a
//! QR code with the other device's camera, which opens the app at `#/room/<id>/pair/<code>`);
//! the other uses it and gives back its answer the same way; the first uses the answer.

use super::form::{app_base, Qr};
use super::runtime::RoomHandle;
use super::t;
use crate::net::Paired;
use leptos::prelude::*;

#[component]
pub fn Pairing(
    handle: StoredValue<Option<RoomHandle>, LocalStorage>,
    room_id: String,
    /// A code that arrived in the address (scanned from the other device's screen).
    incoming: RwSignal<Option<String>>,
) -> impl IntoView {
    let mine = RwSignal::new(None::<String>);
    let making = RwSignal::new(false);
    let pasted = RwSignal::new(String::new());
    let status = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let copied = RwSignal::new(false);
    let show = move |code: String| {
        making.set(false);
        mine.set(Some(code));
    };
    let make = move |_| {
        let Some(h) = handle.get_value() else { return };
        error.set(None);
        status.set(None);
        copied.set(false);
        making.set(true);
        mine.set(None);
        h.pair(show);
    };
    let use_code = move |code: String| {
        let Some(h) = handle.get_value() else { return };
        error.set(None);
        copied.set(false);
        match h.use_code(&code, show) {
            Ok(step) => {
                let text = match step {
                    Paired::Answering => {
                        making.set(true);
                        t("Making the answer code: give it back to the other device.")
                    }
                    Paired::Connecting => t("Connecting…"),
                    Paired::PassedOn => {
                        t("Passed to this room's other tab, which made the offer. You can close this one.")
                    }
                    Paired::Already => t("That device is connected already."),
                };
                status.set(Some(text.to_owned()));
                pasted.set(String::new());
            }
            Err(e) => error.set(Some(crate::i18n::lookup_dyn(super::lang(), &e.to_string()))),
        }
    };
    Effect::new(move |_| {
        // A code that came in a link (a QR scanned, or a link anywhere) is not used until the
        // person says so: a link on a page or another site must not act by itself.
        if let Some(code) = incoming.get() {
            incoming.set(None);
            pasted.set(code);
            error.set(None);
            status.set(Some(t("A pairing code came with the link you opened. Use it only if it comes from your other device: press “Use this code”.").to_string()));
        }
    });
    let room_id = StoredValue::new(room_id);
    let url = move |code: &str| format!("{}#/room/{}/pair/{code}", app_base(), room_id.get_value());
    view! {
        <details class="pairing" data-testid="pairing" open=move || mine.get().is_some() || status.get().is_some() || error.get().is_some()>
            <summary>{t("No internet? Connect a device by hand")}</summary>
            <p class="hint">{t("Make a code here and give it to the other device: send it any way you like, or let it scan the QR code. That device, with this room open, uses the code and gives you back its answer code; use that here.")}</p>
            <button type="button" data-testid="pair-make" on:click=make>{t("Make a pairing code")}</button>
            {move || making.get().then(|| view! { <p class="hint" role="status">{t("Finding this device's network addresses…")}</p> })}
            {move || mine.get().map(|code| {
                let link = url(&code);
                let copy_text = code.clone();
                view! {
                    <label for="pair-code">{t("This device's code")}</label>
                    <textarea id="pair-code" data-testid="pair-code" readonly rows="4" prop:value=code></textarea>
                    <button type="button" on:click=move |_| {
                        if let Some(w) = web_sys::window() {
                            let _ = w.navigator().clipboard().write_text(&copy_text);
                            copied.set(true);
                        }
                    }>{move || if copied.get() { t("Copied") } else { t("Copy code") }}</button>
                    <Qr text=link label="QR code of this device's pairing code" testid="pair-qr" dense=true/>
                }
            })}
            <form on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); use_code(pasted.get_untracked()); }>
                <label for="pair-paste">{t("Code from the other device")}</label>
                <textarea id="pair-paste" data-testid="pair-paste" rows="3" prop:value=move || pasted.get()
                    on:input=move |ev| pasted.set(event_target_value(&ev))></textarea>
                <button type="submit" data-testid="pair-use">{t("Use this code")}</button>
            </form>
            {move || status.get().map(|s| view! { <p class="ok" role="status" data-testid="pair-status">{s}</p> })}
            {move || error.get().map(|e| view! { <p class="field-error" role="alert" data-testid="pair-error">{e}</p> })}
        </details>
    }
}
