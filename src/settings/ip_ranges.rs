//! Sets of IP networks (CIDRs): Cloudflare's published ranges, from `config/cloudflare-ips.txt`
//! (committed with its source and date; `scripts/update-cloudflare-ips.sh` refreshes it) or from
//! `CLOUDFLARE_IP_RANGES` (comma-separated), which overrides it.

use std::net::IpAddr;

/// Cloudflare's ranges as committed.
const CLOUDFLARE_FILE: &str = include_str!("../../config/cloudflare-ips.txt");

/// A set of networks; an address is in it when any network contains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpRanges {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl IpRanges {
    /// Cloudflare's ranges as committed in `config/cloudflare-ips.txt`.
    pub fn cloudflare() -> Self {
        let networks = CLOUDFLARE_FILE
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'));
        Self::parse(networks).expect("config/cloudflare-ips.txt lists CIDRs")
    }

    /// Networks written `address/prefix` (a bare address is a /32 or /128); `Err` names the
    /// first one that is not.
    pub fn parse<'a>(networks: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut ranges = Self {
            v4: Vec::new(),
            v6: Vec::new(),
        };
        for network in networks {
            ranges
                .add(network.trim())
                .ok_or_else(|| format!("{network:?} is not an IP network"))?;
        }
        if ranges.v4.is_empty() && ranges.v6.is_empty() {
            return Err("lists no network".into());
        }
        Ok(ranges)
    }

    fn add(&mut self, network: &str) -> Option<()> {
        let (address, prefix) = match network.split_once('/') {
            Some((address, prefix)) => (
                address.parse::<IpAddr>().ok()?,
                Some(prefix.parse::<u32>().ok()?),
            ),
            None => (network.parse::<IpAddr>().ok()?, None),
        };
        match address {
            IpAddr::V4(v4) => {
                let prefix = prefix.unwrap_or(32);
                (prefix <= 32).then_some(())?;
                let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
                self.v4.push((u32::from(v4) & mask, mask));
            }
            IpAddr::V6(v6) => {
                let prefix = prefix.unwrap_or(128);
                (prefix <= 128).then_some(())?;
                let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
                self.v6.push((u128::from(v6) & mask, mask));
            }
        }
        Some(())
    }

    /// Whether `ip` (an IPv4-mapped IPv6 address counts as its IPv4 address) is in the set.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match ip {
            IpAddr::V4(v4) => {
                let v4 = u32::from(v4);
                self.v4.iter().any(|&(net, mask)| v4 & mask == net)
            }
            IpAddr::V6(v6) => {
                let v6 = u128::from(v6);
                self.v6.iter().any(|&(net, mask)| v6 & mask == net)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_committed_cloudflare_list_holds_its_ranges_and_nothing_else() {
        let cf = IpRanges::cloudflare();
        for inside in [
            "173.245.48.1",
            "104.16.0.0",
            "104.23.255.255",
            "2606:4700::1",
            "::ffff:172.64.1.1",
        ] {
            assert!(cf.contains(ip(inside)), "{inside}");
        }
        for outside in [
            "203.0.113.5",
            "104.32.0.0",
            "127.0.0.1",
            "2001:db8::1",
            "10.0.0.1",
        ] {
            assert!(!cf.contains(ip(outside)), "{outside}");
        }
    }

    #[test]
    fn networks_parse_with_or_without_a_prefix_and_bad_ones_are_named() {
        let ranges = IpRanges::parse([
            "192.0.2.0/24",
            " 198.51.100.7",
            "2001:db8::/32",
            "0.0.0.0/0",
        ])
        .unwrap();
        assert!(ranges.contains(ip("192.0.2.200")));
        assert!(ranges.contains(ip("8.8.8.8")), "a /0 holds every address");
        assert!(ranges.contains(ip("2001:db8:ffff::1")));
        assert!(!ranges.contains(ip("2001:db9::1")));
        let single = IpRanges::parse(["198.51.100.7"]).unwrap();
        assert!(single.contains(ip("198.51.100.7")));
        assert!(!single.contains(ip("198.51.100.8")));
        for bad in [
            "192.0.2.0/33",
            "2001:db8::/129",
            "example.com",
            "192.0.2.0/x",
            "",
        ] {
            let error = IpRanges::parse([bad]).unwrap_err();
            assert!(
                error.contains(bad) || error.contains("no network"),
                "{error}"
            );
        }
        assert!(IpRanges::parse([]).is_err());
    }
}
