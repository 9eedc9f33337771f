//! An age file read as a stream, in constant memory whatever its size: the header is parsed
//! from the first bytes (armored or not), and the binary age stream, header included, is
//! handed on to the age crate (`crypto::decrypt_to`) or drained (`check`).

use std::io::{self, BufRead, BufReader, Chain, Cursor, Read};

use super::{bad, not_age, truncated, Header, ARMOR_BEGIN, MAX_HEADER, MIN_PAYLOAD};
use crate::error::{describe_io, Error, ErrorKind};

/// Read buffer of a streamed file: one age STREAM chunk (64 KiB of plaintext, 16 bytes of tag).
pub const BUF: usize = 64 << 10;

/// A file's binary age stream from its first byte, after its header was parsed.
pub type AgeStream<'a> = Chain<Cursor<Vec<u8>>, Box<dyn BufRead + Send + 'a>>;

/// An age file opened for streaming. `stream` yields the binary age file from its start (the
/// header bytes read so far first, then the rest, de-armored when armored).
pub struct Opened<'a> {
    pub header: Header,
    pub stream: AgeStream<'a>,
}

impl Opened<'_> {
    /// Read the rest of the file (checking the armor on the way), returning the length of its
    /// binary payload: for callers that need every byte seen (a hash of the file) but not
    /// the plaintext.
    pub fn drain(mut self) -> Result<u64, Error> {
        let armored = self.header.armored;
        let total =
            io::copy(&mut self.stream, &mut io::sink()).map_err(|e| read_error(e, armored))?;
        Ok(total - self.header_len())
    }

    fn header_len(&self) -> u64 {
        // The cursor holds the header and the first MIN_PAYLOAD payload bytes.
        (self.stream.get_ref().0.get_ref().len() - MIN_PAYLOAD) as u64
    }
}

/// Why reading failed: the armor (kind `NotAge`, like a header that does not parse) or the
/// file (`Unreadable`).
fn read_error(e: io::Error, _armored: bool) -> Error {
    armor_error(&e).unwrap_or_else(|| Error::of_kind(ErrorKind::Unreadable, describe_io(&e)))
}

/// The error of an armored file whose armor is broken past its header (`Header::parse`'s
/// wording, kind `NotAge`), if `e` is one: the age crate passes it through unchanged.
pub fn armor_error(e: &io::Error) -> Option<Error> {
    let inner = e.get_ref()?.downcast_ref::<BadArmor>()?;
    Some(Error::of_kind(
        ErrorKind::NotAge,
        format!("invalid ASCII armor: {}", inner.0),
    ))
}

/// An error of the armor decoder, told apart from the age payload's own.
#[derive(Debug)]
struct BadArmor(io::Error);

impl std::fmt::Display for BadArmor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BadArmor {}

/// The armor decoder, its errors tagged `BadArmor`.
struct Armored<R>(age::armor::ArmoredReader<R>);

fn tag(e: io::Error) -> io::Error {
    io::Error::new(e.kind(), BadArmor(e))
}

impl<R: BufRead> Read for Armored<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(tag)
    }
}

impl<R: BufRead> BufRead for Armored<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.0.fill_buf().map_err(tag)
    }
    fn consume(&mut self, n: usize) {
        self.0.consume(n)
    }
}

/// Parse the header of the age file `raw` yields, reading no more than the header and the
/// first `MIN_PAYLOAD` bytes of its payload. Errors have kind `NotAge` (not an age file, a
/// header that does not parse, a truncated file) or `Unreadable`; they are worded like
/// `Header::parse`'s, which accepts the same files.
pub fn open<'a>(raw: impl Read + Send + 'a) -> Result<Opened<'a>, Error> {
    open_sized(raw, BUF as u64)
}

/// `open` for a file known to hold `size` bytes: a small file gets a buffer of its size, not
/// 64 KiB (100,000 small files: `check` 3% faster).
pub fn open_sized<'a>(raw: impl Read + Send + 'a, size: u64) -> Result<Opened<'a>, Error> {
    let cap = size.saturating_add(1).clamp(1 << 10, BUF as u64) as usize;
    let mut raw = BufReader::with_capacity(cap, raw);
    let io_err = |e: io::Error| Error::of_kind(ErrorKind::Unreadable, describe_io(&e));
    let not_age_kind = |e: Error| Error::of_kind(ErrorKind::NotAge, e.message());
    // Whitespace before armor is allowed (see `strip_leading_whitespace`); a binary file that
    // starts with it is not an age file, which the version line check says below.
    let mut lead = Vec::new();
    loop {
        let buf = raw.fill_buf().map_err(io_err)?;
        if buf.is_empty() {
            break;
        }
        let n = buf
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(buf.len());
        lead.extend_from_slice(&buf[..n]);
        let done = n < buf.len();
        raw.consume(n);
        if done {
            break;
        }
        if lead.len() > MAX_HEADER {
            return Err(not_age_kind(not_age(&lead)));
        }
    }
    let mut head = Vec::with_capacity(ARMOR_BEGIN.len());
    (&mut raw)
        .take(ARMOR_BEGIN.len() as u64)
        .read_to_end(&mut head)
        .map_err(io_err)?;
    if lead.is_empty() && head.is_empty() {
        return Err(not_age_kind(bad("empty file, not an age file")));
    }
    let armored = head.starts_with(ARMOR_BEGIN.as_bytes());
    let mut bin: Box<dyn BufRead + Send + 'a> = if armored {
        Box::new(Armored(age::armor::ArmoredReader::new(
            Cursor::new(head).chain(raw),
        )))
    } else {
        lead.extend_from_slice(&head);
        Box::new(Cursor::new(lead).chain(raw))
    };
    let read_err = |e: io::Error| armor_error(&e).unwrap_or_else(|| io_err(e));
    let mut hdr = Vec::new();
    loop {
        let start = hdr.len();
        let room = (MAX_HEADER + 1).saturating_sub(start) as u64;
        let n = (&mut bin)
            .take(room)
            .read_until(b'\n', &mut hdr)
            .map_err(read_err)?;
        let line = &hdr[start..];
        let first = start == 0;
        if n == 0 || !line.ends_with(b"\n") {
            if hdr.len() > MAX_HEADER {
                return Err(not_age_kind(bad("header larger than 1 MiB")));
            }
            break; // EOF: parse_lines says what is missing
        }
        if line.starts_with(b"--- ") || (first && line != b"age-encryption.org/v1\n") {
            break;
        }
    }
    let (stanzas, pos) = Header::parse_lines(&hdr).map_err(not_age_kind)?;
    // What parse_lines did not take (nothing, for a well-formed file) is payload.
    let mut rest = hdr.split_off(pos);
    let have = rest.len();
    if have < MIN_PAYLOAD {
        (&mut bin)
            .take((MIN_PAYLOAD - have) as u64)
            .read_to_end(&mut rest)
            .map_err(read_err)?;
    }
    if rest.len() < MIN_PAYLOAD {
        return Err(not_age_kind(truncated()));
    }
    // Keep exactly MIN_PAYLOAD payload bytes in the cursor (see `header_len`).
    let extra = rest.split_off(MIN_PAYLOAD);
    hdr.extend_from_slice(&rest);
    let bin: Box<dyn BufRead + Send + 'a> = if extra.is_empty() {
        bin
    } else {
        Box::new(Cursor::new(extra).chain(bin))
    };
    Ok(Opened {
        header: Header {
            armored,
            stanzas,
            payload_len: MIN_PAYLOAD,
        },
        stream: Cursor::new(hdr).chain(bin),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn age_file(armor: bool, len: usize) -> Vec<u8> {
        let id = age::x25519::Identity::generate();
        let enc = age::Encryptor::with_recipients(std::iter::once(&id.to_public() as _)).unwrap();
        let mut out = Vec::new();
        let format = if armor {
            age::armor::Format::AsciiArmor
        } else {
            age::armor::Format::Binary
        };
        let a = age::armor::ArmoredWriter::wrap_output(&mut out, format).unwrap();
        let mut w = enc.wrap_output(a).unwrap();
        std::io::Write::write_all(&mut w, &vec![7u8; len]).unwrap();
        w.finish().unwrap().finish().unwrap();
        out
    }

    /// The stream agrees with `Header::parse` on every file, well formed or not, and hands on
    /// exactly the binary file.
    #[test]
    fn agrees_with_the_in_memory_parser() {
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for armor in [false, true] {
            for len in [0, 1, 100, 70_000] {
                let f = age_file(armor, len);
                for cut in [0, 1, 10, 30, 60, f.len() / 2, f.len() - 20, f.len() - 1] {
                    cases.push(f[..cut.min(f.len())].to_vec());
                }
                let mut padded = b"\n \t".to_vec();
                padded.extend_from_slice(&f);
                cases.push(padded);
                cases.push(f);
            }
        }
        cases.push(b"hello\n".to_vec());
        cases.push(b"   \n".to_vec());
        cases.push(b"age-encryption.org/v2\n".to_vec());
        for (i, data) in cases.iter().enumerate() {
            let mem = Header::parse(data);
            // The armor past the header is checked as the stream is read.
            let streamed = open(&data[..]).and_then(|s| {
                let mut bin = Vec::new();
                let (header, mut st) = (s.header, s.stream);
                st.read_to_end(&mut bin)
                    .map_err(|e| armor_error(&e).expect("an armor error"))?;
                Ok((header, bin))
            });
            match (mem, streamed) {
                (Ok(m), Ok((h, bin))) => {
                    assert_eq!(m.stanzas, h.stanzas, "case {i}");
                    assert_eq!(m.armored, h.armored, "case {i}");
                    let want = if m.armored {
                        let mut b = Vec::new();
                        let clean = crate::header::strip_leading_whitespace(data);
                        age::armor::ArmoredReader::new(clean)
                            .read_to_end(&mut b)
                            .unwrap();
                        b
                    } else {
                        data.clone()
                    };
                    assert!(bin == want, "case {i}");
                }
                (Err(m), Err(s)) => assert_eq!(m.message(), s.message(), "case {i}"),
                (m, s) => panic!(
                    "case {i}: in memory {:?}, streamed {:?}",
                    m.map(|_| ()),
                    s.map(|_| ())
                ),
            }
        }
    }

    #[test]
    fn drain_counts_the_payload() {
        for armor in [false, true] {
            let f = age_file(armor, 200_000);
            let mem = Header::parse(&f).unwrap();
            let got = open(&f[..]).unwrap().drain().unwrap();
            assert_eq!(got, mem.payload_len as u64);
            // The size only sizes the buffer: a wrong one reads the same.
            for size in [0, 100, f.len() as u64, u64::MAX] {
                let o = open_sized(&f[..], size).unwrap();
                assert_eq!(o.header.stanzas.len(), mem.stanzas.len());
                assert_eq!(o.drain().unwrap(), mem.payload_len as u64, "{size}");
            }
        }
    }
}
