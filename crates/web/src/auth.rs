//! Who is asking: bearer tokens for the API, session cookies (with CSRF
//! protection) for the pages.

use crate::{AppState, error::ApiError};
use axum::{extract::FromRequestParts, http::request::Parts};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use healthcommons_core::ErrorKind;
use healthcommons_db::{entities::actor, queries};
use healthcommons_federation::{inbox, signatures};
use healthcommons_service::{
    accounts::{self, Account, Role},
    policy,
};
use rand::RngCore;
use subtle::ConstantTimeEq;

pub const SESSION_COOKIE: &str = "hc_session";
pub const CSRF_COOKIE: &str = "hc_csrf";

/// An API caller authenticated with `Authorization: Bearer TOKEN`.
pub struct ApiAccount(pub Account);

impl FromRequestParts<AppState> for ApiAccount {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::new(ErrorKind::Unauthorized, "send Authorization: Bearer TOKEN"))?;
        let token = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::new(ErrorKind::Unauthorized, "send Authorization: Bearer TOKEN"))?;
        accounts::account_for_api_token(state.read_db(), token)
            .await?
            .map(ApiAccount)
            .ok_or_else(|| ApiError::new(ErrorKind::Unauthorized, "the token is not valid"))
    }
}

/// An API caller who may or may not send a token; a token that is sent must be valid.
pub struct MaybeApiAccount(pub Option<Account>);

impl FromRequestParts<AppState> for MaybeApiAccount {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if !parts.headers.contains_key(http::header::AUTHORIZATION) {
            return Ok(MaybeApiAccount(None));
        }
        let ApiAccount(account) = ApiAccount::from_request_parts(parts, state).await?;
        Ok(MaybeApiAccount(Some(account)))
    }
}

/// A signed ActivityPub GET, whose signer is checked only when the answer
/// depends on it: content open to anyone is served without verifying (and
/// so without a call back to the signer's node while it may be busy), and
/// only an actor this node already knows can be a member of anything here,
/// so an unknown signer is never fetched for it.
pub struct SignedFetcher {
    headers: http::HeaderMap,
    target: String,
}

impl FromRequestParts<AppState> for SignedFetcher {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        let target = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
        Ok(SignedFetcher {
            headers: parts.headers.clone(),
            target,
        })
    }
}

impl SignedFetcher {
    /// Whether the one asking may see `subject`: anyone may see open
    /// content; otherwise only a known actor whose signature verifies and
    /// whom the policy lets see it. An error reading the database is an error,
    /// not an answer.
    pub async fn sees(&self, state: &AppState, subject: policy::Subject<'_>) -> Result<bool, ApiError> {
        if policy::visible_to(state.read_db(), policy::Viewer::Anonymous, subject).await? {
            return Ok(true);
        }
        let Some(signer) = self.known_signer(state).await? else {
            return Ok(false);
        };
        Ok(policy::visible_to(state.read_db(), policy::Viewer::Actor(&signer), subject).await?)
    }

    async fn known_signer(&self, state: &AppState) -> Result<Option<actor::Model>, ApiError> {
        if !self.headers.contains_key("signature") {
            return Ok(None);
        }
        let data = state.data();
        let Ok(pending) = signatures::check_request(
            &self.headers,
            "GET",
            &self.target,
            None,
            &data.node.domain,
            data.settings.signature_window,
        ) else {
            return Ok(None);
        };
        let known = queries::actors::by_public_key_id(state.read_db(), &pending.key_id)
            .await
            .map_err(healthcommons_service::ServiceError::from)?;
        if known.is_none_or(|actor| actor.local) {
            return Ok(None);
        }
        Ok(inbox::verify_signed_fetch(&data, &self.headers, &self.target)
            .await
            .ok())
    }
}

/// An admin API caller.
pub struct ApiAdmin(pub Account);

impl FromRequestParts<AppState> for ApiAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ApiAccount(account) = ApiAccount::from_request_parts(parts, state).await?;
        if account.role() != Role::Admin {
            return Err(ApiError::new(ErrorKind::Forbidden, "only an admin may do this"));
        }
        Ok(ApiAdmin(account))
    }
}

/// The signed-in person of a page request, if any, and how many unread
/// notifications they may see (for the navigation; counted for GETs only).
pub struct MaybeSession(pub Option<Account>, pub u64);

impl MaybeSession {
    /// What the templates know of the signed-in person.
    pub fn viewer(&self) -> Option<Viewer> {
        Viewer::of(&self.0).map(|viewer| Viewer {
            unread: unread_label(self.1),
            ..viewer
        })
    }
}

/// The unread count as the navigation shows it: nothing for none, "99+"
/// past what is counted.
fn unread_label(unread: u64) -> String {
    match unread {
        0 => String::new(),
        n if n >= healthcommons_service::notifications::MAX_UNREAD_COUNTED => "99+".into(),
        n => n.to_string(),
    }
}

impl FromRequestParts<AppState> for MaybeSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(cookie) = jar.get(SESSION_COOKIE) else {
            return Ok(MaybeSession(None, 0));
        };
        let account = accounts::account_for_session(state.read_db(), cookie.value()).await?;
        // Only a page that is read shows the navigation: a form's POST answers
        // with a redirect, and need not count anything.
        let shows_navigation = parts.method == http::Method::GET;
        let unread = match &account {
            Some(account) if shows_navigation => {
                state.processor.notifications().unread_count(account).await?
            }
            _ => 0,
        };
        Ok(MaybeSession(account, unread))
    }
}

/// What templates know of the viewer.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub username: String,
    pub is_admin: bool,
    /// Unread notifications, as the navigation shows them ("" for none).
    pub unread: String,
    /// Mail to the person's address bounces: every page says so.
    pub email_bouncing: bool,
}

impl Viewer {
    pub fn of(account: &Option<Account>) -> Option<Viewer> {
        account.as_ref().map(|a| Viewer {
            username: a.user.username.clone(),
            is_admin: a.role() == Role::Admin,
            unread: String::new(),
            email_bouncing: a.user.email_bouncing_since.is_some(),
        })
    }
}

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The CSRF token of this browser (double-submit cookie), created if absent.
pub fn csrf_token(jar: CookieJar, secure: bool) -> (CookieJar, String) {
    if let Some(existing) = jar.get(CSRF_COOKIE) {
        let token = existing.value().to_owned();
        return (jar, token);
    }
    let token = random_token();
    let cookie = Cookie::build((CSRF_COOKIE, token.clone()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .build();
    (jar.add(cookie), token)
}

/// The CSRF token of a page whose forms only signed-in viewers see. An
/// anonymous visitor gets no cookie, so every anonymous visitor gets the same
/// page, which the read cache may then keep.
pub fn csrf_token_if_signed_in(jar: CookieJar, session: &MaybeSession, secure: bool) -> (CookieJar, String) {
    if session.0.is_none() {
        return (jar, String::new());
    }
    csrf_token(jar, secure)
}

/// A form whose `csrf` field matches the browser's CSRF cookie: the one
/// extractor every page form goes through, so no handler can forget the
/// check. Anything else is refused before the handler runs.
pub struct CheckedForm<T>(pub T);

/// The one field every page form carries.
#[derive(serde::Deserialize)]
struct CsrfToken {
    #[serde(default)]
    csrf: String,
}

impl<T> axum::extract::FromRequest<AppState> for CheckedForm<T>
where
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = crate::error::PageError;

    async fn from_request(
        request: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(request.headers());
        let headers = request.headers().clone();
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::new(ErrorKind::Validation, e.body_text()))?;
        // The same bytes read twice: once for the token, once for the form.
        let read = |bytes: axum::body::Bytes| {
            let mut again = axum::extract::Request::new(axum::body::Body::from(bytes));
            *again.method_mut() = http::Method::POST;
            *again.headers_mut() = headers.clone();
            again
        };
        let rejected =
            |e: axum::extract::rejection::FormRejection| ApiError::new(ErrorKind::Validation, e.body_text());
        let axum::Form(token) = axum::Form::<CsrfToken>::from_request(read(bytes.clone()), state)
            .await
            .map_err(rejected)?;
        check_csrf(&jar, &token.csrf)?;
        let axum::Form(form) = axum::Form::<T>::from_request(read(bytes), state)
            .await
            .map_err(rejected)?;
        Ok(CheckedForm(form))
    }
}

/// A form POST must carry the token that matches the browser's CSRF cookie.
pub fn check_csrf(jar: &CookieJar, submitted: &str) -> Result<(), ApiError> {
    let expected = jar
        .get(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if expected.is_empty() || !bool::from(expected.as_bytes().ct_eq(submitted.as_bytes())) {
        return Err(ApiError::new(
            ErrorKind::Forbidden,
            "this form has expired; reload the page and try again",
        ));
    }
    Ok(())
}

pub fn session_cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, token))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .build()
}
