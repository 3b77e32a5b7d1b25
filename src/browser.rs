//! What kind of browser the app runs in, from what it says of itself (pure, tested natively;
//! `ui` reads `navigator`). Only for advice shown to the person, never to decide what works:
//! features are tested directly (see `net::webrtc_available`).

/// A browser whose storage follows WebKit's rule on Apple devices: a site's data may be
/// deleted after 7 days of browser use without a visit, unless the site was added to the Home
/// Screen (or the Dock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppleWebKit {
    /// iPhone, iPad or iPod (every browser there is WebKit): Share → Add to Home Screen.
    Ios,
    /// Safari on a Mac: File → Add to Dock.
    MacSafari,
}

/// Which Apple WebKit browser `user_agent` and `vendor` (`navigator.vendor`) name, if any.
/// `touch_points` (`navigator.maxTouchPoints`) tells an iPad asking for desktop sites (it
/// says "Macintosh") from a Mac.
pub fn apple_webkit(user_agent: &str, vendor: &str, touch_points: i32) -> Option<AppleWebKit> {
    let ua = user_agent;
    if ["iPhone", "iPad", "iPod"].iter().any(|d| ua.contains(d)) {
        return Some(AppleWebKit::Ios);
    }
    if !ua.contains("Macintosh") || !ua.contains("Safari") {
        return None;
    }
    // Chromium and Firefox on a Mac say "Safari" too, but not "Apple" as their vendor.
    let other = ["Chrome", "Chromium", "Firefox", "Edg/", "OPR/"]
        .iter()
        .any(|b| ua.contains(b));
    if other || !vendor.contains("Apple") {
        return None;
    }
    Some(if touch_points > 1 {
        AppleWebKit::Ios
    } else {
        AppleWebKit::MacSafari
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apple_webkit_browsers_are_told_apart() {
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
        let chrome_ios = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) \
                          AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/122.0 Mobile/15E148 \
                          Safari/604.1";
        let mac_safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 \
                          (KHTML, like Gecko) Version/17.4 Safari/605.1.15";
        let mac_chrome = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 \
                          (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36";
        let linux_chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like \
                            Gecko) Chrome/122.0.0.0 Safari/537.36";
        let epiphany = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like \
                        Gecko) Version/17.0 Safari/605.1.15 Epiphany/46";
        let apple = "Apple Computer, Inc.";
        assert_eq!(apple_webkit(iphone, apple, 5), Some(AppleWebKit::Ios));
        // Every browser on an iPhone is WebKit, whatever its vendor says.
        assert_eq!(
            apple_webkit(chrome_ios, "Google Inc.", 5),
            Some(AppleWebKit::Ios)
        );
        assert_eq!(
            apple_webkit(mac_safari, apple, 0),
            Some(AppleWebKit::MacSafari)
        );
        // An iPad asking for desktop sites says "Macintosh", but has a touch screen.
        assert_eq!(apple_webkit(mac_safari, apple, 5), Some(AppleWebKit::Ios));
        assert_eq!(apple_webkit(mac_chrome, "Google Inc.", 0), None);
        assert_eq!(apple_webkit(linux_chrome, "Google Inc.", 0), None);
        assert_eq!(apple_webkit(epiphany, apple, 0), None);
    }
}
