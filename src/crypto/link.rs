//! The room link: `<app url>#/join/<base64url secret>`. Parsing never panics; every way a pasted
//! link can be wrong has its own message.

use super::RoomSecret;

/// Why a join link was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinLinkError {
    #[error("this is not a room link: it has no \"#/join/\" part")]
    NoJoinPart,
    #[error("the room link ends before its secret: it was probably cut off")]
    Empty,
    #[error("the room secret in this link contains characters a link never has")]
    NotBase64,
    #[error("the room secret in this link has {0} bytes instead of 32: it was probably cut off or changed")]
    WrongLength(usize),
}

/// Extracts the room secret from a full link, a bare fragment (`#/join/…`, `/join/…`) or the
/// secret alone.
pub fn parse_join_link(input: &str) -> Result<RoomSecret, JoinLinkError> {
    let input = input.trim();
    let secret = match input.find("/join/") {
        Some(at) => &input[at + "/join/".len()..],
        None if input.contains('#') || input.contains('/') => {
            return Err(JoinLinkError::NoJoinPart)
        }
        None => input,
    };
    // Tolerate a trailing slash or query that some chat apps append.
    let secret = secret.split(['/', '?', '&']).next().unwrap_or("");
    if secret.is_empty() {
        return Err(JoinLinkError::Empty);
    }
    RoomSecret::from_base64url(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_full_links_fragments_and_bare_secrets() {
        let s = RoomSecret::generate();
        let b64 = s.to_base64url();
        for text in [
            format!("https://example.test/#/join/{b64}"),
            format!("http://127.0.0.1:8080/tequio/#/join/{b64}"),
            format!("#/join/{b64}"),
            format!("  /join/{b64}/ "),
            b64.clone(),
        ] {
            assert_eq!(parse_join_link(&text).as_ref(), Ok(&s), "{text}");
        }
    }

    #[test]
    fn refuses_malformed_and_truncated_links_with_a_reason() {
        let b64 = RoomSecret::generate().to_base64url();
        let cases = [
            ("https://example.test/#/rooms", JoinLinkError::NoJoinPart),
            ("https://example.test/#/join/", JoinLinkError::Empty),
            ("", JoinLinkError::Empty),
            ("#/join/not*base64!", JoinLinkError::NotBase64),
        ];
        for (text, want) in cases {
            assert_eq!(parse_join_link(text), Err(want), "{text}");
        }
        let truncated = format!("#/join/{}", &b64[..30]);
        assert!(matches!(
            parse_join_link(&truncated),
            Err(JoinLinkError::WrongLength(22)) | Err(JoinLinkError::NotBase64)
        ));
        let long = format!("#/join/{b64}AAAA");
        assert_eq!(parse_join_link(&long), Err(JoinLinkError::WrongLength(35)));
    }
}
