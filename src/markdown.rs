//! Markdown for pages, rendered to HTML that is safe to insert. `pulldown-cmark` parses the
//! page as CommonMark (plus `~~strikethrough~~`); this module writes the HTML itself from the
//! parser's events, so the output contains only the tags written here, and it applies the
//! page's safety rules on the way:
//!
//! - every character of the input is escaped, so markup, scripts and event handlers written into
//!   a page (raw HTML, block or inline) show as text;
//! - links keep only http(s), mailto and scheme-less targets, and never one of the app's own
//!   routes (`#/join/…`): others show their text without a link; images are shown as links;
//! - nesting is capped: block quotes and lists deeper than [`MAX_DEPTH`] are flattened into
//!   their parent, and so are emphasis and links nested deeper than that;
//! - bare `http(s)://` addresses in text are linked, with the same rules.
//!
//! Hostile input costs time roughly proportional to its length: the parser is built for it (it
//! is fuzzed for quadratic cases), and the filter looks at each event and each character of
//! text a bounded number of times.

use std::borrow::Cow;

use pulldown_cmark::{Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd};

const MAX_DEPTH: usize = 8;
const MAX_URL: usize = 2048;
/// How many bytes of a line's leading container syntax (indentation, `>`, list markers) the
/// parser sees as such: see [`cap_prefixes`].
const MAX_PREFIX: usize = 40;

/// Renders a page body to sanitised HTML.
pub fn to_html(md: &str) -> String {
    let mut page = Writer::default();
    page.out.reserve(md.len() + md.len() / 4);
    // The parser may split one run of text into several events (at entities, escapes and
    // unmatched delimiters); they are joined so that a bare address is found whole.
    let mut text = String::new();
    let md = cap_prefixes(md);
    for event in Parser::new_ext(&md, Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Text(t) => text.push_str(&t),
            event => {
                page.text(&text);
                text.clear();
                page.event(event);
            }
        }
    }
    page.text(&text);
    page.out
}

/// Cuts each line's leading container syntax at [`MAX_PREFIX`] bytes: past it, whitespace is
/// dropped and the next marker escaped, so it is text. The parser checks every line, lazy
/// continuation lines too, against every block quote and list open, so a page that opens
/// thousands in one line and then has thousands of lines would cost their product; a line's
/// prefix bounds how many can be open (each takes at least a byte of it, a list two entries),
/// so capping it keeps that cost a constant per line. Pages written by people nest far less.
fn cap_prefixes(md: &str) -> Cow<'_, str> {
    let mut out = String::new();
    // `md[copied..]` is not yet in `out`; until a line needs cutting `out` stays empty.
    let mut copied = 0;
    let mut line_start = 0;
    for line in md.split_inclusive('\n') {
        let bytes = line.as_bytes();
        // `i` is where the prefix seen so far ends; `cut` whether the next piece would pass
        // the cap.
        let (mut i, mut cut) = (0, false);
        loop {
            let piece = match bytes.get(i) {
                Some(b' ' | b'\t' | b'>') => 1,
                Some(b'-' | b'+' | b'*') if marker_end(bytes, i + 1) => 1,
                Some(b'0'..=b'9') => {
                    let digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
                    let after = i + digits;
                    if digits > 9
                        || !matches!(bytes.get(after), Some(b'.' | b')'))
                        || !marker_end(bytes, after + 1)
                    {
                        break;
                    }
                    digits + 1
                }
                _ => break,
            };
            if i + piece > MAX_PREFIX {
                cut = true;
                break;
            }
            i += piece;
        }
        if cut {
            let rest = line[i..].trim_start_matches([' ', '\t']);
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let marker = rest.starts_with(['>', '-', '+', '*'])
                || (digits > 0 && rest[digits..].starts_with(['.', ')']));
            let split = if rest.starts_with(['>', '-', '+', '*']) {
                0
            } else {
                digits
            };
            out.push_str(&md[copied..line_start + i]);
            out.push_str(&rest[..split]);
            if marker {
                out.push('\\');
            }
            out.push_str(&rest[split..]);
            copied = line_start + line.len();
        }
        line_start += line.len();
    }
    if copied == 0 {
        return Cow::Borrowed(md);
    }
    out.push_str(&md[copied..]);
    Cow::Owned(out)
}

/// Whether a list marker ending before `bytes[at]` is one: followed by whitespace or the end.
fn marker_end(bytes: &[u8], at: usize) -> bool {
    matches!(bytes.get(at), None | Some(b' ' | b'\t' | b'\n' | b'\r'))
}

/// The HTML written so far and where in the page's structure the next event falls.
#[derive(Default)]
struct Writer {
    out: String,
    /// Block quotes and lists open, written or flattened.
    containers: usize,
    /// Emphasis, strong, strikethrough, links and images open, written or flattened.
    spans: usize,
    /// Paragraphs, headings, code and HTML blocks open: where text belongs to a block.
    leaves: usize,
    /// Whether the innermost open leaf is code or raw HTML, where text is never linked.
    literal: bool,
    /// Links and images open, innermost last, with what closes them.
    links: Vec<LinkEnd>,
    /// `<a>` open: no link is written inside another.
    anchors: usize,
    /// A `<p>` this writer opened around the text of a flattened list item, so that the items
    /// of a flattened tight list do not run together.
    loose_text: bool,
}

/// How a link or image is closed: by `</a>` if it was written as one, and after the text of an
/// autolink refused as a link, the `>` it had.
struct LinkEnd {
    anchor: bool,
    suffix: &'static str,
}

impl Writer {
    fn event(&mut self, event: Event) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => self.text(&t),
            Event::Code(t) => {
                self.inline();
                self.out.push_str("<code>");
                escape_into(&t, &mut self.out);
                self.out.push_str("</code>");
            }
            // Raw HTML, and what options not enabled would give: shown as written.
            Event::Html(t)
            | Event::InlineHtml(t)
            | Event::InlineMath(t)
            | Event::DisplayMath(t) => {
                self.inline();
                escape_into(&t, &mut self.out);
            }
            Event::FootnoteReference(t) => {
                self.inline();
                self.out.push_str("[^");
                escape_into(&t, &mut self.out);
                self.out.push(']');
            }
            Event::TaskListMarker(done) => {
                self.inline();
                self.out.push_str(if done { "[x] " } else { "[ ] " });
            }
            Event::SoftBreak => self.out.push('\n'),
            Event::HardBreak => self.out.push_str("<br>\n"),
            Event::Rule => {
                self.block();
                self.out.push_str("<hr>\n");
            }
        }
    }

    fn start(&mut self, tag: Tag) {
        // A block inside a tight list item starts on a line of its own, after the item's text.
        let block = !matches!(
            tag,
            Tag::Item
                | Tag::Emphasis
                | Tag::Strong
                | Tag::Strikethrough
                | Tag::Link { .. }
                | Tag::Image { .. }
        );
        if block {
            self.block();
            if !self.out.is_empty() && !self.out.ends_with(['\n', '>']) {
                self.out.push('\n');
            }
        }
        match tag {
            Tag::Paragraph => self.leaf("<p>", false),
            Tag::Heading { level, .. } => {
                let open = format!("<h{}>", heading_number(level));
                self.leaf(&open, false);
            }
            // The info string is dropped: a class chosen by the page could take the app's styles.
            Tag::CodeBlock(_) => self.leaf("<pre><code>", true),
            Tag::HtmlBlock => self.leaf("<p>", true),
            Tag::BlockQuote(_) => {
                self.block();
                if self.containers < MAX_DEPTH {
                    self.out.push_str("<blockquote>\n");
                }
                self.containers += 1;
            }
            Tag::List(start) => {
                self.block();
                if self.containers < MAX_DEPTH {
                    match start {
                        None => self.out.push_str("<ul>\n"),
                        Some(1) => self.out.push_str("<ol>\n"),
                        Some(n) => self.out.push_str(&format!("<ol start=\"{n}\">\n")),
                    }
                }
                self.containers += 1;
            }
            Tag::Item => {
                self.block();
                if self.containers <= MAX_DEPTH {
                    self.out.push_str("<li>");
                }
            }
            Tag::Emphasis => self.span("<em>"),
            Tag::Strong => self.span("<strong>"),
            Tag::Strikethrough => self.span("<del>"),
            Tag::Link {
                link_type,
                dest_url,
                title,
                ..
            } => self.link(link_type, &dest_url, &title, false),
            Tag::Image {
                link_type,
                dest_url,
                title,
                ..
            } => self.link(link_type, &dest_url, &title, true),
            // Not enabled (tables, footnotes, definition lists, metadata, super/subscript): their
            // text, if any ever came, is written plainly.
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => self.end_leaf("</p>\n"),
            TagEnd::Heading(level) => {
                let close = format!("</h{}>\n", heading_number(level));
                self.end_leaf(&close);
            }
            TagEnd::CodeBlock => self.end_leaf("</code></pre>\n"),
            TagEnd::HtmlBlock => {
                // Its last line's newline is inside the paragraph it is shown as.
                if self.out.ends_with('\n') {
                    self.out.pop();
                }
                self.end_leaf("</p>\n");
            }
            TagEnd::BlockQuote(_) => {
                self.block();
                self.containers -= 1;
                if self.containers < MAX_DEPTH {
                    self.out.push_str("</blockquote>\n");
                }
            }
            TagEnd::List(ordered) => {
                self.block();
                self.containers -= 1;
                if self.containers < MAX_DEPTH {
                    self.out
                        .push_str(if ordered { "</ol>\n" } else { "</ul>\n" });
                }
            }
            TagEnd::Item => {
                self.block();
                if self.containers <= MAX_DEPTH {
                    self.out.push_str("</li>\n");
                }
            }
            TagEnd::Emphasis => self.end_span("</em>"),
            TagEnd::Strong => self.end_span("</strong>"),
            TagEnd::Strikethrough => self.end_span("</del>"),
            TagEnd::Link | TagEnd::Image => {
                self.spans -= 1;
                if let Some(end) = self.links.pop() {
                    self.out.push_str(end.suffix);
                    if end.anchor {
                        self.anchors -= 1;
                        self.out.push_str("</a>");
                    }
                }
            }
            _ => {}
        }
    }

    /// Before a block's tag: closes the paragraph opened around a flattened item's text.
    fn block(&mut self) {
        if self.loose_text {
            self.loose_text = false;
            self.out.push_str("</p>\n");
        }
    }

    /// Before inline content: text straight in a list item (a tight list) that was flattened
    /// into its parent gets a paragraph of its own.
    fn inline(&mut self) {
        if self.leaves == 0 && self.containers > MAX_DEPTH && !self.loose_text {
            self.loose_text = true;
            self.out.push_str("<p>");
        }
    }

    fn leaf(&mut self, open: &str, literal: bool) {
        self.block();
        self.leaves += 1;
        self.literal = literal;
        self.out.push_str(open);
    }

    fn end_leaf(&mut self, close: &str) {
        self.leaves -= 1;
        self.literal = false;
        self.out.push_str(close);
    }

    fn span(&mut self, open: &str) {
        self.inline();
        if self.spans < MAX_DEPTH {
            self.out.push_str(open);
        }
        self.spans += 1;
    }

    fn end_span(&mut self, close: &str) {
        self.spans -= 1;
        if self.spans < MAX_DEPTH {
            self.out.push_str(close);
        }
    }

    /// Opens a link or an image (shown as a link to it): as `<a>` if its target is safe, it is
    /// not nested too deep nor inside another link; otherwise only its text is shown, with the
    /// `<…>` of an autolink around it, as it was written.
    fn link(&mut self, kind: LinkType, dest: &str, title: &str, image: bool) {
        self.inline();
        let dest = match kind {
            LinkType::Email => format!("mailto:{dest}"),
            _ => dest.to_owned(),
        };
        let autolink = matches!(kind, LinkType::Autolink | LinkType::Email);
        let href = safe_url(&dest).filter(|_| self.anchors == 0 && self.spans < MAX_DEPTH);
        self.spans += 1;
        match href {
            Some(href) => {
                link_open(href, &mut self.out);
                if !title.is_empty() {
                    // Just before the `>` link_open wrote.
                    self.out.pop();
                    self.out.push_str(" title=\"");
                    escape_into(title, &mut self.out);
                    self.out.push_str("\">");
                }
                self.anchors += 1;
            }
            None if autolink => self.out.push_str("&lt;"),
            None => {}
        }
        if image {
            self.out.push_str("Image: ");
        }
        self.links.push(LinkEnd {
            anchor: href.is_some(),
            suffix: if autolink && href.is_none() {
                "&gt;"
            } else {
                ""
            },
        });
    }

    /// Writes text, linking the bare `http(s)://` addresses in it unless it is code, raw HTML
    /// or already a link's text.
    fn text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.inline();
        if self.literal || self.anchors > 0 {
            escape_into(text, &mut self.out);
            return;
        }
        let mut plain = 0;
        let mut i = 0;
        while let Some(k) = text[i..].find('h').map(|k| i + k) {
            let after_word = text[..k]
                .chars()
                .next_back()
                .is_some_and(char::is_alphanumeric);
            let Some(len) = (!after_word).then(|| bare_url_len(&text[k..])).flatten() else {
                i = k + 1;
                continue;
            };
            let url = &text[k..k + len];
            if !app_route(url) {
                escape_into(&text[plain..k], &mut self.out);
                link_open(url, &mut self.out);
                escape_into(url, &mut self.out);
                self.out.push_str("</a>");
                plain = k + len;
            }
            // Left as text if it is an app route.
            i = k + len;
        }
        escape_into(&text[plain..], &mut self.out);
    }
}

fn heading_number(level: HeadingLevel) -> usize {
    level as usize
}

/// The length in bytes of the bare address at the start of `s`, if one is: `http://` or
/// `https://` and more, up to whitespace or `<` (and at most [`MAX_URL`] characters), without
/// the punctuation that ends a sentence.
fn bare_url_len(s: &str) -> Option<usize> {
    let prefix = ["https://", "http://"]
        .into_iter()
        .find(|p| s.starts_with(p))?;
    let mut len = s
        .char_indices()
        .take(MAX_URL - 1)
        .find(|&(_, c)| c.is_whitespace() || c == '<')
        .map_or_else(
            || {
                s.char_indices()
                    .nth(MAX_URL - 1)
                    .map_or(s.len(), |(k, _)| k)
            },
            |(k, _)| k,
        );
    while s[..len].ends_with(['.', ',', ';', ':', '!', '?', ')']) {
        len -= 1;
    }
    (len > prefix.len()).then_some(len)
}

fn escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\0' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

/// Writes a link target into an attribute: characters a URL keeps as they are, the rest
/// percent-encoded (as CommonMark renders them: `\`, `[`, non-ASCII…), then escaped for HTML.
fn escape_url_into(url: &str, out: &mut String) {
    for c in url.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_ascii_alphanumeric() || "-_.~!*();:@=+$,/?#%".contains(c) => out.push(c),
            c => {
                let mut bytes = [0; 4];
                for b in c.encode_utf8(&mut bytes).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
}

/// Whether a link target is one of this app's routes (`#/join/…`, `#/room/…`): its fragment,
/// after any further `#`, starts with `/`. The app reads its route from the fragment, so such a
/// link, relative or absolute, would make a reader act on a page writer's behalf (join a room,
/// enter a pairing code) with one click; it is shown as text.
fn app_route(url: &str) -> bool {
    url.split_once('#')
        .is_some_and(|(_, fragment)| fragment.trim_start_matches('#').starts_with('/'))
}

/// The target of a link, if it is safe to follow: http(s), mailto, or no scheme at all, not an
/// app route, and shorter than [`MAX_URL`].
fn safe_url(url: &str) -> Option<&str> {
    let url = url.trim();
    if url.is_empty()
        || url.chars().nth(MAX_URL - 1).is_some()
        || url.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return None;
    }
    if app_route(url) {
        return None;
    }
    let scheme_end = url.find(':');
    let path_start = url.find(['/', '?', '#']).unwrap_or(url.len());
    match scheme_end {
        Some(k) if k < path_start => {
            let scheme = url[..k].to_ascii_lowercase();
            matches!(scheme.as_str(), "http" | "https" | "mailto").then_some(url)
        }
        _ => Some(url),
    }
}

fn link_open(href: &str, out: &mut String) {
    out.push_str("<a href=\"");
    escape_url_into(href, out);
    out.push_str("\" rel=\"noopener noreferrer nofollow\"");
    if !href.starts_with('#') {
        out.push_str(" target=\"_blank\"");
    }
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_common_blocks_and_spans() {
        let md = "# Lending\n\nBorrow *for* a **week**, see [rules](https://x.org/r).\nSecond line  \nbroken\n\n- one\n- two `a<b`\n\n3. three\n4. four\n\n> quoted\n\n---\n```\n<tag> & code\n```";
        assert_eq!(
            to_html(md),
            "<h1>Lending</h1>\n\
             <p>Borrow <em>for</em> a <strong>week</strong>, see <a href=\"https://x.org/r\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">rules</a>.\nSecond line<br>\nbroken</p>\n\
             <ul>\n<li>one</li>\n<li>two <code>a&lt;b</code></li>\n</ul>\n\
             <ol start=\"3\">\n<li>three</li>\n<li>four</li>\n</ol>\n\
             <blockquote>\n<p>quoted</p>\n</blockquote>\n\
             <hr>\n\
             <pre><code>&lt;tag&gt; &amp; code\n</code></pre>\n"
        );
    }

    #[test]
    fn nested_lists_and_loose_items() {
        assert_eq!(
            to_html("- a\n  - b\n- c\n\n  more"),
            "<ul>\n<li><p>a</p>\n<ul>\n<li>b</li>\n</ul>\n</li>\n<li><p>c</p>\n<p>more</p>\n</li>\n</ul>\n"
        );
    }

    #[test]
    fn snake_case_and_lone_stars_stay_text() {
        assert_eq!(
            to_html("snake_case_name and 2 * 3 * 4 and _real_"),
            "<p>snake_case_name and 2 * 3 * 4 and <em>real</em></p>\n"
        );
    }

    /// Every tag is one this renderer writes, and every link's attributes are the ones it
    /// writes: no quote from the input closes one.
    fn assert_only_our_markup(md: &str, html: &str) {
        for attr in html.split(" href=\"").skip(1) {
            let value = attr.split('"').next().unwrap_or("");
            assert!(
                !value.contains('<') && !value.contains('>'),
                "{md} → {html}"
            );
            let rest = &attr[value.len()..];
            assert!(
                rest.starts_with("\" rel=\"noopener noreferrer nofollow\""),
                "{md} → {html}"
            );
        }
        for tag in html.split('<').skip(1) {
            let name: String = tag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '/')
                .collect();
            let allowed = [
                "p",
                "/p",
                "br",
                "em",
                "/em",
                "strong",
                "/strong",
                "del",
                "/del",
                "code",
                "/code",
                "pre",
                "/pre",
                "a",
                "/a",
                "blockquote",
                "/blockquote",
                "ul",
                "/ul",
                "ol",
                "/ol",
                "li",
                "/li",
                "hr",
                "h1",
                "/h1",
                "h2",
                "/h2",
                "h3",
                "/h3",
                "h4",
                "/h4",
                "h5",
                "/h5",
                "h6",
                "/h6",
            ];
            assert!(
                allowed.contains(&name.as_str()),
                "unexpected <{name}: {md} → {html}"
            );
        }
    }

    #[test]
    fn markup_and_scripts_in_a_page_are_shown_as_text() {
        let corpus = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1))",
            "[click](JaVaScRiPt:alert(1))",
            "[click]( javascript:alert(1))",
            "[x](java\tscript:alert(1))",
            "[x](data:text/html;base64,PHNjcmlwdD4=)",
            "[x](vbscript:msgbox)",
            "<javascript:alert(1)>",
            "![x](javascript:alert(1))",
            "[x](\"onmouseover=alert(1))",
            "**<svg onload=alert(1)>**",
            "`<iframe src=javascript:alert(1)>`",
            "> <a href=\"javascript:alert(1)\">x</a>",
            "https://x.org/\"onmouseover=\"alert(1)",
        ];
        for md in corpus {
            let html = to_html(md);
            assert!(!html.contains("<script"), "{md} → {html}");
            assert!(!html.contains("<img"), "{md} → {html}");
            assert!(!html.contains("<svg"), "{md} → {html}");
            assert!(!html.contains("<iframe"), "{md} → {html}");
            assert!(
                !html.to_lowercase().contains("href=\"javascript"),
                "{md} → {html}"
            );
            assert!(
                !html.to_lowercase().contains("href=\"java\t"),
                "{md} → {html}"
            );
            assert!(!html.contains("href=\"data:"), "{md} → {html}");
            assert!(!html.contains("href=\"vbscript:"), "{md} → {html}");
            assert_only_our_markup(md, &html);
        }
        assert!(to_html("[a](javascript:alert(1))").contains("a"));
        assert!(to_html("<script>").contains("&lt;script&gt;"));
    }

    #[test]
    fn hostile_nesting_and_unclosed_delimiters_stay_bounded() {
        let deep = ">".repeat(50_000) + " x";
        assert!(to_html(&deep).matches("<blockquote>").count() <= 10);
        let stars = "*a ".repeat(30_000) + &"**b ".repeat(30_000) + &"[x".repeat(30_000);
        let html = to_html(&stars);
        assert!(html.starts_with("<p>*a *a"));
        let nested = "- ".repeat(10_000) + "x";
        assert!(to_html(&nested).matches("<ul>").count() <= 10);
        let emph = "*x ".repeat(20) + "y" + &" x*".repeat(20);
        let html = to_html(&emph);
        assert!(html.matches("<em>").count() <= 9, "{html}");
    }

    #[test]
    fn links_to_app_routes_show_as_text() {
        let routes = [
            "[join us](#/join/c2VjcmV0)",
            "[pair](#/room/r1/pair/123456)",
            "[x](##/join/s)",
            "[x](/#/join/s)",
            "[x](?a#/join/s)",
            "[x](https:#/join/s)",
            "[x](https://tequio.example/#/join/s)",
            "![x](#/join/s)",
            "<#/join/s:x>",
            "<https://tequio.example/#/join/s>",
            "https://tequio.example/#/join/s",
        ];
        for md in routes {
            let html = to_html(md);
            assert!(!html.contains("<a"), "{md} → {html}");
        }
        assert_eq!(to_html("[join us](#/join/c2VjcmV0)"), "<p>join us</p>\n");
        assert_eq!(to_html("[<b>](#/room/r1/pair/1)"), "<p>&lt;b&gt;</p>\n");
        assert_eq!(
            to_html("see https://x.org/#/join/s."),
            "<p>see https://x.org/#/join/s.</p>\n"
        );
        // In-page anchors and ordinary fragments stay links.
        assert_eq!(
            to_html("[usage](#usage) [x](https://x.org/a#b)"),
            "<p><a href=\"#usage\" rel=\"noopener noreferrer nofollow\">usage</a> \
             <a href=\"https://x.org/a#b\" rel=\"noopener noreferrer nofollow\" target=\"_blank\">x</a></p>\n"
        );
    }

    #[test]
    fn link_targets_end_within_the_url_bound() {
        let link = |n: usize| format!("[a](/{})", "x".repeat(n - 1));
        assert!(to_html(&link(MAX_URL - 1)).contains("<a href"));
        assert!(!to_html(&link(MAX_URL)).contains("<a href"));
        let auto = |n: usize| format!("<mailto:{}>", "x".repeat(n - 7));
        assert!(to_html(&auto(MAX_URL - 1)).contains("<a href"));
        assert!(!to_html(&auto(MAX_URL)).contains("<a href"));
    }

    /// Our HTML in the form CommonMark's examples are written in: without the attributes every
    /// link gets, `<br />` and `<hr />`, and quotes not escaped in text.
    fn as_in_the_spec(html: &str) -> String {
        html.replace(" rel=\"noopener noreferrer nofollow\"", "")
            .replace(" target=\"_blank\"", "")
            .replace("<br>", "<br />")
            .replace("<hr>", "<hr />")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
    }

    /// A sample of the CommonMark spec's examples (numbers from version 0.31.2), each where the
    /// hand-written renderer went wrong, and the shapes pages commonly take.
    #[test]
    fn commonmark_examples_render_as_the_spec_says() {
        let examples = [
            // Setext headings.
            (
                80,
                "Foo *bar*\n=========\n\nFoo *bar*\n---------\n",
                "<h1>Foo <em>bar</em></h1>\n<h2>Foo <em>bar</em></h2>\n",
            ),
            (81, "Foo *bar\nbaz*\n====\n", "<h1>Foo <em>bar\nbaz</em></h1>\n"),
            // Indented code.
            (
                107,
                "    a simple\n      indented code block\n",
                "<pre><code>a simple\n  indented code block\n</code></pre>\n",
            ),
            (
                110,
                "    <a/>\n    *hi*\n\n    - one\n",
                "<pre><code>&lt;a/&gt;\n*hi*\n\n- one\n</code></pre>\n",
            ),
            // Reference links and link titles.
            (
                192,
                "[foo]: /url \"title\"\n\n[foo]\n",
                "<p><a href=\"/url\" title=\"title\">foo</a></p>\n",
            ),
            (
                193,
                "   [foo]: \n      /url  \n           'the title'  \n\n[foo]\n",
                "<p><a href=\"/url\" title=\"the title\">foo</a></p>\n",
            ),
            (
                202,
                "[foo]: /url\\bar\\*baz \"foo\\\"bar\\baz\"\n\n[foo]\n",
                "<p><a href=\"/url%5Cbar*baz\" title=\"foo\"bar\\baz\">foo</a></p>\n",
            ),
            (
                505,
                "[link](/url \"title\")\n[link](/url 'title')\n[link](/url (title))\n",
                "<p><a href=\"/url\" title=\"title\">link</a>\n\
                 <a href=\"/url\" title=\"title\">link</a>\n\
                 <a href=\"/url\" title=\"title\">link</a></p>\n",
            ),
            (
                568,
                "[foo](not a link)\n\n[foo]: /url1\n",
                "<p><a href=\"/url1\">foo</a>(not a link)</p>\n",
            ),
            // Lazy continuation lines.
            (
                233,
                "> bar\nbaz\n> foo\n",
                "<blockquote>\n<p>bar\nbaz\nfoo</p>\n</blockquote>\n",
            ),
            (
                235,
                "> - foo\n- bar\n",
                "<blockquote>\n<ul>\n<li>foo</li>\n</ul>\n</blockquote>\n<ul>\n<li>bar</li>\n</ul>\n",
            ),
            // Emphasis rules.
            (351, "a * foo bar*\n", "<p>a * foo bar*</p>\n"),
            (352, "a*\"foo\"*\n", "<p>a*\"foo\"*</p>\n"),
            (360, "foo_bar_\n", "<p>foo_bar_</p>\n"),
            (398, "__(__foo)\n", "<p>__(__foo)</p>\n"),
            (
                481,
                "__a<https://foo.bar/?q=__>\n",
                "<p>__a<a href=\"https://foo.bar/?q=__\">https://foo.bar/?q=__</a></p>\n",
            ),
            // Breaks and rules.
            (16, "foo\\\nbar\n", "<p>foo<br />\nbar</p>\n"),
            (633, "foo  \nbaz\n", "<p>foo<br />\nbaz</p>\n"),
            (43, "***\n---\n___\n", "<hr />\n<hr />\n<hr />\n"),
            (
                606,
                "<foo\\+@bar.example.com>\n",
                "<p>&lt;foo+@bar.example.com&gt;</p>\n",
            ),
        ];
        for (n, md, expected) in examples {
            assert_eq!(
                as_in_the_spec(&to_html(md)),
                expected,
                "example {n}: {md:?}"
            );
        }
        // A bracketed word with no definition stays text and leaves the link after it whole.
        assert_eq!(
            as_in_the_spec(&to_html("[draft] [rules](https://x.org/r)")),
            "<p>[draft] <a href=\"https://x.org/r\">rules</a></p>\n"
        );
    }

    /// Where our rules make the HTML differ from CommonMark's: raw HTML is text, images are
    /// links to them, code blocks drop their language, bare addresses are linked.
    #[test]
    fn the_safety_rules_where_commonmark_differs() {
        assert_eq!(
            as_in_the_spec(&to_html("![foo](/url \"title\")")),
            "<p><a href=\"/url\" title=\"title\">Image: foo</a></p>\n"
        );
        assert_eq!(
            to_html("<div>\n*hi*\n</div>\n\nand <b>bold</b>"),
            "<p>&lt;div&gt;\n*hi*\n&lt;/div&gt;</p>\n<p>and &lt;b&gt;bold&lt;/b&gt;</p>\n"
        );
        assert_eq!(
            to_html("```rust\nfn f() {}\n```"),
            "<pre><code>fn f() {}\n</code></pre>\n"
        );
        assert_eq!(
            as_in_the_spec(&to_html(
                "see https://x.org/a_b_c, and ~~not~~ <mailto:a@b.c>"
            )),
            "<p>see <a href=\"https://x.org/a_b_c\">https://x.org/a_b_c</a>, and <del>not</del> \
             <a href=\"mailto:a@b.c\">mailto:a@b.c</a></p>\n"
        );
        assert_eq!(
            to_html("<javascript:alert(1)>"),
            "<p>&lt;javascript:alert(1)&gt;</p>\n"
        );
        // No link inside another: an image in a link's text is its text.
        assert_eq!(
            as_in_the_spec(&to_html("[![a](/i.png) https://x.org](/p)")),
            "<p><a href=\"/p\">Image: a https://x.org</a></p>\n"
        );
        assert_eq!(to_html("a\0b"), "<p>a\u{fffd}b</p>\n");
    }

    /// Items beyond the nesting cap are flattened into the deepest list written, each item's
    /// text a paragraph of its own.
    #[test]
    fn lists_beyond_the_cap_are_flattened() {
        let md: String = (0..12)
            .map(|level| format!("{}- item {level}\n", "  ".repeat(level)))
            .collect();
        let html = to_html(&md);
        assert_eq!(html.matches("<ul>").count(), MAX_DEPTH, "{html}");
        assert_eq!(html.matches("<ul>").count(), html.matches("</ul>").count());
        assert_eq!(html.matches("<li>").count(), html.matches("</li>").count());
        assert!(
            html.contains("<p>item 8</p>\n<p>item 9</p>\n<p>item 10</p>\n<p>item 11</p>\n"),
            "{html}"
        );
        let quotes = ">".repeat(12) + " deep\n\n" + &">".repeat(12) + " again";
        let html = to_html(&quotes);
        assert_eq!(
            html.matches("<blockquote>").count(),
            2 * MAX_DEPTH,
            "{html}"
        );
        assert_eq!(html.matches("</blockquote>").count(), 2 * MAX_DEPTH);
    }

    /// Only lines with more leading container syntax than [`MAX_PREFIX`] change, and past it
    /// that syntax is text.
    #[test]
    fn long_container_prefixes_are_cut() {
        let page = "# a\n\n> - 1. x\n>   - y\n\n        code\n";
        assert!(matches!(cap_prefixes(page), Cow::Borrowed(_)));
        let deep = ">".repeat(MAX_PREFIX + 5) + " x\nlazy\n";
        assert_eq!(
            cap_prefixes(&deep),
            ">".repeat(MAX_PREFIX) + "\\>>>>> x\nlazy\n"
        );
        let list = "- ".repeat(MAX_PREFIX) + "x";
        assert_eq!(
            cap_prefixes(&list),
            "- ".repeat(MAX_PREFIX / 2) + "\\- " + &"- ".repeat(MAX_PREFIX / 2 - 1) + "x"
        );
        let ordered = " ".repeat(MAX_PREFIX - 1) + "12. x\n";
        assert_eq!(
            cap_prefixes(&ordered),
            " ".repeat(MAX_PREFIX - 1) + "12\\. x\n"
        );
        let html = to_html(&(">".repeat(MAX_PREFIX + 1) + " x"));
        assert!(html.contains("&gt; x"), "{html}");
    }

    /// For every string over a small alphabet after each prefix, the output has only our tags
    /// and every link target is one [`safe_url`] accepts.
    #[test]
    fn every_link_written_is_a_safe_one() {
        let alphabet = [':', '/', '#', '(', ')', '<', '>', ']', ' ', 'j'];
        let prefixes = [
            "[a](", "<", "<http", "<mailto", "![a](", "https://", "[a]: ", "[a](<",
        ];
        let mut checked = 0;
        for prefix in prefixes {
            let mut digits = [0; 4];
            loop {
                let mut md: String = prefix
                    .chars()
                    .chain(digits.iter().map(|&d| alphabet[d]))
                    .collect();
                if prefix == "[a]: " {
                    md.push_str("\n\n[a]");
                }
                let html = to_html(&md);
                assert_only_our_markup(&md, &html);
                for attr in html.split(" href=\"").skip(1) {
                    let href = attr.split('"').next().unwrap_or("");
                    let href = href.replace("&#39;", "'").replace("&amp;", "&");
                    assert!(safe_url(&href).is_some(), "{md:?} → {html}");
                }
                checked += 1;
                let Some(d) = digits.iter().rposition(|&d| d + 1 < alphabet.len()) else {
                    break;
                };
                digits[d] += 1;
                digits[d + 1..].fill(0);
            }
        }
        assert_eq!(checked, 8 * 10_000);
    }
}
