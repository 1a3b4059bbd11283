"""The client's address behind reverse proxies: ``X-Forwarded-For`` is believed only when
the connection comes from a proxy listed in ``api.trusted_proxies``.

Each proxy appends the address it received the request from, so the list is read from
the right: the first entry that is not itself a trusted proxy is the client. Anything to
its left was sent by the client and may be forged.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address

Network = IPv4Network | IPv6Network


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in proxies)


def client_address(peer: str | None, forwarded_for: str | None, proxies: Sequence[Network]) -> str:
    """The address to key rate limits on, given the connection's ``peer`` address."""
    if peer is None:
        return "unknown"
    if not forwarded_for or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            try:
                return str(ip_address(hop))
            except ValueError:  # a proxy would never append this: do not key on it
                return peer
    return hops[0] if hops else peer
