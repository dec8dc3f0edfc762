//! Protection of the endpoints: bearer token and client-address allow-list.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use subtle::ConstantTimeEq;

use super::refusals::RefusalReason;

/// A client network for [`MetricsEndpoints::allow`](super::MetricsEndpoints::allow):
/// an address (`127.0.0.1`, `::1`) or a CIDR block (`10.0.0.0/8`, `fd00::/8`).
///
/// ```
/// use fiko_metrics_axum::Network;
///
/// let loopback: Network = "127.0.0.0/8".parse()?;
/// assert!(loopback.contains("127.1.2.3".parse()?));
/// assert!(!loopback.contains("10.0.0.1".parse()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    /// `127.0.0.0/8`.
    pub const LOOPBACK_V4: Network = Network {
        address: IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 0)),
        prefix: 8,
    };
    /// `::1/128`.
    pub const LOOPBACK_V6: Network = Network {
        address: IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        prefix: 128,
    };

    /// The network of `address` with a `prefix`-bit mask; `None` if the prefix is longer
    /// than the address.
    pub fn new(address: IpAddr, prefix: u8) -> Option<Self> {
        let bits = if address.is_ipv4() { 32 } else { 128 };
        (prefix <= bits).then_some(Self { address, prefix })
    }

    /// Whether `address` lies in this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        match (self.address, address) {
            (IpAddr::V4(net), IpAddr::V4(addr)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(addr) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(addr)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(addr) & mask
            }
            _ => false,
        }
    }
}

/// Why a network did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidNetwork(String);

impl fmt::Display for InvalidNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not an IP address or CIDR block (e.g. `127.0.0.1`, `10.0.0.0/8`)",
            self.0
        )
    }
}

impl std::error::Error for InvalidNetwork {}

impl FromStr for Network {
    type Err = InvalidNetwork;

    fn from_str(text: &str) -> Result<Self, InvalidNetwork> {
        let invalid = || InvalidNetwork(text.to_owned());
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address.trim().parse().map_err(|_| invalid())?;
        let prefix = match prefix {
            Some(prefix) => prefix.trim().parse::<u8>().map_err(|_| invalid())?,
            None if address.is_ipv4() => 32,
            None => 128,
        };
        Self::new(address, prefix).ok_or_else(invalid)
    }
}

/// Who may read the endpoints.
#[derive(Clone, Default)]
pub(crate) struct Access {
    pub(crate) token: Option<Vec<u8>>,
    pub(crate) allow: Vec<Network>,
}

impl fmt::Debug for Access {
    // The token itself is never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Access")
            .field("bearer_token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("allow", &self.allow)
            .finish()
    }
}

impl Access {
    /// `Ok` when the request may proceed, else why not.
    pub(crate) fn check(&self, request: &http::request::Parts) -> Result<(), Refusal> {
        if !self.allow.is_empty() {
            // Without the peer address (the app was not served with connect info) nobody
            // is allowed: an allow-list fails closed.
            let client = request
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(address)| address.ip());
            match client {
                None => return Err(Refusal(RefusalReason::AddressUnknown)),
                Some(ip) if !self.allow.iter().any(|net| net.contains(ip)) => {
                    return Err(Refusal(RefusalReason::AddressNotAllowed));
                }
                Some(_) => {}
            }
        }
        if let Some(expected) = &self.token {
            let presented = request
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|value| bearer(value.as_bytes()));
            match presented {
                None => return Err(Refusal(RefusalReason::MissingToken)),
                Some(token) if !bool::from(token.ct_eq(expected)) => {
                    return Err(Refusal(RefusalReason::WrongToken));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// Why a request was refused: 403 for the address, 401 for the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Refusal(pub(crate) RefusalReason);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self.0 {
            RefusalReason::AddressNotAllowed | RefusalReason::AddressUnknown => {
                (StatusCode::FORBIDDEN, "client address not allowed\n").into_response()
            }
            RefusalReason::MissingToken | RefusalReason::WrongToken => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
                "missing or invalid bearer token\n",
            )
                .into_response(),
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header value.
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let scheme = value.get(..7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = value.get(7..)?.trim_ascii();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::{Network, bearer};

    #[test]
    fn networks_parse_and_match() {
        let net: Network = "10.1.0.0/16".parse().expect("cidr");
        assert!(net.contains("10.1.255.3".parse().expect("ip")));
        assert!(!net.contains("10.2.0.1".parse().expect("ip")));
        let all: Network = "0.0.0.0/0".parse().expect("cidr");
        assert!(all.contains("8.8.8.8".parse().expect("ip")));
        let one: Network = "::1".parse().expect("ip");
        assert!(one.contains("::1".parse().expect("ip")));
        assert!(!one.contains("::2".parse().expect("ip")));
        assert!(Network::LOOPBACK_V4.contains("::ffff:127.0.0.1".parse().expect("mapped")));
        for bad in ["", "10.0.0.0/33", "::/129", "localhost", "1.2.3.4/x"] {
            assert!(bad.parse::<Network>().is_err(), "{bad}");
        }
    }

    #[test]
    fn bearer_tokens_are_extracted() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer "), None);
    }
}
