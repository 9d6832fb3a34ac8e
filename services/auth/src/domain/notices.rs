//! What auth tells people by mail or SMS: codes, reset links and security notices.

use uuid::Uuid;

use super::codes::Purpose;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub subject: String,
    /// The whole SMS, or the mail's plain-text body.
    pub text: String,
}

fn notice(subject: &str, text: String) -> Notice {
    Notice {
        subject: subject.into(),
        text,
    }
}

pub fn code(purpose: Purpose, code: &str, ttl_minutes: i64) -> Notice {
    let what = purpose.label();
    Notice {
        subject: format!("Your Stride {what} code"),
        text: format!(
            "Your Stride {what} code is {code}. It expires in {ttl_minutes} minutes. If you did not ask for it, ignore this message."
        ),
    }
}

/// To the owner of an address someone tried to sign up with.
pub fn signup_attempt(account: Uuid) -> Notice {
    notice(
        "Someone tried to create a Stride account with your email",
        format!(
            "Your address already has a Stride account (id {account}). If it was you, sign in, or reset your password if you forgot it. If not, you can ignore this mail."
        ),
    )
}

/// To an address just proved for the first time, listing what someone had attached to it before
/// the proof and what was removed; None when nothing was.
pub fn unproved_removed(password: bool, identities: &[String], sessions: i32) -> Option<Notice> {
    let mut removed = Vec::new();
    if password {
        removed.push("a password".to_owned());
    }
    for provider in identities {
        removed.push(format!("a sign-in with {provider}"));
    }
    if sessions > 0 {
        removed.push(format!("{sessions} signed-in session(s)"));
    }
    if removed.is_empty() {
        return None;
    }
    Some(notice(
        "We secured your Stride account",
        format!(
            "You just proved that this address is yours. Before that, your Stride account had been given: {}. Since it was set before anyone proved the address, it may not have been you, so it was removed and everyone was signed out. If you want a password, reset it from the sign-in screen.",
            removed.join(", ")
        ),
    ))
}

/// To an address whose one-time codes were guessed wrong too often.
pub fn codes_locked() -> Notice {
    notice(
        "Sign-in codes for your Stride account are paused",
        "Too many wrong sign-in codes were entered for this address, so codes sent to it are not accepted for a day. If this was not you, someone may be trying to get in: nothing was changed. You can still sign in with your password, or reset it from the sign-in screen, which also lifts the pause.".into(),
    )
}

/// To an account's address when a provider identity was linked to it automatically because the
/// provider vouched for the same email.
pub fn identity_auto_linked(provider: &str) -> Notice {
    notice(
        "A sign-in method was added to your Stride account",
        format!(
            "Someone signed in with a {provider} account that has your email address, and it was linked to your Stride account. If this was not you, remove it under sign-in methods and reset your password."
        ),
    )
}

pub fn identity_linked(provider: &str) -> Notice {
    notice(
        "A sign-in method was added to your Stride account",
        format!(
            "A {provider} identity was linked to your account. If this was not you, reset your password and remove it."
        ),
    )
}

pub fn password_changed() -> Notice {
    notice(
        "Your Stride password was changed",
        "Your password was just changed and your other sessions were signed out. If this was not you, reset your password now.".into(),
    )
}

/// The reset mail: `link_prefix` (AUTH_RESET_URL) with the token appended, and the token itself.
pub fn reset_link(link_prefix: &str, token: &str, ttl_minutes: i64) -> Notice {
    let link = format!("{link_prefix}{token}");
    notice(
        "Reset your Stride password",
        format!(
            "Someone asked to reset the password of your Stride account.\n\nTo choose a new password, open:\n{link}\n\nOr enter this reset token in the app: {token}\n\nIt works once and expires in {ttl_minutes} minutes. If you did not ask for it, ignore this mail."
        ),
    )
}

pub fn password_reset() -> Notice {
    notice(
        "Your Stride password was reset",
        "Your password was reset and every session was signed out. If this was not you, contact support.".into(),
    )
}

/// To the previous address after an email change.
pub fn email_changed(new_email: &str) -> Notice {
    notice(
        "Your Stride email was changed",
        format!(
            "The email of your Stride account was changed to {new_email}. If this was not you, contact support."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_say_what_they_are_for_and_when_they_expire() {
        let n = code(Purpose::ChangeEmail, "012345", 10);
        assert_eq!(n.subject, "Your Stride email change code");
        assert!(n.text.contains("code is 012345."), "{}", n.text);
        assert!(n.text.contains("expires in 10 minutes"), "{}", n.text);
        assert!(code(Purpose::SignIn, "1", 1).subject.contains("sign-in"));
    }

    #[test]
    fn reset_mails_carry_the_link_and_the_token() {
        let n = reset_link("https://app/reset?token=", "TOK", 60);
        assert!(
            n.text.contains("\nhttps://app/reset?token=TOK\n"),
            "{}",
            n.text
        );
        assert!(
            n.text.contains("reset token in the app: TOK\n"),
            "{}",
            n.text
        );
        assert!(n.text.contains("expires in 60 minutes"));
    }

    #[test]
    fn notices_name_what_happened() {
        let id = Uuid::now_v7();
        assert!(signup_attempt(id).text.contains(&id.to_string()));
        assert!(
            identity_linked("google")
                .text
                .starts_with("A google identity")
        );
        assert!(
            email_changed("new@x.io")
                .text
                .contains("changed to new@x.io.")
        );
        assert_ne!(password_changed().subject, password_reset().subject);
        assert!(
            identity_auto_linked("google")
                .text
                .contains("a google account")
        );
    }

    #[test]
    fn the_unproved_notice_lists_what_was_removed() {
        assert_eq!(unproved_removed(false, &[], 0), None);
        let n = unproved_removed(true, &["telegram".into()], 2).unwrap();
        assert!(
            n.text
                .contains("given: a password, a sign-in with telegram, 2 signed-in session(s)."),
            "{}",
            n.text
        );
    }
}
