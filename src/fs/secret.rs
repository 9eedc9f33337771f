//! Plaintext and private keys live only in buffers that are wiped when dropped, and are read
//! into them without leaving an unwiped copy behind.

use std::io::{self, Read};

use zeroize::Zeroizing;

/// Plaintext lives in these buffers only; they are wiped when dropped.
pub type SecretBytes = Zeroizing<Vec<u8>>;

/// Read all of `r` into a wiped buffer, unless it holds more than `limit` bytes: then None,
/// having read `limit + 1` bytes and no more. `expect` is the size, when known.
pub fn read_at_most(r: impl Read, expect: u64, limit: u64) -> io::Result<Option<SecretBytes>> {
    let first = expect
        .clamp(64 << 10, 16 << 20)
        .min(limit.saturating_add(1));
    let buf = read_all_wiped(r.take(limit.saturating_add(1)), first as usize)?;
    Ok((buf.len() as u64 <= limit).then_some(buf))
}

/// Read `r` to its end into a wiped buffer that never leaves an unwiped copy behind: a `Vec`
/// that outgrows its capacity reallocates and frees the old block as it is, so the buffer is
/// grown by hand instead (a new wiped buffer of twice the size, the old one wiped on drop).
/// `expect` is the first capacity (the size, when known).
pub fn read_all_wiped(mut r: impl Read, expect: usize) -> io::Result<SecretBytes> {
    let mut buf = Zeroizing::new(Vec::with_capacity(expect.max(64)));
    let mut chunk = Zeroizing::new([0u8; 8192]);
    loop {
        let n = match r.read(&mut chunk[..]) {
            Ok(0) => return Ok(buf),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.len() + n > buf.capacity() {
            let mut bigger =
                Zeroizing::new(Vec::with_capacity((buf.capacity() * 2).max(buf.len() + n)));
            bigger.extend_from_slice(&buf);
            buf = bigger;
        }
        debug_assert!(buf.len() + n <= buf.capacity());
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Copy `r` to `w` through one wiped buffer (plaintext: `io::copy`'s buffer is not wiped);
/// returns the bytes copied.
pub fn copy_wiped(mut r: impl Read, w: &mut dyn io::Write) -> io::Result<u64> {
    let mut buf = Zeroizing::new(vec![0u8; 64 << 10]);
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf[..]) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..n])?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-grown buffer returns exactly what was read, across chunk and capacity
    /// boundaries, from a reader that returns short reads.
    #[test]
    fn read_all_wiped_returns_every_byte() {
        struct Short<'a>(&'a [u8]);
        impl Read for Short<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(out.len()).min(5000);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        for len in [0, 1, 63, 64, 65, 8191, 8192, 8193, 100_000, 3 << 20] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
            for expect in [0, 64, len, len + 1] {
                let got = read_all_wiped(Short(&data), expect).unwrap();
                assert_eq!(got.len(), len, "len {len} expect {expect}");
                assert!(got[..] == data[..], "len {len} expect {expect}");
            }
        }
    }
}
