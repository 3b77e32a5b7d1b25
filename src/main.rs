#[cfg(target_arch = "wasm32")]
fn main() {
    tequio::ui::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("Tequio runs in the browser: build it with `trunk build` (see README.md).");
}
