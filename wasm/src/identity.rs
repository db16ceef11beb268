//! Identities, a ring's public part (seal-only), pins and an opened secret.

use std::sync::Arc;

use dkm_core::Pin;
use dkm_host::text;
use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::convert::{self, JsResult, absent, js};
use crate::entropy;

/// A secret identity: signs as an admin or approver, opens keys as a key holder, or asks
/// for elevated access. Its secret stays in wasm memory and is wiped on `free()`.
#[wasm_bindgen]
pub struct Identity {
    pub(crate) inner: Arc<dkm_core::Identity>,
}

#[wasm_bindgen]
impl Identity {
    /// A new identity from the runtime's secure randomness.
    pub fn generate() -> JsResult<Identity> {
        let mut rng = entropy::op_rng()?;
        Ok(Identity {
            inner: Arc::new(dkm_core::Identity::generate(&mut rng)),
        })
    }

    /// Reads an identity's secret text: the text of an identity file (`dkm identity new`,
    /// `toText`), or the bare `dkmsec1...` line.
    #[wasm_bindgen(js_name = "fromText")]
    pub fn from_text(
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] text: &JsValue,
    ) -> JsResult<Identity> {
        let t = convert::data(text, "the identity's text")?;
        let id = js(text::identity_from_file_text(&t, "the identity's text"))?;
        Ok(Identity {
            inner: Arc::new(id),
        })
    }

    /// The identity file's text under `name` (a comment line, then the secret): keep it
    /// secret, as the secret identity it is.
    #[wasm_bindgen(js_name = "toText")]
    pub fn to_text(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] name: &JsValue,
    ) -> JsResult<String> {
        let name = convert::text(name, "the identity's name")?;
        let t = js(text::identity_file_text(&name, &self.inner))?;
        Ok(String::from(t.as_str()))
    }

    /// The public identity: what an admin adds as a member.
    #[wasm_bindgen(getter)]
    pub fn public(&self) -> PublicIdentity {
        PublicIdentity {
            inner: self.inner.public().clone(),
        }
    }

    /// The identity's id (hex).
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.inner.id().to_string()
    }
}

/// A public identity (`dkmpub1...`): what members, approvers and requesters are known by.
#[wasm_bindgen]
#[derive(Clone)]
pub struct PublicIdentity {
    pub(crate) inner: dkm_core::PublicIdentity,
}

#[wasm_bindgen]
impl PublicIdentity {
    /// Parses a public identity's text (`dkmpub1...`).
    #[wasm_bindgen(js_name = "fromText")]
    pub fn from_text(
        #[wasm_bindgen(unchecked_param_type = "string")] text: &JsValue,
    ) -> JsResult<PublicIdentity> {
        let text = convert::text(text, "a public identity")?;
        Ok(PublicIdentity {
            inner: js(text::parse_public_identity(&text))?,
        })
    }

    /// Its text (`dkmpub1...`).
    #[wasm_bindgen(js_name = "toText")]
    pub fn to_text(&self) -> String {
        self.inner.to_text()
    }

    /// Its text, as `String(identity)` gives it.
    #[wasm_bindgen(js_name = "toString")]
    pub fn to_string_js(&self) -> String {
        self.inner.to_text()
    }

    /// Its id (hex).
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.inner.id().to_string()
    }

    /// Whether `other` (a `PublicIdentity` or its text) is the same public identity; any
    /// other value is not.
    pub fn equals(
        &self,
        #[wasm_bindgen(unchecked_param_type = "PublicIdentity | string")] other: &JsValue,
    ) -> bool {
        let text = match other.as_string() {
            Some(t) => Some(t),
            // A PublicIdentity (or anything with a toText giving one) compares by its text.
            None if other.is_object() => convert::get(other, "toText")
                .ok()
                .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
                .and_then(|f| f.call0(other).ok())
                .and_then(|t| t.as_string()),
            None => None,
        };
        text.and_then(|t| dkm_core::PublicIdentity::from_text(t.trim()).ok())
            .is_some_and(|p| p.to_bytes() == self.inner.to_bytes())
    }
}

/// A pin: its raw bytes (`Uint8Array`) or its hex text (as `dkm ring pin` prints it).
pub(crate) fn pin_arg(v: &JsValue) -> JsResult<Pin> {
    if let Some(s) = v.as_string() {
        return js(text::parse_pin_text(&s, std::path::Path::new("the pin")));
    }
    let b = convert::bytes(v, "the pin")?;
    js(Pin::from_bytes(&b).map_err(Into::into))
}

/// A ring's public part, verified: what a browser, a partner or any seal-only party needs to
/// seal secrets to a ring without being able to read them back (`host.exportPublic` makes
/// the bytes).
#[wasm_bindgen]
pub struct RingPublic {
    pub(crate) inner: Arc<dkm_core::RingPublic>,
}

#[wasm_bindgen]
impl RingPublic {
    /// Loads a ring's public part, verified through `pin` when given (bytes or hex text),
    /// else through the pin the part carries (which trusts whoever made the part).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] data: &JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "Uint8Array | string")] pin: Option<JsValue>,
    ) -> JsResult<RingPublic> {
        let part = convert::bytes(data, "the ring's public part")?;
        let pin = match pin.filter(|p| !absent(p)) {
            None => None,
            Some(p) => Some(pin_arg(&p)?),
        };
        Ok(RingPublic {
            inner: Arc::new(js(dkm_host::load_public(&part, pin.as_ref()))?),
        })
    }

    /// Seals `data` (a `Uint8Array` or a string) to the ring, bound to `context`, at `now`
    /// (a `Date` or milliseconds; `Date.now()` when absent). Only key holders can open it,
    /// and their unseal reports its origin as `"seal-only"`. `Stale` when the ring's
    /// published keys do not cover the time.
    pub fn seal(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | string")] data: &JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "Uint8Array | string")] context: Option<
            JsValue,
        >,
        #[wasm_bindgen(unchecked_optional_param_type = "Date | number")] now: Option<JsValue>,
    ) -> JsResult<Uint8Array> {
        let out = self.seal_bytes(data, context, now)?;
        Ok(Uint8Array::from(&out[..]))
    }

    /// `seal`, as the text armor (`dkm1:...`).
    #[wasm_bindgen(js_name = "sealArmored")]
    pub fn seal_armored(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | string")] data: &JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "Uint8Array | string")] context: Option<
            JsValue,
        >,
        #[wasm_bindgen(unchecked_optional_param_type = "Date | number")] now: Option<JsValue>,
    ) -> JsResult<String> {
        Ok(dkm_core::armor(&self.seal_bytes(data, context, now)?))
    }

    /// The ring's name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.inner.ring().governance().name.clone()
    }

    /// The ring's id (hex).
    #[wasm_bindgen(getter, js_name = "ringId")]
    pub fn ring_id(&self) -> String {
        self.inner.ring().id().to_string()
    }
}

impl RingPublic {
    fn seal_bytes(
        &self,
        data: &JsValue,
        context: Option<JsValue>,
        now: Option<JsValue>,
    ) -> JsResult<Vec<u8>> {
        let pt = convert::data(data, "the data")?;
        let ctx = convert::opt_data(&context.unwrap_or(JsValue::UNDEFINED), "the context")?;
        let now = match now.filter(|n| !absent(n)) {
            None => convert::time(&js_sys::Date::now().into(), "now")?,
            Some(n) => convert::time(&n, "now")?,
        };
        let mut rng = entropy::op_rng()?;
        js(self
            .inner
            .seal(now, &pt, &ctx, &mut rng)
            .map_err(Into::into))
    }
}

/// A pin book in memory: the pins of the rings a host has verified. Give one to several
/// hosts to share it; `pins()` lists them to keep (IndexedDB, a file) and `add` puts them
/// back.
#[wasm_bindgen]
#[derive(Default)]
pub struct MemoryPins {
    pub(crate) inner: Arc<dkm_host::MemoryPins>,
}

#[wasm_bindgen]
impl MemoryPins {
    /// An empty pin book.
    #[wasm_bindgen(constructor)]
    pub fn new() -> MemoryPins {
        MemoryPins::default()
    }

    /// Every pin held, as bytes.
    pub fn pins(&self) -> Vec<Uint8Array> {
        self.inner
            .pins()
            .iter()
            .map(|p| Uint8Array::from(&p.to_bytes()[..]))
            .collect()
    }

    /// Adds a pin kept earlier (bytes or hex text); an older pin than the one held is
    /// ignored.
    pub fn add(&self, pin: &JsValue) -> JsResult<()> {
        use dkm_host::PinStore;
        let pin = pin_arg(pin)?;
        js(self.inner.save(&pin))
    }
}

/// An opened secret: its plaintext and where it came from. The plaintext stays in wasm
/// memory until read, and is wiped on `free()`.
#[wasm_bindgen]
pub struct Unsealed {
    plaintext: Zeroizing<Vec<u8>>,
    origin: dkm_host::Origin,
}

impl Unsealed {
    pub(crate) fn new(u: dkm_host::Unsealed) -> Unsealed {
        Unsealed {
            plaintext: u.plaintext,
            origin: u.origin,
        }
    }
}

#[wasm_bindgen]
impl Unsealed {
    /// The plaintext (a new `Uint8Array` each time: the caller wipes it with `fill(0)`).
    #[wasm_bindgen(getter)]
    pub fn plaintext(&self) -> Uint8Array {
        Uint8Array::from(&self.plaintext[..])
    }

    /// The plaintext as UTF-8 text (`InvalidInput` when it is not UTF-8).
    #[wasm_bindgen(getter)]
    pub fn text(&self) -> JsResult<String> {
        std::str::from_utf8(&self.plaintext)
            .map(str::to_owned)
            .map_err(|_| convert::invalid("the plaintext is not UTF-8 text: read .plaintext"))
    }

    /// `"key-holder"` (sealed with the interval's key) or `"seal-only"` (sealed by anyone
    /// with the ring's public part: its origin is not authenticated).
    #[wasm_bindgen(getter)]
    pub fn origin(&self) -> String {
        self.origin.name().to_owned()
    }
}
