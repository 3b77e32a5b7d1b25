//! The service worker's catch-up with no page open (see `tequio::background`), built by Trunk as
//! a worker module (`catchup.js`, `catchup_bg.wasm`) that `public/sw.js` imports.

/// Catches up every room on this device from its relays; the reminders to show, as JSON.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(js_name = catchUp)]
pub async fn catch_up(config_json: String) -> Result<String, wasm_bindgen::JsValue> {
    tequio::background::catch_up(&config_json)
        .await
        .map_err(|e| wasm_bindgen::JsValue::from_str(&e))
}

fn main() {}
