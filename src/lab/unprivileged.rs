//! The lab's side of `unprivileged`: the values of the `{unprivileged.*}` templates and
//! a challenge condition's `host_uid_unprivileged`, for whoever runs the lab (see
//! `runtime/unprivileged.rs` for who the unprivileged user is and why).

use crate::lesson::format::ProcessMatch;
use crate::runtime::unprivileged::Unprivileged;

/// The value of template `{unprivileged.NAME}` for this lab: `uid`, `gid` (65534 as
/// root, the user's own as a user) or `setpriv` (the prefix a learner types, empty for
/// a user); `None` for any other name.
#[must_use]
pub fn template(name: &str) -> Option<String> {
    Unprivileged::current().template(name)
}

/// `m` with `host_uid_unprivileged` turned into the `host_uid` it stands for here.
#[must_use]
pub fn resolve_match(m: &ProcessMatch) -> ProcessMatch {
    resolve_match_for(m, Unprivileged::current())
}

fn resolve_match_for(m: &ProcessMatch, who: Unprivileged) -> ProcessMatch {
    let mut m = m.clone();
    if m.host_uid_unprivileged {
        m.host_uid = Some(who.uid);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_uid_unprivileged_is_nobody_for_root_and_the_user_for_a_user() {
        let m = ProcessMatch {
            host_uid_unprivileged: true,
            uid_in_ns: Some(0),
            ..Default::default()
        };
        let root = resolve_match_for(&m, Unprivileged::for_lab(true, 0, 0));
        assert_eq!(root.host_uid, Some(65534));
        let user = resolve_match_for(&m, Unprivileged::for_lab(false, 999, 999));
        assert_eq!(user.host_uid, Some(999));
        assert_eq!(user.uid_in_ns, Some(0));
        let plain = ProcessMatch::default();
        assert_eq!(
            resolve_match_for(&plain, Unprivileged::for_lab(true, 0, 0)),
            plain
        );
    }
}
