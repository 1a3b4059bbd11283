"""The client address behind reverse proxies: X-Forwarded-For only from trusted proxies,
so the kiosk's rate limit keys on the visitor's device, never on the proxy."""

from __future__ import annotations

from ipaddress import ip_network

import pytest
from fastapi.testclient import TestClient

from cloud.api import create_app
from cloud.api.proxies import client_address
from tests.cloud.api.conftest import Booth

PROXIES = [ip_network("10.0.0.0/24"), ip_network("fd00::/64")]


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.5", None, "203.0.113.5"),
        ("203.0.113.5", "198.51.100.1", "203.0.113.5"),  # not a proxy: header ignored
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.9", "198.51.100.1"),  # forged left part
        ("10.0.0.2", "10.0.0.3, 10.0.0.9", "10.0.0.3"),  # all proxies: the first hop
        ("10.0.0.2", "not-an-address", "10.0.0.2"),
        ("fd00::1", "2001:db8::7", "2001:db8::7"),
        (None, "198.51.100.1", "unknown"),
    ],
)
def test_client_address(peer: str | None, forwarded: str | None, expected: str) -> None:
    assert client_address(peer, forwarded, PROXIES) == expected


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_kiosk_limit_keys_on_the_client_behind_a_trusted_proxy(booth: Booth) -> None:
    api = booth.settings.api.model_copy(
        update={"kiosk_per_minute": 2, "trusted_proxies": [ip_network("10.0.0.1/32")]}
    )
    app = create_app(
        booth.settings.model_copy(update={"api": api}),
        engine=booth.engine,
        link=booth.link,
        storage=booth.storage,
    )

    def register(c: TestClient, i: int, forwarded: str) -> int:
        body = {"email": f"v{i}@example.com", "consent": True}
        return c.post(
            "/api/visitors", json=body, headers={"X-Forwarded-For": forwarded}
        ).status_code

    with TestClient(app, client=("10.0.0.1", 5000)) as proxy:
        assert [register(proxy, i, "198.51.100.1") for i in range(3)] == [201, 201, 429]
        assert register(proxy, 3, "198.51.100.2") == 201  # another visitor's device
    with TestClient(app, client=("192.0.2.9", 5000)) as direct:
        codes = [register(direct, 10 + i, f"198.51.100.{50 + i}") for i in range(3)]
        assert codes == [201, 201, 429]  # a forged header from a non-proxy changes nothing
