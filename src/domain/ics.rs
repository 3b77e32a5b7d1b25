//! Calendar files (iCalendar, RFC 5545): one event with an alarm, so that a phone's own calendar
//! reminds of a booking, a loan falling due, a work party or a decision closing — no server
//! needs to be awake for it. Pure: the time the file is made (`DTSTAMP`) is passed in.

use super::exports::iso_time;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// The last instant a calendar date can hold (9999-12-31T23:59:59Z): years are four digits.
const LAST_MS: i64 = 253_402_300_799_000;
/// Content lines are folded to at most this many octets, line break excluded (RFC 5545 3.1).
const LINE_OCTETS: usize = 75;

/// When an event happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// From `start` (to `end`, if it lasts), written in UTC.
    At { start: i64, end: Option<i64> },
    /// Whole days, from the day of `first` up to (not including) the day of `end`: a calendar
    /// shows them on those dates wherever its owner is, not shifted by their time zone.
    Days { first: i64, end: i64 },
}

impl Span {
    /// An interval as whole days when it starts and ends at midnight UTC (bookings are made
    /// of days), otherwise as the instants it is.
    pub fn between(start: i64, end: i64) -> Span {
        let midnight = |t: i64| t.rem_euclid(DAY_MS) == 0;
        if midnight(start) && midnight(end) && end > start {
            Span::Days { first: start, end }
        } else {
            Span::At {
                start,
                end: (end > start).then_some(end),
            }
        }
    }

    fn start(self) -> i64 {
        match self {
            Span::At { start, .. } => start,
            Span::Days { first, .. } => first,
        }
    }

    fn end(self) -> Option<i64> {
        match self {
            Span::At { end, .. } => end,
            Span::Days { end, .. } => Some(end),
        }
    }
}

/// One event for a calendar, in the words of the person's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The same for every file made of one thing, so adding it twice updates, not doubles, it
    /// (see [`uid`]).
    pub uid: String,
    pub summary: String,
    pub description: String,
    pub location: String,
    pub span: Span,
    /// Repeats every this many days (0: once)…
    pub every_days: i64,
    /// …this many times in all (0: without end).
    pub times: u32,
    /// How long before the start the calendar reminds, in minutes.
    pub alarm_minutes: u32,
}

/// A stable calendar id for the thing `id` of a kind ("booking", "loan", "party", "decision").
pub fn uid(kind: &str, id: &str) -> String {
    format!("{kind}-{id}@tequio")
}

/// The calendar file holding `event`, made at `stamp_ms`; `None` if one of its times cannot be
/// written as a calendar date (before 1970 or after 9999: the dates come from the room, which
/// anyone in it may have written).
pub fn calendar(event: &Event, stamp_ms: i64) -> Option<String> {
    let writable = |t: i64| (0..=LAST_MS).contains(&t);
    let span = event.span;
    if !(writable(stamp_ms) && writable(span.start()) && span.end().is_none_or(writable)) {
        return None;
    }
    let (start, end) = match span {
        Span::At { start, end } => (
            format!("DTSTART:{}", date_time(start)),
            end.map(|e| format!("DTEND:{}", date_time(e))),
        ),
        Span::Days { first, end } => (
            format!("DTSTART;VALUE=DATE:{}", date(first)),
            Some(format!("DTEND;VALUE=DATE:{}", date(end))),
        ),
    };
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//Tequio//Reminders//EN".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}", text(&event.uid)),
        format!("DTSTAMP:{}", date_time(stamp_ms)),
        start,
    ];
    lines.extend(end);
    if event.every_days > 0 {
        let count = match event.times {
            0 => String::new(),
            n => format!(";COUNT={n}"),
        };
        let every = event.every_days;
        lines.push(format!("RRULE:FREQ=DAILY;INTERVAL={every}{count}"));
    }
    lines.push(format!("SUMMARY:{}", text(&event.summary)));
    for (name, value) in [
        ("DESCRIPTION", &event.description),
        ("LOCATION", &event.location),
    ] {
        if !value.trim().is_empty() {
            lines.push(format!("{name}:{}", text(value)));
        }
    }
    lines.extend([
        "BEGIN:VALARM".to_owned(),
        "ACTION:DISPLAY".to_owned(),
        format!("DESCRIPTION:{}", text(&event.summary)),
        format!("TRIGGER:{}", before(event.alarm_minutes)),
        "END:VALARM".to_owned(),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ]);
    Some(lines.iter().map(|l| fold(l)).collect())
}

/// `YYYYMMDDTHHMMSSZ`.
fn date_time(ms: i64) -> String {
    iso_time(ms).replace(['-', ':'], "")
}

/// `YYYYMMDD`, the day in UTC.
fn date(ms: i64) -> String {
    date_time(ms)[..8].to_owned()
}

/// A duration before the start, as a trigger: `-P1D`, `-PT2H`, `-PT15M`.
fn before(minutes: u32) -> String {
    match minutes {
        m if m > 0 && m % (24 * 60) == 0 => format!("-P{}D", m / (24 * 60)),
        m if m > 0 && m % 60 == 0 => format!("-PT{}H", m / 60),
        m => format!("-PT{m}M"),
    }
}

/// A TEXT value: backslash, semicolon and comma escaped, any line break written `\n`, and other
/// control characters (which TEXT may not hold) left out.
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                // CRLF is one line break.
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// A content line folded at 75 octets (never inside a character), each piece ended by CRLF and
/// each continuation begun with a space.
fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 32 + 2);
    let mut room = LINE_OCTETS;
    let mut used = 0;
    for c in line.chars() {
        if used + c.len_utf8() > room {
            out.push_str("\r\n ");
            // The space counts toward the continuation line's octets.
            room = LINE_OCTETS - 1;
            used = 0;
        }
        out.push(c);
        used += c.len_utf8();
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2031-05-17T18:30:00Z.
    const PARTY: i64 = 1_936_809_000_000;

    fn event(summary: &str, span: Span) -> Event {
        Event {
            uid: uid("party", "0123.abcdefghijkl"),
            summary: summary.to_owned(),
            description: String::new(),
            location: String::new(),
            span,
            every_days: 0,
            times: 0,
            alarm_minutes: 24 * 60,
        }
    }

    /// The file read back as a calendar would: lines unfolded, then (name with parameters,
    /// value unescaped).
    fn parse(file: &str) -> Vec<(String, String)> {
        let unfolded = file.replace("\r\n ", "").replace("\r\n\t", "");
        unfolded
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (name, value) = l.split_once(':').expect("a name and a value");
                (name.to_owned(), unescape(value))
            })
            .collect()
    }

    fn unescape(value: &str) -> String {
        let mut out = String::new();
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(other) => out.push(other),
                None => panic!("a lone backslash ends {value:?}"),
            }
        }
        out
    }

    fn value<'a>(props: &'a [(String, String)], name: &str) -> Vec<&'a str> {
        props
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn an_event_has_its_times_in_utc_and_an_alarm_before_it() {
        let mut e = event(
            "Work party: garden",
            Span::At {
                start: PARTY,
                end: None,
            },
        );
        e.location = "Plot 4".into();
        let stamp = PARTY - 30 * DAY_MS;
        let file = calendar(&e, stamp).unwrap();
        assert!(file.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(file.ends_with("END:VEVENT\r\nEND:VCALENDAR\r\n"));
        let props = parse(&file);
        assert_eq!(value(&props, "DTSTART"), ["20310517T183000Z"]);
        assert_eq!(value(&props, "DTSTAMP"), ["20310417T183000Z"]);
        assert!(value(&props, "DTEND").is_empty());
        assert_eq!(value(&props, "UID"), ["party-0123.abcdefghijkl@tequio"]);
        assert_eq!(value(&props, "LOCATION"), ["Plot 4"]);
        assert!(value(&props, "DESCRIPTION").contains(&"Work party: garden"));
        let begins = value(&props, "BEGIN");
        assert_eq!(begins, ["VCALENDAR", "VEVENT", "VALARM"]);
        assert_eq!(value(&props, "ACTION"), ["DISPLAY"]);
        assert_eq!(value(&props, "TRIGGER"), ["-P1D"]);
        // The same thing made again later is the same event to a calendar.
        let again = parse(&calendar(&e, stamp + 1_000).unwrap());
        assert_eq!(value(&again, "UID"), value(&props, "UID"));
    }

    #[test]
    fn bookings_of_whole_days_are_dates_and_others_are_times() {
        let day = PARTY - PARTY.rem_euclid(DAY_MS);
        assert_eq!(
            Span::between(day, day + 2 * DAY_MS),
            Span::Days {
                first: day,
                end: day + 2 * DAY_MS
            }
        );
        let props =
            parse(&calendar(&event("Drill", Span::between(day, day + 2 * DAY_MS)), day).unwrap());
        assert_eq!(value(&props, "DTSTART;VALUE=DATE"), ["20310517"]);
        // The end day is not included: booked the 17th and the 18th.
        assert_eq!(value(&props, "DTEND;VALUE=DATE"), ["20310519"]);
        let props = parse(
            &calendar(
                &event("Drill", Span::between(PARTY, PARTY + 3_600_000)),
                day,
            )
            .unwrap(),
        );
        assert_eq!(value(&props, "DTSTART"), ["20310517T183000Z"]);
        assert_eq!(value(&props, "DTEND"), ["20310517T193000Z"]);
        assert_eq!(
            Span::between(PARTY, PARTY),
            Span::At {
                start: PARTY,
                end: None
            }
        );
    }

    #[test]
    fn hostile_text_is_escaped_and_reads_back_as_written() {
        let hostile = "Ana; DROP,\r\nEND:VEVENT\nBEGIN:VALARM\\n \u{7}bell\ttab";
        let mut e = event(
            hostile,
            Span::At {
                start: PARTY,
                end: None,
            },
        );
        e.description = "line one\rline two, and; more".into();
        e.location = "\\".into();
        let file = calendar(&e, PARTY).unwrap();
        let props = parse(&file);
        // No line of the file was injected: one event, one alarm, in order.
        assert_eq!(value(&props, "BEGIN"), ["VCALENDAR", "VEVENT", "VALARM"]);
        assert_eq!(value(&props, "END"), ["VALARM", "VEVENT", "VCALENDAR"]);
        // Read back: line breaks are one `\n` each, the bell (a control character) is gone.
        let expected = "Ana; DROP,\nEND:VEVENT\nBEGIN:VALARM\\n bell\ttab";
        assert_eq!(value(&props, "SUMMARY"), [expected]);
        assert_eq!(
            value(&props, "DESCRIPTION"),
            ["line one\nline two, and; more", expected]
        );
        assert_eq!(value(&props, "LOCATION"), ["\\"]);
        assert!(file.contains("SUMMARY:Ana\\; DROP\\,\\nEND:VEVENT\\nBEGIN:VALARM\\\\n bell\ttab"));
    }

    #[test]
    fn long_lines_fold_at_75_octets_never_inside_a_character() {
        // Two-, three- and four-octet characters in a long name.
        let name = "Taller de reparación ñandú 修理 🛠️ ".repeat(12);
        let mut e = event(
            &name,
            Span::At {
                start: PARTY,
                end: None,
            },
        );
        e.description = "x".repeat(500);
        let file = calendar(&e, PARTY).unwrap();
        assert!(!file.replace("\r\n", "").contains('\n'), "a bare line feed");
        assert!(
            !file.replace("\r\n", "").contains('\r'),
            "a bare carriage return"
        );
        let lines: Vec<&str> = file.split_terminator("\r\n").collect();
        assert!(lines.iter().all(|l| l.len() <= 75), "{lines:?}");
        assert!(lines.iter().filter(|l| l.starts_with(' ')).count() > 10);
        // Full lines are used: folding waits for the 75th octet.
        assert!(lines.iter().any(|l| l.len() == 75));
        assert_eq!(value(&parse(&file), "SUMMARY"), [name.as_str()]);
        assert_eq!(fold("short"), "short\r\n");
        let exact = "a".repeat(75);
        assert_eq!(fold(&exact), format!("{exact}\r\n"));
        assert_eq!(fold(&"a".repeat(76)), format!("{exact}\r\n a\r\n"));
    }

    #[test]
    fn repeats_and_alarm_durations_are_written_as_the_standard_says() {
        let mut e = event(
            "Garden",
            Span::At {
                start: PARTY,
                end: None,
            },
        );
        e.every_days = 7;
        e.alarm_minutes = 60;
        let props = parse(&calendar(&e, PARTY).unwrap());
        assert_eq!(value(&props, "RRULE"), ["FREQ=DAILY;INTERVAL=7"]);
        assert_eq!(value(&props, "TRIGGER"), ["-PT1H"]);
        e.times = 5;
        let props = parse(&calendar(&e, PARTY).unwrap());
        assert_eq!(value(&props, "RRULE"), ["FREQ=DAILY;INTERVAL=7;COUNT=5"]);
        assert_eq!(before(90), "-PT90M");
        assert_eq!(before(2 * 24 * 60), "-P2D");
    }

    #[test]
    fn dates_a_calendar_cannot_hold_make_no_file() {
        let far = event(
            "Far",
            Span::At {
                start: i64::MAX,
                end: None,
            },
        );
        assert_eq!(calendar(&far, PARTY), None);
        let before_1970 = event(
            "Old",
            Span::At {
                start: -1,
                end: None,
            },
        );
        assert_eq!(calendar(&before_1970, PARTY), None);
        let long = event(
            "Long",
            Span::At {
                start: PARTY,
                end: Some(LAST_MS + 1),
            },
        );
        assert_eq!(calendar(&long, PARTY), None);
        let last = event(
            "Last",
            Span::At {
                start: LAST_MS,
                end: None,
            },
        );
        let props = parse(&calendar(&last, PARTY).unwrap());
        assert_eq!(value(&props, "DTSTART"), ["99991231T235959Z"]);
    }
}
