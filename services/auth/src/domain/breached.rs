//! The bundled list of the most common breached passwords (see `data/README.md`).

use std::{collections::HashSet, sync::LazyLock};

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../../data/common-passwords.txt")
        .lines()
        .filter(|l| !l.is_empty())
        .collect()
});

/// True when `password` (compared case-insensitively, as the list is lowercase) is on the list.
pub fn is_common(password: &str) -> bool {
    COMMON.contains(password.to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    #[test]
    fn catches_common_passwords_in_any_case_and_lets_others_pass() {
        assert!(super::COMMON.len() > 10_000);
        for p in [
            "password",
            "Password",
            "12345678",
            "QWERTYUIOP",
            "trustno1",
            "iloveyou",
        ] {
            assert!(super::is_common(p), "{p}");
        }
        assert!(!super::is_common("correct horse battery staple"));
        assert!(!super::is_common("Stride-focus-2026!"));
    }
}
