//! Markdown for pages, rendered to HTML that is safe to insert. The output contains only the tags
//! this module writes; every character of the input is escaped, so markup, scripts and event
//! handlers written into a page show as text. Links keep only http(s), mailto and scheme-less
//! targets, and never one of the app's own routes (`#/join/…`): those show as text.
//!
//! Hostile input costs time proportional to its length. Nesting is bounded; block structure
//! looks at each line a bounded number of times per level; and before a block's inline text is
//! rendered, one pass each way over it records where every closing delimiter is, where each
//! link target ends and which `<` open an autolink, so rendering never scans ahead for them
//! (each look-up is amortised constant time) and reads each character a bounded number of times.
//!
//! Supported: headings (`#`), paragraphs, hard breaks (two trailing spaces or `\`), emphasis,
//! strong, code spans, fenced code, block quotes, bulleted and numbered lists, rules, links
//! (`[text](url)`, `<url>`, bare `http(s)://`), images shown as links.

use std::cell::Cell;
use std::collections::BTreeMap;

const MAX_DEPTH: usize = 8;
const MAX_URL: usize = 2048;

/// Renders a page body to sanitised HTML.
pub fn to_html(md: &str) -> String {
    let lines: Vec<&str> = md.lines().collect();
    let mut out = String::with_capacity(md.len() + md.len() / 4);
    blocks(&lines, 0, false, &mut out);
    out
}

fn escape_into(s: impl IntoIterator<Item = char>, out: &mut String) {
    for c in s {
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

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

fn fence(line: &str) -> Option<&'static str> {
    ["```", "~~~"].into_iter().find(|f| line.starts_with(f))
}

fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.chars().take_while(|&c| c == '#').count();
    let rest = &line[level..];
    ((1..=6).contains(&level) && (rest.is_empty() || rest.starts_with([' ', '\t'])))
        .then(|| (level, rest.trim().trim_end_matches('#').trim_end()))
}

fn is_rule(line: &str) -> bool {
    let t: String = line.chars().filter(|c| !c.is_whitespace()).collect();
    t.len() >= 3 && ['-', '*', '_'].iter().any(|&m| t.chars().all(|c| c == m))
}

/// A list item's marker: (ordered, start number, width of marker and its space).
fn list_marker(line: &str) -> Option<(bool, u32, usize)> {
    let t = line.trim_start_matches([' ', '\t']);
    if let Some(rest) = t.strip_prefix(['-', '*', '+']) {
        return (rest.is_empty() || rest.starts_with([' ', '\t'])).then_some((false, 1, 2));
    }
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    let rest = &t[digits..];
    if (1..=9).contains(&digits)
        && rest.starts_with(['.', ')'])
        && (rest.len() == 1 || rest[1..].starts_with([' ', '\t']))
    {
        return Some((true, t[..digits].parse().ok()?, digits + 2));
    }
    None
}

fn starts_block(line: &str) -> bool {
    let t = line.trim_start();
    fence(t).is_some()
        || heading(t).is_some()
        || t.starts_with('>')
        || is_rule(t)
        || list_marker(line).is_some()
}

/// Renders block structure. In a tight list item paragraphs are written without `<p>`.
fn blocks(lines: &[&str], depth: usize, tight: bool, out: &mut String) {
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim_start();
        if t.is_empty() {
            i += 1;
        } else if let Some(f) = fence(t) {
            let end = (i + 1..lines.len())
                .find(|&j| lines[j].trim_start().starts_with(f))
                .unwrap_or(lines.len());
            out.push_str("<pre><code>");
            for l in &lines[i + 1..end] {
                escape_into(l.chars(), out);
                out.push('\n');
            }
            out.push_str("</code></pre>\n");
            i = end + 1;
        } else if let Some((level, text)) = heading(t) {
            out.push_str(&format!("<h{level}>"));
            inline(text, depth, out);
            out.push_str(&format!("</h{level}>\n"));
            i += 1;
        } else if is_rule(t) {
            out.push_str("<hr>\n");
            i += 1;
        } else if t.starts_with('>') {
            let end = (i..lines.len())
                .find(|&j| !lines[j].trim_start().starts_with('>'))
                .unwrap_or(lines.len());
            let inner: Vec<&str> = lines[i..end]
                .iter()
                .map(|l| {
                    let rest = &l.trim_start()[1..];
                    rest.strip_prefix(' ').unwrap_or(rest)
                })
                .collect();
            out.push_str("<blockquote>\n");
            if depth < MAX_DEPTH {
                blocks(&inner, depth + 1, false, out);
            } else {
                paragraph(&inner, depth, false, out);
            }
            out.push_str("</blockquote>\n");
            i = end;
        } else if let Some((ordered, start, _)) = list_marker(line) {
            i = list(lines, i, ordered, start, depth, out);
        } else {
            let end = (i + 1..lines.len())
                .find(|&j| lines[j].trim().is_empty() || starts_block(lines[j]))
                .unwrap_or(lines.len());
            paragraph(&lines[i..end], depth, tight, out);
            i = end;
        }
    }
}

fn paragraph(lines: &[&str], depth: usize, tight: bool, out: &mut String) {
    let mut text = String::new();
    for (n, l) in lines.iter().enumerate() {
        let hard = l.ends_with("  ") || l.ends_with('\\');
        text.push_str(l.trim().trim_end_matches('\\'));
        if n + 1 < lines.len() {
            // U+E000 (private use) marks a hard break for the inline pass.
            text.push(if hard { '\u{e000}' } else { '\n' });
        }
    }
    if !tight {
        out.push_str("<p>");
    }
    inline(&text, depth, out);
    if !tight {
        out.push_str("</p>\n");
    }
}

/// Renders the list starting at `lines[first]`; returns the index after it.
fn list(
    lines: &[&str],
    first: usize,
    ordered: bool,
    start: u32,
    depth: usize,
    out: &mut String,
) -> usize {
    let base = indent(lines[first]);
    let same_list =
        |l: &str| indent(l) <= base + 1 && list_marker(l).is_some_and(|(o, _, _)| o == ordered);
    let mut items: Vec<Vec<&str>> = Vec::new();
    let mut loose = false;
    let mut i = first;
    while i < lines.len() && same_list(lines[i]) {
        let (_, _, width) = list_marker(lines[i]).unwrap_or((false, 1, 2));
        let content = lines[i].trim_start_matches([' ', '\t']);
        let mut item = vec![content.get(width..).unwrap_or("").trim_start()];
        i += 1;
        while i < lines.len() {
            let l = lines[i];
            if l.trim().is_empty() {
                let next = lines.get(i + 1).copied().unwrap_or("");
                if !next.trim().is_empty() && (indent(next) > base + 1 || same_list(next)) {
                    loose = true;
                    item.push("");
                    i += 1;
                    continue;
                }
                break;
            }
            if same_list(l) {
                break;
            }
            if indent(l) > base + 1 {
                item.push(&l[(base + width).min(indent(l))..]);
            } else if !starts_block(l) {
                item.push(l.trim_start());
            } else {
                break;
            }
            i += 1;
        }
        while item.last() == Some(&"") {
            item.pop();
        }
        items.push(item);
    }
    let tag = if ordered { "ol" } else { "ul" };
    if ordered && start != 1 {
        out.push_str(&format!("<ol start=\"{start}\">\n"));
    } else {
        out.push_str(&format!("<{tag}>\n"));
    }
    for item in items {
        out.push_str("<li>");
        if depth < MAX_DEPTH {
            blocks(&item, depth + 1, !loose, out);
        } else {
            paragraph(&item, depth, true, out);
        }
        out.push_str("</li>\n");
    }
    out.push_str(&format!("</{tag}>\n"));
    i
}

#[cfg(test)]
thread_local! {
    static EXAMINED: Cell<usize> = const { Cell::new(0) };
}

/// Counts characters examined besides the one being written (by the passes over a block and by
/// look-ahead), for the tests that check that rendering costs time proportional to the input;
/// a no-op outside tests.
fn examined(n: usize) {
    #[cfg(test)]
    EXAMINED.with(|e| e.set(e.get() + n));
    #[cfg(not(test))]
    let _ = n;
}

/// Where one kind of delimiter (a closer, an autolink's `<`) is, in order. The renderer asks at
/// positions that only grow (it never goes back over text it has passed), so a cursor answers
/// each question in amortised constant time; a question about an earlier position would be
/// answered by binary search.
#[derive(Default)]
struct Positions {
    at: Vec<usize>,
    cursor: Cell<usize>,
}

impl Positions {
    /// The index in `at` of the first position at or after `from`, if it is before `end`.
    fn next_index(&self, from: usize, end: usize) -> Option<usize> {
        let mut k = self.cursor.get();
        if k > 0 && self.at[k - 1] >= from {
            k = self.at.partition_point(|&p| p < from);
            examined(self.at.len().ilog2() as usize + 1);
        }
        while self.at.get(k).is_some_and(|&p| p < from) {
            k += 1;
            examined(1);
        }
        self.cursor.set(k);
        examined(1);
        self.at.get(k).is_some_and(|&p| p < end).then_some(k)
    }

    /// The first position at or after `from`, if it is before `end`.
    fn next_at(&self, from: usize, end: usize) -> Option<usize> {
        self.next_index(from, end).map(|k| self.at[k])
    }
}

/// What the inline renderer looks up, found once per block in one pass each way, so that
/// rendering never scans ahead: where closing delimiters are, where each link target ends, and
/// which `<` open an autolink.
struct Closers {
    star2: Positions,
    star1: Positions,
    under2: Positions,
    under1: Positions,
    /// Every `](`.
    link: Positions,
    /// For each `](` in `link`: the first `)` or whitespace after it (or the end of the text).
    link_target_end: Vec<usize>,
    /// Backtick runs by length: starts.
    ticks: BTreeMap<usize, Positions>,
    /// Each `<` that opens an autolink: between it and the next `>` no whitespace or control
    /// character, and a target with a colon that [`safe_url`] accepts (at any length: the
    /// renderer checks the bounds).
    autolinks: Positions,
    /// For each `<` in `autolinks`: its `>`.
    autolink_end: Vec<usize>,
}

impl Closers {
    fn find(c: &[char]) -> Self {
        let at = |i: usize| c.get(i).copied();
        let word = |i: usize| at(i).is_some_and(char::is_alphanumeric);
        let space_before = |i: usize| i == 0 || c[i - 1].is_whitespace();
        let mut s = Closers {
            star2: Positions::default(),
            star1: Positions::default(),
            under2: Positions::default(),
            under1: Positions::default(),
            link: Positions::default(),
            link_target_end: vec![],
            ticks: Default::default(),
            autolinks: Positions::default(),
            autolink_end: vec![],
        };
        examined(c.len());
        let mut i = 0;
        while i < c.len() {
            match c[i] {
                '`' => {
                    let n = c[i..].iter().take_while(|&&x| x == '`').count();
                    s.ticks.entry(n).or_default().at.push(i);
                    i += n;
                    continue;
                }
                m @ ('*' | '_') if !space_before(i) => {
                    let double = at(i + 1) == Some(m);
                    let single = !double && (i == 0 || c[i - 1] != m);
                    let (two, one) = if m == '*' {
                        (&mut s.star2.at, &mut s.star1.at)
                    } else {
                        (&mut s.under2.at, &mut s.under1.at)
                    };
                    if double && (m == '*' || !word(i + 2)) {
                        two.push(i);
                    } else if single && (m == '*' || !word(i + 1)) {
                        one.push(i);
                    }
                }
                ']' if at(i + 1) == Some('(') => s.link.at.push(i),
                _ => {}
            }
            i += 1;
        }
        s.targets(c);
        s
    }

    /// From the end back: where link targets end, and which `<` open an autolink.
    fn targets(&mut self, c: &[char]) {
        examined(c.len());
        let n = c.len();
        // The first position at or after `p` of: an autolink's end (`>`, or whitespace or a
        // control character, which end it unlinked), a link target's end (`)` or whitespace),
        // `:`, the start of a path, query or fragment, `#`, and the end of that `#`'s run.
        let (mut stop, mut paren, mut colon, mut path, mut hash, mut hash_run_end) =
            (n, n, n, n, n, n);
        let mut ends = Vec::with_capacity(self.link.at.len());
        for p in (0..=n).rev() {
            if let Some(&x) = c.get(p) {
                if x == '>' || x.is_whitespace() || x.is_control() {
                    stop = p;
                }
                if x == ')' || x.is_whitespace() {
                    paren = p;
                }
                match x {
                    ':' => colon = p,
                    '/' | '?' => path = p,
                    '#' => {
                        (path, hash) = (p, p);
                        if c.get(p + 1) != Some(&'#') {
                            hash_run_end = p + 1;
                        }
                    }
                    _ => {}
                }
            }
            if p >= 2 && c[p - 2] == ']' && c[p - 1] == '(' {
                ends.push(paren);
            }
            // The target `c[p..stop]`, as `safe_url` and the autolink rule judge it: not
            // empty, with a colon, then an allowed scheme before any path, or no scheme; and
            // no app route in its fragment.
            if p >= 1 && c[p - 1] == '<' && c.get(stop) == Some(&'>') && p < stop && colon < stop {
                let scheme = &c[p..colon];
                let allowed = colon > path
                    || ["http", "https", "mailto"].iter().any(|s| {
                        s.len() == scheme.len()
                            && s.chars()
                                .zip(scheme)
                                .all(|(a, b)| a == b.to_ascii_lowercase())
                    });
                let route = hash < stop && c[hash_run_end] == '/';
                if allowed && !route {
                    self.autolinks.at.push(p - 1);
                    self.autolink_end.push(stop);
                }
            }
        }
        ends.reverse();
        debug_assert_eq!(ends.len(), self.link.at.len());
        self.link_target_end = ends;
        self.autolinks.at.reverse();
        self.autolink_end.reverse();
    }

    /// The `>` of the autolink the `<` at `i` opens, if it does.
    fn autolink(&self, i: usize) -> Option<usize> {
        self.autolinks
            .next_index(i, i + 1)
            .map(|k| self.autolink_end[k])
    }
}

fn inline(text: &str, depth: usize, out: &mut String) {
    let c: Vec<char> = text.chars().collect();
    let closers = Closers::find(&c);
    span(&c, &closers, 0, c.len(), depth, out);
}

/// Whether a link target is one of this app's routes (`#/join/…`, `#/room/…`): its fragment,
/// after any further `#`, starts with `/`. The app reads its route from the fragment, so such a
/// link, relative or absolute, would make a reader act on a page writer's behalf (join a room,
/// enter a pairing code) with one click; it is shown as text.
fn app_route(url: &str) -> bool {
    url.split_once('#')
        .is_some_and(|(_, fragment)| fragment.trim_start_matches('#').starts_with('/'))
}

/// The target of a link, if it is safe to follow: http(s), mailto, or no scheme at all, and not
/// an app route.
fn safe_url(url: &str) -> Option<&str> {
    let url = url.trim();
    if url.is_empty() || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
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
    escape_into(href.chars(), out);
    out.push_str("\" rel=\"noopener noreferrer nofollow\"");
    if !href.starts_with('#') {
        out.push_str(" target=\"_blank\"");
    }
    out.push('>');
}

/// Renders `c[from..end]` as inline content.
fn span(c: &[char], cl: &Closers, from: usize, end: usize, depth: usize, out: &mut String) {
    let mut i = from;
    let mut plain = from;
    let flush = |plain: usize, i: usize, out: &mut String| {
        for &ch in &c[plain..i] {
            match ch {
                '\u{e000}' => out.push_str("<br>\n"),
                ch => escape_into([ch], out),
            }
        }
    };
    let nested = depth < MAX_DEPTH;
    while i < end {
        let ch = c[i];
        let at = |k: usize| if k < end { Some(c[k]) } else { None };
        match ch {
            '\\' if at(i + 1).is_some_and(|n| n.is_ascii_punctuation()) => {
                flush(plain, i, out);
                plain = i + 1;
                i += 2;
            }
            '`' => {
                let n = c[i..end].iter().take_while(|&&x| x == '`').count();
                examined(n);
                let close = cl
                    .ticks
                    .get(&n)
                    .and_then(|v| v.next_at(i + n, end))
                    .filter(|&k| k + n <= end);
                match close {
                    Some(k) => {
                        flush(plain, i, out);
                        out.push_str("<code>");
                        let inner: String = c[i + n..k].iter().collect();
                        examined(k - i - n);
                        escape_into(inner.replace('\u{e000}', " ").trim().chars(), out);
                        out.push_str("</code>");
                        i = k + n;
                        plain = i;
                    }
                    None => i += n,
                }
            }
            m @ ('*' | '_') if nested => {
                let double = at(i + 1) == Some(m);
                let opens_word = |k: usize| at(k).is_some_and(|x| !x.is_whitespace());
                let intraword = m == '_' && i > 0 && c[i - 1].is_alphanumeric();
                let (two, one) = if m == '*' {
                    (&cl.star2, &cl.star1)
                } else {
                    (&cl.under2, &cl.under1)
                };
                let found = if intraword {
                    None
                } else if double && opens_word(i + 2) {
                    two.next_at(i + 3, end)
                        .filter(|&k| k + 2 <= end)
                        .map(|k| (k, 2, "strong"))
                } else if !double && opens_word(i + 1) {
                    one.next_at(i + 2, end).map(|k| (k, 1, "em"))
                } else {
                    None
                };
                match found {
                    Some((k, n, tag)) => {
                        flush(plain, i, out);
                        out.push_str(&format!("<{tag}>"));
                        span(c, cl, i + n, k, depth + 1, out);
                        out.push_str(&format!("</{tag}>"));
                        i = k + n;
                        plain = i;
                    }
                    None => i += if double { 2 } else { 1 },
                }
            }
            '[' | '!' if nested => {
                let image = ch == '!';
                let open = if image { i + 1 } else { i };
                if image && at(open) != Some('[') {
                    i += 1;
                    continue;
                }
                let Some(k) = cl.link.next_index(open + 1, end) else {
                    i = open + 1;
                    continue;
                };
                let (close, url_end) = (cl.link.at[k], cl.link_target_end[k]);
                if !(url_end < end.min(close + 2 + MAX_URL) && c[url_end] == ')') {
                    i = open + 1;
                    continue;
                }
                flush(plain, i, out);
                let url: String = c[close + 2..url_end].iter().collect();
                examined(url_end - close - 2);
                let href = safe_url(&url);
                if let Some(href) = href {
                    link_open(href, out);
                }
                if image {
                    out.push_str("Image: ");
                }
                span(c, cl, open + 1, close, depth + 1, out);
                if href.is_some() {
                    out.push_str("</a>");
                }
                i = url_end + 1;
                plain = i;
            }
            '<' => {
                let close = cl.autolink(i).filter(|&k| k < end.min(i + 1 + MAX_URL));
                let url: String = close
                    .map(|k| c[i + 1..k].iter().collect())
                    .unwrap_or_default();
                examined(url.chars().count());
                // `autolinks` holds only targets `safe_url` accepts; it still decides.
                match close.zip(safe_url(&url)).filter(|_| url.contains(':')) {
                    Some((k, href)) => {
                        flush(plain, i, out);
                        link_open(href, out);
                        escape_into(href.chars(), out);
                        out.push_str("</a>");
                        i = k + 1;
                        plain = i;
                    }
                    None => i += 1,
                }
            }
            'h' if (i == from || !c[i - 1].is_alphanumeric()) && bare_url_at(c, i, end) => {
                let mut k = i;
                while k < end && !c[k].is_whitespace() && c[k] != '<' && k - i < MAX_URL {
                    k += 1;
                }
                examined(k - i);
                while k > i && matches!(c[k - 1], '.' | ',' | ';' | ':' | '!' | '?' | ')') {
                    k -= 1;
                    examined(1);
                }
                let url: String = c[i..k].iter().collect();
                if app_route(&url) {
                    // Left as text.
                    i = k;
                    continue;
                }
                flush(plain, i, out);
                link_open(&url, out);
                escape_into(url.chars(), out);
                out.push_str("</a>");
                i = k;
                plain = i;
            }
            _ => i += 1,
        }
    }
    flush(plain, end, out);
}

fn bare_url_at(c: &[char], i: usize, end: usize) -> bool {
    ["https://", "http://"].iter().any(|p| {
        let n = p.chars().count();
        i + n < end && c[i..i + n].iter().copied().eq(p.chars())
    })
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
            // Every attribute is one this renderer wrote: no quote from the input closes one.
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

    /// The autolinks found in one pass are exactly those the rule (`>` before whitespace,
    /// a colon, a target `safe_url` accepts) gives, for every string over a small alphabet.
    #[test]
    fn autolinks_found_ahead_are_the_ones_the_rule_accepts() {
        let alphabet = [':', '/', '#', '?', 'a', '<', '>', ' ', '\u{1}', 'é'];
        let prefixes = [
            "", "<", "<http", "<HTTPS", "<mailto", "<ftp", "<httpx", "<#", "<a#",
        ];
        let mut checked = 0;
        for prefix in prefixes {
            let len = if prefix.is_empty() { 6 } else { 4 };
            let mut digits = vec![0; len];
            loop {
                let s: String = prefix
                    .chars()
                    .chain(digits.iter().map(|&d| alphabet[d]))
                    .collect();
                let c: Vec<char> = s.chars().collect();
                let found = Closers::find(&c);
                for i in (0..c.len()).filter(|&i| c[i] == '<') {
                    let close = (i + 1..c.len())
                        .find(|&k| c[k] == '>' || c[k].is_whitespace())
                        .filter(|&k| c[k] == '>');
                    let rule = close.filter(|&k| {
                        let url: String = c[i + 1..k].iter().collect();
                        safe_url(&url).is_some() && url.contains(':')
                    });
                    assert_eq!(found.autolink(i), rule, "{s:?} at {i}");
                    checked += 1;
                }
                // Next string.
                let Some(d) = digits.iter().rposition(|&d| d + 1 < alphabet.len()) else {
                    break;
                };
                digits[d] += 1;
                digits[d + 1..].fill(0);
            }
        }
        assert!(checked > 500_000, "{checked}");
    }

    /// Work counted as characters examined (by the passes before rendering and by every
    /// look-ahead while rendering), not time: for hostile shapes it stays a small multiple of
    /// the input's length.
    #[test]
    fn hostile_inline_text_is_rendered_in_linear_work() {
        let examined = |md: &str| {
            EXAMINED.with(|e| e.set(0));
            let html = to_html(md);
            assert!(html.starts_with('<'), "{}", &html[..50.min(html.len())]);
            EXAMINED.with(|e| e.get())
        };
        let shapes: Vec<(&str, String)> = vec![
            ("<", "<".repeat(100_000)),
            ("[ then ](", "[".repeat(100_000) + "](" + &"x".repeat(3000)),
            ("[a](", "[a](".repeat(30_000)),
            ("*", "*".repeat(100_000)),
            ("`", "`".repeat(50_000)),
            (
                "nested [",
                ("[".repeat(20) + "x" + &"](u)".repeat(20) + " ").repeat(2_000),
            ),
            ("[[ ](", "[".repeat(50_000) + &"](".repeat(50_000)),
            ("<a>", ("<".repeat(2_000) + "a>").repeat(40)),
            ("< route", ("<".repeat(2_000) + "#/x:y>").repeat(40)),
            ("< scheme", ("<".repeat(2_000) + "javascript:x>").repeat(40)),
            ("![", "![".repeat(50_000) + "](" + &"x".repeat(3000)),
            ("_a", "_a".repeat(50_000)),
            ("**a ", "**a ".repeat(25_000)),
            ("`` `", "`` `".repeat(25_000)),
            ("\\``", "\\``".repeat(30_000)),
            (
                "http://",
                ("http://".to_owned() + &")".repeat(2_000) + " ").repeat(40),
            ),
            ("*[*](", "*[*](".repeat(20_000)),
            // A line of `*` is a rule and one of backticks a fence: these reach inline text.
            ("a*", "a".to_owned() + &"*".repeat(100_000)),
            ("a`", "a".to_owned() + &"`".repeat(50_000)),
            ("a _", "a ".to_owned() + &"_".repeat(100_000)),
        ];
        for (name, md) in &shapes {
            let n = md.chars().count();
            let steps = examined(md);
            assert!(steps <= 20 * n, "{name}: {steps} steps for {n} characters");
        }
    }
}
