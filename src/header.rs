//! Reading an age file's header without any key: which stanzas (recipient types, SSH key tags)
//! it has and whether it is armored. Used to pick identities, detect drift and check files.

use std::io::Read;

use base64::Engine;

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
    /// Bytes of binary payload after the header (nonce + encrypted chunks).
    pub payload_len: usize,
}

/// Why a file is not a readable age file; worded for "FILE: <reason>".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderError(pub String);

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(msg: impl Into<String>) -> HeaderError {
    HeaderError(msg.into())
}

impl Header {
    pub fn parse(data: &[u8]) -> Result<Header, HeaderError> {
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

    fn parse_binary(data: &[u8], armored: bool) -> Result<Header, HeaderError> {
        let mut pos = 0usize;
        let next_line = |pos: &mut usize| -> Result<&[u8], HeaderError> {
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
        let payload_len = data.len() - pos;
        // 16-byte nonce plus at least one 16-byte authenticated chunk.
        if payload_len < 32 {
            return Err(bad(
                "truncated file: the encrypted payload is missing or cut short",
            ));
        }
        Ok(Header {
            armored,
            stanzas,
            payload_len,
        })
    }

    /// Tags of the SSH keys this file is encrypted to.
    pub fn ssh_tags(&self) -> Vec<[u8; 4]> {
        self.stanzas
            .iter()
            .filter(|s| s.tag == "ssh-ed25519" || s.tag == "ssh-rsa")
            .filter_map(|s| s.args.first())
            .filter_map(|t| {
                base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(t)
                    .ok()
            })
            .filter(|t| t.len() == 4)
            .map(|t| [t[0], t[1], t[2], t[3]])
            .collect()
    }

    /// Stanzas whose recipient cannot be read off the header (X25519, plugins, scrypt).
    pub fn opaque_stanzas(&self) -> impl Iterator<Item = &Stanza> {
        self.stanzas
            .iter()
            .filter(|s| s.tag != "ssh-ed25519" && s.tag != "ssh-rsa" && !s.tag.ends_with("-grease"))
    }

    /// Why a stanza of this header is a malformed X25519 or ssh-ed25519 stanza, if one is
    /// (see `loworder::malformed`): such a file is refused before any identity sees it.
    pub fn malformed_stanza(&self) -> Option<String> {
        self.stanzas.iter().find_map(|s| {
            // `body_len` counts base64 characters (unpadded): 6 bits each.
            crate::loworder::malformed(&s.tag, &s.args, s.body_len * 6 / 8)
        })
    }

    pub fn is_scrypt(&self) -> bool {
        self.stanzas.iter().any(|s| s.tag == "scrypt")
    }
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

fn not_age(data: &[u8]) -> HeaderError {
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
}
