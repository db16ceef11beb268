//! Host errors: a core [`ErrorKind`] and a message that may name a path or a value the user
//! gave (never a secret).

use std::fmt;

use dkm_core::ErrorKind;

/// An error of the host layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostError {
    kind: ErrorKind,
    message: String,
}

impl HostError {
    /// An error of `kind` with `message`. Anything in the message that looks like a secret
    /// identity (an argument echoed by mistake) is withheld: see [`redact_secrets`].
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> HostError {
        let message = message.into();
        let message = match redact_secrets(&message) {
            std::borrow::Cow::Borrowed(_) => message,
            std::borrow::Cow::Owned(redacted) => redacted,
        };
        HostError { kind, message }
    }

    /// The store could not be read or written.
    pub fn io(what: &str, path: &std::path::Path, e: &std::io::Error) -> HostError {
        HostError::new(
            ErrorKind::StoreUnavailable,
            format!("{what} {}: {e}", path.display()),
        )
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<dkm_core::Error> for HostError {
    fn from(e: dkm_core::Error) -> HostError {
        HostError::new(e.kind(), e.message())
    }
}

impl From<dkm_core::audit::AuditProblem> for HostError {
    fn from(p: dkm_core::audit::AuditProblem) -> HostError {
        HostError::new(ErrorKind::Tampered, p.to_string())
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

impl std::error::Error for HostError {}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Where `prefix` first occurs in `text`, in any case (a user may have retyped it).
fn find_any_case(text: &str, prefix: &str) -> Option<usize> {
    let prefix = prefix.as_bytes();
    text.as_bytes()
        .windows(prefix.len())
        .position(|w| w.eq_ignore_ascii_case(prefix))
}

/// Whether an argument holds, or starts like, a secret identity: it starts with `dkmsec`
/// (without the format digit too, any case), or holds `dkmsec1` anywhere.
pub fn looks_secret(text: &str) -> bool {
    let stem = dkm_core::labels::SECRET_PREFIX;
    let stem = stem.get(..stem.len().saturating_sub(1)).unwrap_or(stem);
    text.trim_start()
        .get(..stem.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(stem))
        || find_any_case(text, dkm_core::labels::SECRET_PREFIX).is_some()
}

/// `text` with every run from `dkmsec1` (any case) through the end of its base64url
/// characters replaced by `[secret identity withheld]`. Every host error passes
/// through it, so no message echoes a secret identity given where something else was
/// expected; the command line's own argument errors use it too.
pub fn redact_secrets(text: &str) -> std::borrow::Cow<'_, str> {
    let prefix = dkm_core::labels::SECRET_PREFIX;
    if find_any_case(text, prefix).is_none() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = find_any_case(rest, prefix) {
        out.push_str(rest.get(..i).unwrap_or_default());
        out.push_str("[secret identity withheld]");
        let after = rest.get(i..).unwrap_or_default();
        let end = after
            .bytes()
            .position(|b| !is_b64url(b))
            .unwrap_or(after.len());
        rest = after.get(end..).unwrap_or_default();
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Result of the host layer.
pub type Result<T, E = HostError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn secrets_are_withheld_and_paths_are_not() {
        let s = "dkmsec1AbC-_9";
        assert!(looks_secret(s) && looks_secret(" DKMSEC1x") && looks_secret("dkmsecx"));
        assert!(looks_secret("ops:1:dkmsec1abc"));
        assert!(!looks_secret("/home/me/dkmsecrets/svc.id") && !looks_secret("dkmpub1abc"));
        assert_eq!(
            redact_secrets(&format!("bad {s}: and 'DkmSec1zz' end")),
            "bad [secret identity withheld]: and '[secret identity withheld]' end"
        );
        assert_eq!(redact_secrets("x/dkmsec1"), "x/[secret identity withheld]");
        assert_eq!(redact_secrets("/home/dkmsecrets"), "/home/dkmsecrets");
        assert_eq!(redact_secrets("xdkmsec1abc"), "x[secret identity withheld]");
        let e = HostError::new(ErrorKind::InvalidInput, format!("cannot read {s}"));
        assert_eq!(e.message(), "cannot read [secret identity withheld]");
    }
}
