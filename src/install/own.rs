//! Owners and groups: as the manifest gives them (`Principal`: a numeric id or a name), and
//! names resolved once per run with getpwnam_r/getgrnam_r (NSS, so systemd-userdb and LDAP
//! users work too).

use std::collections::BTreeMap;
use std::ffi::CString;

use super::owned::Ownership;
use crate::error::{Error, Result};

/// A user or group as written in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Principal {
    Id(u32),
    Name(String),
}

impl Principal {
    /// Parse an owner or group field of `item`: a numeric id or a user/group name.
    pub fn parse(s: &str, what: &str, item: &str) -> Result<Principal> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            let id: u32 = s
                .parse()
                .map_err(|_| Error::new(format!("{item}: {what} id {s:?} is out of range")))?;
            return check_id(id, what)
                .map(|()| Principal::Id(id))
                .map_err(|e| e.context(item));
        }
        let ok = !s.is_empty()
            && s.len() <= 256
            && !s.starts_with('-')
            // '@': directory-service accounts (SSSD's user@domain), which agenix's chown took.
            && s.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'$' | b'@')
            });
        if !ok {
            return Err(Error::new(format!(
                "{item}: {what} {s:?} is neither a numeric id nor a valid {what} name"
            )));
        }
        Ok(Principal::Name(s.to_string()))
    }

    pub fn is_root(&self) -> bool {
        matches!(self, Principal::Id(0)) || matches!(self, Principal::Name(n) if n == "root")
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Principal::Id(i) => write!(f, "{i}"),
            Principal::Name(n) => f.write_str(n),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Db {
    User,
    Group,
}

fn lookup(db: Db, name: &str) -> Result<Option<u32>> {
    let c = CString::new(name).map_err(|_| Error::new("name contains NUL"))?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    loop {
        let (rc, found, id) = match db {
            Db::User => {
                let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
                let mut res: *mut libc::passwd = std::ptr::null_mut();
                // SAFETY: all out-parameters point to live, correctly sized storage.
                let rc = unsafe {
                    libc::getpwnam_r(c.as_ptr(), &mut pw, buf.as_mut_ptr(), buf.len(), &mut res)
                };
                (rc, !res.is_null(), pw.pw_uid)
            }
            Db::Group => {
                let mut gr: libc::group = unsafe { std::mem::zeroed() };
                let mut res: *mut libc::group = std::ptr::null_mut();
                // SAFETY: as above.
                let rc = unsafe {
                    libc::getgrnam_r(c.as_ptr(), &mut gr, buf.as_mut_ptr(), buf.len(), &mut res)
                };
                (rc, !res.is_null(), gr.gr_gid)
            }
        };
        if rc == libc::ERANGE && buf.len() < (1 << 22) {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 && rc != libc::ENOENT && rc != libc::ESRCH {
            return Err(Error::new(
                std::io::Error::from_raw_os_error(rc).to_string(),
            ));
        }
        if found {
            check_id(id, if db == Db::User { "user" } else { "group" })?;
        }
        return Ok(found.then_some(id));
    }
}

/// (uid_t)-1 and (gid_t)-1 are not ids: chown(2) reads them as "leave unchanged", so a secret
/// meant for such an owner would silently stay root's. Refused wherever an id comes from (a
/// number in the manifest, or a name the user database maps to it).
pub fn check_id(id: u32, what: &str) -> Result<()> {
    if id != u32::MAX {
        return Ok(());
    }
    let t = if what == "group" { "gid_t" } else { "uid_t" };
    Err(Error::new(format!(
        "{what} id 4294967295 is ({t})-1, which chown takes as \"leave unchanged\" (the file \
         would stay root's); use the {what}'s real name or id"
    )))
}

pub fn group_id(name: &str) -> Option<u32> {
    lookup(Db::Group, name).ok().flatten()
}

/// Resolves principals once per run, remembering failures as messages.
#[derive(Default)]
pub struct Resolver {
    users: BTreeMap<Principal, Result<u32>>,
    groups: BTreeMap<Principal, Result<u32>>,
}

impl Resolver {
    fn get(&mut self, db: Db, p: &Principal) -> Result<u32> {
        let map = if db == Db::User {
            &mut self.users
        } else {
            &mut self.groups
        };
        map.entry(p.clone())
            .or_insert_with(|| match p {
                Principal::Id(i) => Ok(*i),
                Principal::Name(n) => {
                    let what = if db == Db::User { "user" } else { "group" };
                    match lookup(db, n) {
                        Ok(Some(id)) => Ok(id),
                        Ok(None) => Err(Error::new(format!(
                            "{what} {n:?} does not exist (yet?); declare it (users.{}s.{n}) or \
                             use a numeric id",
                            if db == Db::User { "user" } else { "group" }
                        ))),
                        Err(e) => Err(e.context(format_args!("cannot look up {what} {n:?}"))),
                    }
                }
            })
            .clone()
    }

    pub fn ownership(&mut self, owner: &Principal, group: &Principal) -> Result<Ownership> {
        let uid = self.get(Db::User, owner)?;
        let gid = self.get(Db::Group, group)?;
        Ok(Ownership { uid, gid })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_root_and_ids() {
        let mut r = Resolver::default();
        let root = Principal::Name("root".into());
        assert_eq!(
            r.ownership(&root, &Principal::Id(7)).unwrap(),
            Ownership { uid: 0, gid: 7 }
        );
        let e = r
            .ownership(
                &Principal::Name("no-such-user-xyz".into()),
                &Principal::Id(0),
            )
            .unwrap_err();
        assert!(e.message().contains("does not exist"), "{e}");
    }
}
