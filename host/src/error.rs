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

/// The stem every secret identity's text starts with (`dkmsec`, without the format digit).
fn stem() -> &'static str {
    let p = dkm_core::labels::SECRET_PREFIX;
    p.get(..p.len().saturating_sub(1)).unwrap_or(p)
}

/// The first run in `text` that starts with the stem `dkmsec` (any case: a user may have
/// retyped it) and goes on with at least two base64url characters (so the bare words
/// `dkmsec1` of a message naming the prefix are not one): its start and end.
fn secret_run(text: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let stem = stem().as_bytes();
    let mut from = 0;
    while let Some(i) = bytes.get(from..).and_then(|b| {
        b.windows(stem.len())
            .position(|w| w.eq_ignore_ascii_case(stem))
    }) {
        let start = from + i;
        let body = start + stem.len();
        let len = bytes
            .get(body..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| is_b64url(**b))
            .count();
        if len >= 2 {
            return Some((start, body + len));
        }
        from = body;
    }
    None
}

/// Whether an argument holds, or starts like, a secret identity: it starts with `dkmsec`
/// (any case), or holds `dkmsec` followed by base64url text anywhere.
pub fn looks_secret(text: &str) -> bool {
    text.trim_start()
        .get(..stem().len())
        .is_some_and(|start| start.eq_ignore_ascii_case(stem()))
        || secret_run(text).is_some()
}

/// `text` with every run that looks like (part of) a secret identity, `dkmsec` in any case
/// followed by base64url characters, replaced by `[secret identity withheld]`. Every host
/// error passes through it, so no message echoes a secret identity given where something
/// else was expected; the command line's own argument errors use it too.
pub fn redact_secrets(text: &str) -> std::borrow::Cow<'_, str> {
    if secret_run(text).is_none() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((start, end)) = secret_run(rest) {
        out.push_str(rest.get(..start).unwrap_or_default());
        out.push_str("[secret identity withheld]");
        rest = rest.get(end..).unwrap_or_default();
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
        assert!(!looks_secret("dkmpub1abc") && !looks_secret("/home/me/dkmse"));
        assert!(looks_secret("dkmsec-abcdef") && looks_secret("x dkmsecAB"));
        assert_eq!(
            redact_secrets(&format!("bad {s}: and 'DkmSec1zz' end")),
            "bad [secret identity withheld]: and '[secret identity withheld]' end"
        );
        assert_eq!(redact_secrets("x/dkmsec1"), "x/dkmsec1");
        assert_eq!(redact_secrets("x/dkmsec1a"), "x/[secret identity withheld]");
        // The core's fixed message naming the prefix is left alone.
        let fixed = "a secret identity starts with \"dkmsec1\"";
        assert_eq!(redact_secrets(fixed), fixed);
        assert_eq!(
            redact_secrets("a dkmsecXY-z b"),
            "a [secret identity withheld] b"
        );
        assert_eq!(redact_secrets("xdkmsec1abc"), "x[secret identity withheld]");
        let e = HostError::new(ErrorKind::InvalidInput, format!("cannot read {s}"));
        assert_eq!(e.message(), "cannot read [secret identity withheld]");
    }
}
