//! QR codes for links (joining a room, opening a shared thing), drawn as SVG. The SVG holds no
//! text from the link, only squares, so it is safe to insert as markup.

use qrcodegen::{QrCode, QrCodeEcc};

/// Quiet zone around the code, in modules (the standard asks for four).
const BORDER: i32 = 4;

/// The QR code of `text` (medium error correction), or `None` if it is too long to encode.
pub fn svg(text: &str) -> Option<String> {
    svg_with(text, QrCodeEcc::Medium, None)
}

/// The QR code of a long text shown on a screen to be scanned: low error correction (fewer
/// modules) and a size of whole pixels per module (`px`), which cameras read more easily.
pub fn svg_dense(text: &str, px: i32) -> Option<String> {
    svg_with(text, QrCodeEcc::Low, Some(px))
}

fn svg_with(text: &str, ecc: QrCodeEcc, px: Option<i32>) -> Option<String> {
    let qr = QrCode::encode_text(text, ecc).ok()?;
    let size = qr.size();
    let dim = size + 2 * BORDER;
    let fixed = px.map_or(String::new(), |px| {
        format!(" width=\"{0}\" height=\"{0}\"", dim * px)
    });
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + BORDER, y + BORDER));
            }
        }
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {dim} {dim}\"{fixed} \
         shape-rendering=\"crispEdges\" aria-hidden=\"true\">\
         <rect width=\"{dim}\" height=\"{dim}\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_join_link_becomes_a_code_with_its_finder_patterns() {
        let link = "https://example.org/tequio/#/join/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let svg = svg(link).unwrap();
        let qr = QrCode::encode_text(link, QrCodeEcc::Medium).unwrap();
        let dim = qr.size() + 8;
        assert!(svg.contains(&format!("viewBox=\"0 0 {dim} {dim}\"")));
        let dark = (0..qr.size())
            .flat_map(|y| (0..qr.size()).map(move |x| (x, y)))
            .filter(|&(x, y)| qr.get_module(x, y))
            .count();
        assert_eq!(svg.matches("h1v1h-1z").count(), dark);
        // The top-left finder pattern's corner module is dark; the quiet zone is not drawn.
        assert!(svg.contains("M4,4h1v1h-1z"));
        assert!(!svg.contains("M3,"));
        assert!(!svg.contains("example.org"));
    }

    #[test]
    fn text_too_long_for_a_code_gives_none() {
        assert!(svg(&"x".repeat(5_000)).is_none());
    }
}
