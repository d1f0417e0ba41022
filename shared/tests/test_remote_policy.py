"""Which URLs a service may fetch: trusted bases matched exactly, non-public addresses refused.

Pure: the resolver is a fake, so no test here looks anything up or connects anywhere.
"""

from __future__ import annotations

import ipaddress

import pytest

from painflow_shared.fhir.remote_policy import (
    IPAddress,
    RemotePolicy,
    RemoteRefused,
    address_category,
    parse_base,
)

EHR = "https://ehr.example.org/fhir"


def resolver(*addresses: str):  # type: ignore[no-untyped-def]
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[IPAddress]:
        calls.append(host)
        return [ipaddress.ip_address(a) for a in addresses]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


def no_dns(host: str, port: int) -> list[IPAddress]:
    raise AssertionError(f"a refused URL must not be resolved (asked for {host})")


@pytest.mark.parametrize(
    "url",
    [
        f"{EHR}/Patient/1",
        "https://EHR.example.org/fhir/Patient/1",  # host names are case-insensitive
        "https://ehr.example.org:443/fhir/Patient/1",  # the default port, spelled out
        f"{EHR}/Patient/1/_history/2",
    ],
)
def test_urls_under_a_trusted_base_are_trusted(url):
    assert RemotePolicy.from_bases([EHR]).is_trusted(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://ehr.example.org.evil.com/fhir/Patient/1",  # a longer host
        "https://evil.com/ehr.example.org/fhir/Patient/1",
        "https://ehr.example.org/fhir-other/Patient/1",  # not on a segment boundary
        "https://ehr.example.org/Patient/1",  # outside the base path
        "https://ehr.example.org/fhir",  # the base itself names no resource
        "http://ehr.example.org/fhir/Patient/1",  # another scheme
        "https://ehr.example.org:8443/fhir/Patient/1",  # another port
        "https://user@ehr.example.org/fhir/Patient/1",  # user information
        "https://ehr.example.org:pw@evil.com/fhir/Patient/1",
        "https://evil.com#@ehr.example.org/fhir/Patient/1",
        "https://ehr.example.org/fhir/../admin/Patient/1",  # dot segments
        "https://ehr.example.org/fhir/%2e%2e/admin/Patient/1",  # percent-escapes
        "https://ehr.example.org%2eevil.com/fhir/Patient/1",
        "https://ehr.example.org/fhir/Patient/1?_format=xml",  # a query
        "https://ehr.example.org\\@evil.com/fhir/Patient/1",  # a backslash
        "ftp://ehr.example.org/fhir/Patient/1",
        "https:///fhir/Patient/1",
        "https://ehr.example.org:99999/fhir/Patient/1",  # not a port
        "Patient/1",
    ],
)
def test_look_alike_urls_are_not_trusted_and_never_resolved(url):
    policy = RemotePolicy.from_bases([EHR])
    assert not policy.is_trusted(url)
    with pytest.raises(RemoteRefused):
        policy.allowed_addresses(url, no_dns)


def test_no_base_is_trusted_by_default():
    with pytest.raises(RemoteRefused, match="not a trusted FHIR base"):
        RemotePolicy().allowed_addresses(f"{EHR}/Patient/1", no_dns)


def test_a_base_at_the_servers_root_takes_any_path_on_that_origin():
    policy = RemotePolicy.from_bases(["https://ehr.example.org/"])
    assert policy.is_trusted("https://ehr.example.org/Patient/1")
    assert not policy.is_trusted("https://ehr.example.org.evil.com/Patient/1")


@pytest.mark.parametrize(
    "base", ["https://user:pw@ehr.example.org/fhir", "ftp://x/fhir", "not a url", "https://x/?a=1"]
)
def test_a_malformed_trusted_base_is_a_configuration_error(base):
    with pytest.raises(ValueError):
        parse_base(base)


@pytest.mark.parametrize(
    ("address", "category"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
        ("2002:7f00:1::", "loopback"),  # 6to4 around 127.0.0.1
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("::ffff:192.168.1.1", "private"),
        ("fd12:3456::1", "private"),  # unique-local
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("100.64.0.1", "reserved"),  # shared address space (carrier-grade NAT)
        ("240.0.0.1", "private"),  # reserved 240/4: Python files it under private
        ("93.184.215.14", None),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", None),
    ],
)
def test_address_categories(address, category):
    assert address_category(ipaddress.ip_address(address)) == category


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "::1", "10.0.0.1", "192.168.1.1", "169.254.169.254", "fd00::1"]
)
def test_a_trusted_host_name_resolving_to_a_non_public_address_is_refused(address):
    policy = RemotePolicy.from_bases([EHR])
    with pytest.raises(RemoteRefused, match="resolves to a"):
        policy.allowed_addresses(f"{EHR}/Patient/1", resolver(address))


def test_one_non_public_answer_among_public_ones_is_enough_to_refuse():
    policy = RemotePolicy.from_bases([EHR])
    with pytest.raises(RemoteRefused, match="link-local"):
        policy.allowed_addresses(f"{EHR}/Patient/1", resolver("93.184.215.14", "169.254.169.254"))


def test_a_public_answer_is_allowed_and_is_what_the_client_may_connect_to():
    policy = RemotePolicy.from_bases([EHR])
    addresses = policy.allowed_addresses(f"{EHR}/Patient/1", resolver("93.184.215.14"))
    assert addresses == [ipaddress.ip_address("93.184.215.14")]


def test_allowing_private_bases_admits_private_ranges_only():
    policy = RemotePolicy.from_bases([EHR], allow_private=True)
    assert policy.allowed_addresses(f"{EHR}/Patient/1", resolver("10.0.0.1", "fd00::1"))
    for address in ("127.0.0.1", "169.254.169.254", "::1"):
        with pytest.raises(RemoteRefused):
            policy.allowed_addresses(f"{EHR}/Patient/1", resolver(address))


@pytest.mark.parametrize(
    "base", ["http://127.0.0.1:8090/fhir", "http://[::1]:8090/fhir", "http://10.2.0.7:8090/fhir"]
)
def test_a_base_naming_a_literal_ip_explicitly_trusts_that_address(base):
    policy = RemotePolicy.from_bases([base])
    host = parse_base(base).origin.host
    assert policy.allowed_addresses(f"{base}/Patient/1", resolver(host))


def test_a_literal_ip_base_trusts_that_address_only():
    policy = RemotePolicy.from_bases(["http://127.0.0.1:8090/fhir"])
    assert not policy.is_trusted("http://127.0.0.2:8090/fhir/Patient/1")
    assert not policy.is_trusted("http://localhost:8090/fhir/Patient/1")
    assert not policy.is_trusted("http://2130706433:8090/fhir/Patient/1")  # 127.0.0.1 as a number


def test_a_host_name_never_borrows_a_literal_bases_trust():
    policy = RemotePolicy.from_bases(["http://localhost:8090/fhir"])
    with pytest.raises(RemoteRefused, match="loopback"):
        policy.allowed_addresses("http://localhost:8090/fhir/Patient/1", resolver("127.0.0.1"))
