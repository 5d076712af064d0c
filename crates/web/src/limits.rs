//! Two guards in front of the routes: sign-ins and registrations are rate
//! limited per client address, and in authorized-fetch mode every
//! ActivityPub GET must carry a valid HTTP signature.

use crate::{AppState, error::ApiError};
use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use healthcommons_core::ErrorKind;
use healthcommons_federation::{inbox, negotiation, rate_limit::retry_after_secs};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use std::net::{IpAddr, SocketAddr};

/// Where people sign in, register or reset a password: each POST spends one
/// of the address's tokens.
const AUTH_PATHS: [&str; 5] = [
    "/api/v1/accounts",
    "/api/v1/auth/token",
    "/login",
    "/register",
    "/password/forgot",
];
/// Reset links (`/password/reset/TOKEN`) are limited alike, so their secrets cannot be guessed fast.
const RESET_PREFIX: &str = "/password/reset/";

/// The instance actor stays readable without a signature, so that a node in
/// authorized-fetch mode and another one can each fetch the other's key.
const UNSIGNED_ACTOR: &str = "/actor";

pub async fn limit_sign_ins(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if request.method() == Method::POST && (AUTH_PATHS.contains(&path) || path.starts_with(RESET_PREFIX)) {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        let client = client_address(peer, request.headers(), &state.trusted_proxies);
        let key = client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        if let Err(wait) = state.context().settings.limits.auth_per_ip.check(&key) {
            let seconds = retry_after_secs(wait);
            let message = format!("too many attempts from your address; try again in {seconds} s");
            let mut response = if request.uri().path().starts_with("/api/") {
                ApiError::new(ErrorKind::RateLimited, message).into_response()
            } else {
                (StatusCode::TOO_MANY_REQUESTS, message).into_response()
            };
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            return response;
        }
    }
    next.run(request).await
}

/// The address a request came from: the connection's peer, or, when that
/// peer is a trusted reverse proxy, the last `X-Forwarded-For` entry that is
/// not itself a trusted proxy.
pub fn client_address(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|part| part.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted.contains(ip))
            .unwrap_or(peer),
    )
}

pub async fn authorized_fetch(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let wants_json = negotiation::wants_activity_json(
        request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok()),
    );
    let guarded = state.context().settings.authorized_fetch
        && (request.method() == Method::GET || request.method() == Method::HEAD)
        && wants_json
        && request.uri().path() != UNSIGNED_ACTOR;
    if !guarded {
        return next.run(request).await;
    }
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.uri().path().to_owned(), |p| p.as_str().to_owned());
    match inbox::verify_signed_fetch(&state.data(), request.headers(), &target).await {
        Ok(_) => {
            let mut response = next.run(request).await;
            response
                .headers_mut()
                .insert(header::VARY, HeaderValue::from_static("Accept, Signature"));
            response
        }
        Err(rejection) => {
            let status = StatusCode::from_u16(rejection.status()).unwrap_or(StatusCode::UNAUTHORIZED);
            (status, rejection.to_string()).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().expect("ip");
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "6.6.6.6, 203.0.113.9".parse().expect("header"));
        let direct: IpAddr = "198.51.100.7".parse().expect("ip");
        assert_eq!(client_address(Some(direct), &headers, &[proxy]), Some(direct));
        assert_eq!(
            client_address(Some(proxy), &headers, &[proxy]),
            Some("203.0.113.9".parse().expect("ip")),
            "the proxy's own entry, not a spoofable first one"
        );
        assert_eq!(
            client_address(Some(proxy), &HeaderMap::new(), &[proxy]),
            Some(proxy)
        );
    }
}
