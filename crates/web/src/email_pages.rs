//! The pages email leads to: confirming an address, a forgotten password and
//! its one-time reset link, the account's email settings, and one-click
//! unsubscribe (RFC 8058), which works without signing in.

use crate::auth::CheckedForm;
use crate::{
    AppState,
    auth::{self, MaybeSession, Viewer},
    error::{ApiError, PageError, PageResult},
    pages::render,
};
use askama::Template;
use axum::{
    Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use axum_extra::extract::cookie::{Cookie, CookieJar};
use healthcommons_core::ErrorKind;
use healthcommons_service::{
    account_email::{self, AddressChange, AddressStatus},
    accounts::Account,
    mail::{self, EmailKind},
};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/email/verify/{token}", get(confirm_address))
        .route("/password/forgot", get(forgot_form).post(forgot))
        .route("/password/reset/{token}", get(reset_form).post(reset))
        .route("/settings/email", get(settings).post(save_settings))
        .route("/unsubscribe/{token}", get(unsubscribe_page).post(unsubscribe))
}

#[derive(Template)]
#[template(path = "email_notice.html")]
struct NoticePage {
    viewer: Option<Viewer>,
    title: &'static str,
    message: String,
    next_url: &'static str,
    next_label: &'static str,
}

fn notice(
    viewer: Option<Viewer>,
    status: StatusCode,
    title: &'static str,
    message: String,
) -> PageResult<Response> {
    let page = render(NoticePage {
        viewer,
        title,
        message,
        next_url: "/",
        next_label: "Go to the start page",
    })?;
    Ok((status, page).into_response())
}

/// The link in an address-check mail. A GET, because mail programs open
/// links with one; the secret in it is the proof.
async fn confirm_address(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(token): Path<String>,
) -> PageResult<Response> {
    let viewer = Viewer::of(&session.0);
    match account_email::confirm_address(state.db(), &token).await? {
        Some(address) => notice(
            viewer,
            StatusCode::OK,
            "Your address is confirmed",
            format!("Thank you: {address} is confirmed, and emails you choose to get will go there."),
        ),
        None => notice(
            viewer,
            StatusCode::NOT_FOUND,
            "This link does not work any more",
            "It has expired or was already used. Give your address again in your email settings to get a new one."
                .into(),
        ),
    }
}

#[derive(Template)]
#[template(path = "password_forgot.html")]
struct ForgotPage {
    viewer: Option<Viewer>,
    csrf: String,
    email_on: bool,
    sent: bool,
}

async fn forgot_form(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
) -> PageResult<Response> {
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let page = render(ForgotPage {
        viewer: Viewer::of(&session.0),
        csrf,
        email_on: state.processor.node().email,
        sent: false,
    })?;
    Ok((jar, page).into_response())
}

#[derive(Deserialize)]
struct ForgotForm {
    csrf: String,
    name_or_email: String,
}

/// The same answer whether an account matched or not; rate limited with the
/// sign-ins (see `limits`).
async fn forgot(
    State(state): State<AppState>,
    session: MaybeSession,
    CheckedForm(form): CheckedForm<ForgotForm>,
) -> PageResult<Response> {
    let node = state.processor.node();
    account_email::request_password_reset(state.db(), node, &form.name_or_email).await?;
    let page = render(ForgotPage {
        viewer: Viewer::of(&session.0),
        csrf: form.csrf,
        email_on: node.email,
        sent: true,
    })?;
    Ok(page.into_response())
}

#[derive(Template)]
#[template(path = "password_reset.html")]
struct ResetPage {
    viewer: Option<Viewer>,
    csrf: String,
    token: String,
    live: bool,
    error: Option<String>,
}

async fn reset_form(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    Path(token): Path<String>,
) -> PageResult<Response> {
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let live = account_email::reset_link_is_live(state.db(), &token).await?;
    let status = if live {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    let page = render(ResetPage {
        viewer: Viewer::of(&session.0),
        csrf,
        token,
        live,
        error: None,
    })?;
    Ok((status, jar, page).into_response())
}

#[derive(Deserialize)]
struct ResetForm {
    csrf: String,
    password: String,
}

/// Save the new password; every session ends, this browser's too, and the
/// person signs in again with it.
async fn reset(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(token): Path<String>,
    CheckedForm(form): CheckedForm<ResetForm>,
) -> PageResult<Response> {
    match account_email::reset_password(state.db(), &token, &form.password).await {
        Ok(_) => {
            let jar = jar.remove(Cookie::build(auth::SESSION_COOKIE).path("/").build());
            let page = render(NoticePage {
                viewer: None,
                title: "Your new password is saved",
                message: "You are signed out everywhere; sign in with your new password.".into(),
                next_url: "/login",
                next_label: "Sign in",
            })?;
            Ok((jar, page).into_response())
        }
        Err(err) if matches!(err.kind(), ErrorKind::Validation | ErrorKind::NotFound) => {
            let live = err.kind() == ErrorKind::Validation;
            let page = render(ResetPage {
                viewer: None,
                csrf: form.csrf,
                token,
                live,
                error: Some(err.public_message()),
            })?;
            let status = if live {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::NOT_FOUND
            };
            Ok((status, page).into_response())
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Template)]
#[template(path = "email_settings.html")]
struct SettingsPage {
    viewer: Option<Viewer>,
    csrf: String,
    email_on: bool,
    status: AddressStatus,
    /// Kinds turned off: (kind, how it is named).
    turned_off: Vec<(&'static str, &'static str)>,
    notice: Option<String>,
    error: Option<String>,
}

fn signed_in(session: &MaybeSession) -> PageResult<Account> {
    session.0.clone().ok_or_else(|| {
        PageError(ApiError::new(
            ErrorKind::Unauthorized,
            "sign in to see your email settings",
        ))
    })
}

async fn settings_page(
    state: &AppState,
    jar: CookieJar,
    session: &MaybeSession,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> PageResult<Response> {
    let account = signed_in(session)?;
    let settings = account_email::settings(state.db(), account.user.id).await?;
    let (jar, csrf) = auth::csrf_token(jar, state.secure_cookies);
    let page = render(SettingsPage {
        viewer: Viewer::of(&session.0),
        csrf,
        email_on: state.processor.node().email,
        status: settings.status,
        turned_off: settings
            .turned_off
            .into_iter()
            .map(|kind| (kind.as_str(), kind.plural_name()))
            .collect(),
        notice,
        error,
    })?;
    Ok((status, jar, page).into_response())
}

async fn settings(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
) -> PageResult<Response> {
    settings_page(&state, jar, &session, StatusCode::OK, None, None).await
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    email: Option<String>,
    /// A kind of mail to get again.
    #[serde(default)]
    turn_on: Option<String>,
}

async fn save_settings(
    State(state): State<AppState>,
    jar: CookieJar,
    session: MaybeSession,
    CheckedForm(form): CheckedForm<SettingsForm>,
) -> PageResult<Response> {
    let account = signed_in(&session)?;
    if let Some(kind) = form.turn_on.as_deref().and_then(EmailKind::parse) {
        mail::turn_back_on(state.db(), account.user.id, kind).await?;
        let notice = format!("You get {} by email again.", kind.plural_name());
        return settings_page(&state, jar, &session, StatusCode::OK, Some(notice), None).await;
    }
    let raw = form.email.unwrap_or_default();
    let node = state.processor.node();
    match account_email::change_address(state.db(), node, &account, &raw).await {
        Ok(change) => {
            let notice = match change {
                AddressChange::Removed => "Your address is removed: we send you no email.".to_owned(),
                AddressChange::CheckSent(address) => {
                    format!("We sent a link to {address}: open it to confirm your new address.")
                }
                AddressChange::Saved(address) => format!("Your address is now {address}."),
                AddressChange::Unchanged => "That is already your address.".to_owned(),
            };
            settings_page(&state, jar, &session, StatusCode::OK, Some(notice), None).await
        }
        Err(err) if err.kind() == ErrorKind::Validation => {
            let error = Some(err.public_message());
            settings_page(
                &state,
                jar,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                error,
            )
            .await
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    viewer: Option<Viewer>,
    token: String,
    kind: Option<&'static str>,
}

/// A person who opens the link in a browser: one button, no sign-in.
async fn unsubscribe_page(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(token): Path<String>,
) -> PageResult<Response> {
    let kind = mail::unsubscribe_kind(state.db(), &token).await?;
    let status = if kind.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    let page = render(UnsubscribePage {
        viewer: Viewer::of(&session.0),
        token,
        kind: kind.map(EmailKind::plural_name),
    })?;
    Ok((status, page).into_response())
}

/// RFC 8058's one-click POST (a mail program sends
/// `List-Unsubscribe=One-Click`), or the button above. No CSRF token: the
/// secret in the link is the authority, and all it can do is stop mail.
async fn unsubscribe(
    State(state): State<AppState>,
    session: MaybeSession,
    Path(token): Path<String>,
) -> PageResult<Response> {
    let viewer = Viewer::of(&session.0);
    match mail::unsubscribe(state.db(), &token).await? {
        Some(kind) => {
            let page = render(NoticePage {
                viewer,
                title: "You are unsubscribed",
                message: format!(
                    "You will get no more {} by email. You can turn them back on in your email settings.",
                    kind.plural_name()
                ),
                next_url: "/settings/email",
                next_label: "Your email settings",
            })?;
            Ok(page.into_response())
        }
        None => notice(
            viewer,
            StatusCode::NOT_FOUND,
            "Unknown link",
            "This unsubscribe link is not known here.".into(),
        ),
    }
}
