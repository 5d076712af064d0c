//! The one HTTP client for every remote request. Its resolver answers each
//! name once and only with public unicast addresses (so a name cannot be
//! re-resolved to an internal address between check and connect); with dev
//! federation on it also knows the test host names from `dev_resolve`.

use crate::{FederationError, FederationSettings};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

pub const USER_AGENT: &str = concat!("healthcommons/", env!("CARGO_PKG_VERSION"));

pub fn build(settings: &FederationSettings) -> Result<reqwest::Client, FederationError> {
    // reqwest is built without a default TLS provider; ring is ours.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let resolver = PinnedResolver {
        allow_private: settings.dev_federation,
        overrides: Arc::new(if settings.dev_federation {
            settings.dev_resolve.clone()
        } else {
            HashMap::new()
        }),
    };
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .dns_resolver(Arc::new(resolver))
        .build()
        .map_err(|e| FederationError::Internal(format!("http client: {e}")))
}

#[derive(Clone)]
struct PinnedResolver {
    allow_private: bool,
    overrides: Arc<HashMap<String, IpAddr>>,
}

impl Resolve for PinnedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        Box::pin(async move {
            let host = name.as_str().to_ascii_lowercase();
            if let Some(ip) = this.overrides.get(&host) {
                let addrs: Addrs = Box::new(std::iter::once(SocketAddr::new(*ip, 0)));
                return Ok(addrs);
            }
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| this.allow_private || is_public_address(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// True only for global unicast addresses: never loopback, private, shared
/// (CGNAT), link-local, benchmarking, documentation, reserved, multicast, or
/// IPv6 forms that embed such an IPv4 address (mapped, compatible, NAT64, 6to4).
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let blocked = a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..=127).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..=31).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 0 && c == 2)
        || (a == 192 && b == 88 && c == 99)
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224;
    !blocked
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    let blocked = ip.is_unspecified()
        || ip.is_loopback()
        // IPv4-compatible ::a.b.c.d (deprecated, never global)
        || (s[0..6] == [0, 0, 0, 0, 0, 0])
        // NAT64 64:ff9b::/96 and local-use 64:ff9b:1::/48
        || (s[0] == 0x64 && s[1] == 0xff9b)
        // discard-only 100::/64
        || (s[0] == 0x100 && s[1..4] == [0, 0, 0])
        // IETF protocol assignments incl. Teredo, and documentation 2001:db8::/32
        || (s[0] == 0x2001 && s[1] < 0x200)
        || (s[0] == 0x2001 && s[1] == 0xdb8)
        // 6to4
        || s[0] == 0x2002
        // unique local fc00::/7, link-local fe80::/10, multicast ff00::/8
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xff00) == 0xff00;
    !blocked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public_address(s.parse().expect("test address"))
    }

    #[test]
    fn internal_ipv4_ranges_are_refused() {
        for addr in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "198.18.0.1",
            "198.19.255.1",
            "192.0.0.8",
            "240.0.0.1",
            "255.255.255.255",
            "0.0.0.0",
            "224.0.0.1",
        ] {
            assert!(!public(addr), "{addr} must not count as public");
        }
        for addr in ["1.1.1.1", "93.184.216.34", "100.128.0.1", "198.20.0.1"] {
            assert!(public(addr), "{addr} is public");
        }
    }

    #[test]
    fn ipv6_forms_embedding_internal_addresses_are_refused() {
        for addr in [
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
        ] {
            assert!(!public(addr), "{addr} must not count as public");
        }
        assert!(public("2a00:1450:4001:80b::200e"));
        assert!(public("::ffff:1.1.1.1"));
    }
}
