//! Reading an age file's header without any key: which stanzas (recipient types, SSH key tags)
//! it has and whether it is armored. Used to pick identities, detect drift and check files.
//! Also the one place that says what a stanza is (SSH, grease, its key tag, well formed), for
//! our header's stanzas and the age crate's alike.

use std::io::Read;

use base64::Engine;

use crate::error::Error;

pub mod stream;

/// Stanza tags of the recipient types we look into.
pub const SSH_ED25519: &str = "ssh-ed25519";
pub const SSH_RSA: &str = "ssh-rsa";
pub const X25519: &str = "X25519";
const SCRYPT: &str = "scrypt";

/// Whether a stanza of this tag names its SSH key (by the 4-byte tag in its first argument).
pub fn is_ssh(tag: &str) -> bool {
    tag == SSH_ED25519 || tag == SSH_RSA
}

/// Whether a stanza of this tag is grease: random stanzas age writes so that parsers stay
/// tolerant; no recipient is behind one.
pub fn is_grease(tag: &str) -> bool {
    tag.ends_with("-grease")
}

/// The 4-byte SSH key tag an SSH stanza's first argument encodes, if it does.
pub fn ssh_key_tag(arg: &str) -> Option<[u8; 4]> {
    let t = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(arg)
        .ok()?;
    <[u8; 4]>::try_from(t.as_slice()).ok()
}

/// Why an X25519 or ssh-ed25519 stanza is malformed, if it is: not the argument count age
/// writes (X25519: the share; ssh-ed25519: the key tag and the share), a share that does not
/// decode to 32 bytes, or a body that is not 32 bytes (the sealed 16-byte file key and its
/// 16-byte tag). `body_len` is the body's length in bytes. Go age refuses all of these (for
/// ssh-ed25519 before it looks at the tag); the age crate ignores extra arguments, so such a
/// stanza would skip the low-order share check (see `keys`) and still be opened. Other stanza
/// types are not ours to judge: `None`.
pub fn malformed(tag: &str, args: &[String], body_len: usize) -> Option<String> {
    let (want, share) = match tag {
        X25519 => (1, args.first()),
        SSH_ED25519 => (2, args.get(1)),
        _ => return None,
    };
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let what = if args.len() != want {
        format!(
            "{} argument{} where age writes {want}",
            args.len(),
            if args.len() == 1 { "" } else { "s" }
        )
    } else if !share.is_some_and(|s| b64.decode(s).is_ok_and(|d| d.len() == 32)) {
        "its ephemeral share is not 32 bytes of base64".to_string()
    } else if body_len != 32 {
        format!("a {body_len}-byte body where age writes 32")
    } else {
        return None;
    };
    Some(format!(
        "malformed {tag} stanza: {what}; age never writes such a stanza, so the file is forged \
         or damaged and is refused"
    ))
}

const ARMOR_BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";
const VERSION_LINE: &str = "age-encryption.org/v1";
/// Headers larger than this are refused (a real one with hundreds of recipients is far smaller).
pub const MAX_HEADER: usize = 1 << 20;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stanza {
    pub tag: String,
    pub args: Vec<String>,
    /// Length of the body in base64 characters (not bytes).
    pub body_len: usize,
}

#[derive(Clone, Debug)]
pub struct Header {
    pub armored: bool,
    pub stanzas: Vec<Stanza>,
    /// Bytes of binary payload after the header (nonce + encrypted chunks). A header read
    /// from a stream (`stream::open`) knows only the first `MIN_PAYLOAD` of them.
    pub payload_len: usize,
}

impl Stanza {
    pub fn is_ssh(&self) -> bool {
        is_ssh(&self.tag)
    }

    pub fn is_grease(&self) -> bool {
        is_grease(&self.tag)
    }

    /// The SSH key tag of an SSH stanza (None for other stanzas, or a damaged tag).
    pub fn ssh_tag(&self) -> Option<[u8; 4]> {
        if !self.is_ssh() {
            return None;
        }
        ssh_key_tag(self.args.first()?)
    }
}

/// Why a file is not a readable age file; worded for "FILE: <reason>".
fn bad(msg: impl Into<String>) -> Error {
    Error::new(msg)
}

impl Header {
    pub fn parse(data: &[u8]) -> Result<Header, Error> {
        if data.is_empty() {
            return Err(bad("empty file, not an age file"));
        }
        let trimmed_start = data
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(data.len());
        let armored = data[trimmed_start..].starts_with(ARMOR_BEGIN.as_bytes());
        if armored {
            let mut r = age::armor::ArmoredReader::new(strip_leading_whitespace(data));
            let mut bin = Vec::new();
            r.read_to_end(&mut bin)
                .map_err(|e| bad(format!("invalid ASCII armor: {e}")))?;
            Self::parse_binary(&bin, true)
        } else {
            Self::parse_binary(data, false)
        }
    }

    fn parse_binary(data: &[u8], armored: bool) -> Result<Header, Error> {
        let (stanzas, pos) = Self::parse_lines(data)?;
        let payload_len = data.len() - pos;
        // 16-byte nonce plus at least one 16-byte authenticated chunk.
        if payload_len < MIN_PAYLOAD {
            return Err(truncated());
        }
        Ok(Header {
            armored,
            stanzas,
            payload_len,
        })
    }

    /// The stanzas of a binary header at the start of `data`, and where the payload begins.
    fn parse_lines(data: &[u8]) -> Result<(Vec<Stanza>, usize), Error> {
        let mut pos = 0usize;
        let next_line = |pos: &mut usize| -> Result<&[u8], Error> {
            if *pos >= MAX_HEADER {
                return Err(bad("header larger than 1 MiB"));
            }
            let rest = &data[*pos..];
            let nl = rest
                .iter()
                .position(|b| *b == b'\n')
                .ok_or_else(|| bad("truncated header (no end of header line)"))?;
            *pos += nl + 1;
            Ok(&rest[..nl])
        };
        let first = next_line(&mut pos).map_err(|_| not_age(data))?;
        if first != VERSION_LINE.as_bytes() {
            return Err(not_age(data));
        }
        let mut stanzas = Vec::new();
        let mut line = next_line(&mut pos)?;
        loop {
            if let Some(mac) = line.strip_prefix(b"--- ") {
                let ok = base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(mac)
                    .map(|m| m.len() == 32)
                    .unwrap_or(false);
                if !ok {
                    return Err(bad("invalid header MAC line"));
                }
                break;
            }
            let rest = line
                .strip_prefix(b"-> ")
                .ok_or_else(|| bad("invalid header: expected a `-> ` stanza or `--- ` line"))?;
            let text =
                std::str::from_utf8(rest).map_err(|_| bad("invalid header: non-ASCII stanza"))?;
            let mut words = text.split(' ');
            let tag = words.next().unwrap_or_default().to_string();
            let args: Vec<String> = words.map(str::to_string).collect();
            if tag.is_empty() || args.iter().any(String::is_empty) || !text.is_ascii() {
                return Err(bad("invalid header: malformed stanza line"));
            }
            // Body: base64 lines of 64 columns, ended by a shorter (possibly empty) line.
            let mut body_len = 0usize;
            loop {
                let b = next_line(&mut pos)?;
                if b.len() > 64
                    || !b
                        .iter()
                        .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
                {
                    return Err(bad("invalid header: malformed stanza body"));
                }
                body_len += b.len();
                if b.len() < 64 {
                    break;
                }
            }
            stanzas.push(Stanza {
                tag,
                args,
                body_len,
            });
            line = next_line(&mut pos)?;
        }
        if stanzas.is_empty() {
            return Err(bad("invalid header: no recipient stanzas"));
        }
        Ok((stanzas, pos))
    }

    /// Tags of the SSH keys this file is encrypted to.
    pub fn ssh_tags(&self) -> Vec<[u8; 4]> {
        self.stanzas.iter().filter_map(Stanza::ssh_tag).collect()
    }

    /// The stanzas a recipient is behind: all but grease.
    pub fn real_stanzas(&self) -> impl Iterator<Item = &Stanza> {
        self.stanzas.iter().filter(|s| !s.is_grease())
    }

    /// Stanzas whose recipient cannot be read off the header (X25519, plugins, scrypt).
    pub fn opaque_stanzas(&self) -> impl Iterator<Item = &Stanza> {
        self.real_stanzas().filter(|s| !s.is_ssh())
    }

    /// Why a stanza of this header is a malformed X25519 or ssh-ed25519 stanza, if one is
    /// (see `malformed`): such a file is refused before any identity sees it.
    pub fn malformed_stanza(&self) -> Option<String> {
        self.stanzas.iter().find_map(|s| {
            // `body_len` counts base64 characters (unpadded): 6 bits each.
            malformed(&s.tag, &s.args, s.body_len * 6 / 8)
        })
    }

    pub fn is_scrypt(&self) -> bool {
        self.stanzas.iter().any(|s| s.tag == SCRYPT)
    }
}

/// 16-byte nonce plus at least one 16-byte authenticated chunk.
const MIN_PAYLOAD: usize = 32;

fn truncated() -> Error {
    bad("truncated file: the encrypted payload is missing or cut short")
}

/// The age spec allows whitespace before an armored file, but the age crate's armor reader
/// only recognizes armor at the first byte; callers strip it before handing the data over.
pub fn strip_leading_whitespace(data: &[u8]) -> &[u8] {
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(data.len());
    &data[start..]
}

fn not_age(data: &[u8]) -> Error {
    if data.starts_with(b"age-encryption.org/") {
        bad("unsupported age format version")
    } else {
        bad("not an age file (no `age-encryption.org/v1` header); was it committed unencrypted?")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_age() {
        assert!(Header::parse(b"").is_err());
        assert!(Header::parse(b"hello world\n").is_err());
        assert!(Header::parse(b"age-encryption.org/v1\n").is_err());
    }

    #[test]
    fn whitespace_before_armor_is_allowed() {
        let id = age::x25519::Identity::generate();
        let mut out = Vec::new();
        let w = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
            .unwrap();
        let enc = age::Encryptor::with_recipients(std::iter::once(&id.to_public() as _)).unwrap();
        let mut w2 = enc.wrap_output(w).unwrap();
        std::io::Write::write_all(&mut w2, b"x").unwrap();
        w2.finish().unwrap().finish().unwrap();
        let mut padded = b"\n\r   \t\n".to_vec();
        padded.extend_from_slice(&out);
        padded.extend_from_slice(b"\n\r  \t\n");
        let h = Header::parse(&padded).expect("leading whitespace before armor");
        assert!(h.armored);
    }

    /// Exactly age's shape passes: the argument count, a 32-byte share, a 32-byte body.
    #[test]
    fn malformed_stanzas_are_named() {
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
        let share = b64.encode([9u8; 32]);
        let tag = b64.encode([1u8; 4]);
        let x = |args: &[&str], body| malformed("X25519", &owned(args), body);
        let s = |args: &[&str], body| malformed("ssh-ed25519", &owned(args), body);
        assert_eq!(x(&[&share], 32), None);
        assert_eq!(s(&[&tag, &share], 32), None);
        // Not ours to judge.
        assert_eq!(malformed("ssh-rsa", &[], 0), None);
        assert_eq!(malformed("X25519-grease", &[], 7), None);
        for (why, want) in [
            (x(&[&share, "x"], 32), "2 arguments where age writes 1"),
            (x(&[], 32), "0 arguments"),
            (
                s(&[&tag, &share, "x"], 32),
                "3 arguments where age writes 2",
            ),
            (s(&[&tag], 32), "1 argument where"),
            (x(&[&b64.encode([9u8; 31])], 32), "share is not 32 bytes"),
            (
                s(&[&tag, &b64.encode([9u8; 33])], 32),
                "share is not 32 bytes",
            ),
            (s(&[&tag, "!!"], 32), "share is not 32 bytes"),
            (x(&[&share], 33), "33-byte body"),
            (s(&[&tag, &share], 31), "31-byte body"),
        ] {
            let why = why.unwrap_or_else(|| panic!("not refused: {want}"));
            assert!(why.contains(want) && why.contains("malformed"), "{why}");
        }
    }

    fn owned(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }
}
