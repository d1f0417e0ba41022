"""Which remote FHIR servers a service may call: the guard against server-side request forgery.

A URL is fetched only when it lies under a configured trusted base: the same scheme, host and
port, and a path under the base's path on a segment boundary. URLs with user information, a
query, a fragment, percent-escapes or dot segments are refused outright, so no spelling of a
URL can reach past the check. Then every address the host resolves to must be allowed:

- a public address always is;
- a private or unique-local address (10/8, 172.16/12, 192.168/16, fc00::/7) only when the
  operator allows private bases, or when the trusted base names that literal IP;
- loopback, link-local (cloud metadata lives at 169.254.169.254), multicast, unspecified and
  other reserved addresses only when the trusted base names that literal IP.

"Explicitly trusted" therefore means: the operator wrote the IP itself into the trusted base.
A host name never earns more than "private allowed", because DNS answers can change.
The checked addresses are the only ones a client may then connect to (see remote_client.py).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[IPAddress]]
DEFAULT_PORTS = {"http": 80, "https": 443}
PRIVATE = "private"  # the one category an operator may allow for host names


class RemoteRefused(Exception):
    """A URL the policy will not fetch; the message says why, never the URL itself."""


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str  # lower case; an IPv6 literal without brackets
    port: int


@dataclass(frozen=True)
class TrustedBase:
    origin: Origin
    path: str  # without a trailing slash; "" for a server's root

    @property
    def literal_ip(self) -> IPAddress | None:
        return _ip_or_none(self.origin.host)

    def contains(self, origin: Origin, path: str) -> bool:
        return origin == self.origin and path.startswith(f"{self.path}/")


def parse_base(text: str) -> TrustedBase:
    """A configured base URL; ValueError for anything but a plain http(s) base."""
    try:
        origin, path = split_url(text.strip())
    except RemoteRefused as exc:
        raise ValueError(f"a trusted FHIR base must be a plain http(s) URL: {exc}") from None
    return TrustedBase(origin, path.rstrip("/"))


def split_url(url: str) -> tuple[Origin, str]:
    """Origin and path of a URL that has nothing a check could be fooled by."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise RemoteRefused("it is not a well-formed URL") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise RemoteRefused("only http and https URLs with a host are fetched")
    if parts.username is not None or parts.password is not None:
        raise RemoteRefused("URLs with user information are not fetched")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise RemoteRefused("URLs with a query or fragment are not fetched")
    if "%" in url or "\\" in url or any(s in (".", "..") for s in parts.path.split("/")):
        raise RemoteRefused("URLs with percent-escapes or dot segments are not fetched")
    host = parts.hostname.lower()
    return Origin(scheme, host, port or DEFAULT_PORTS[scheme]), parts.path


def address_category(address: IPAddress) -> str | None:
    """The non-public range an address is in, or None for a public address."""
    address = _embedded_ipv4(address) or address
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return PRIVATE
    return None if address.is_global else "reserved"


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for a host (OSError when there is none)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


@dataclass(frozen=True)
class RemotePolicy:
    trusted: tuple[TrustedBase, ...] = ()
    allow_private: bool = False

    @classmethod
    def from_bases(cls, bases: Iterable[str], *, allow_private: bool = False) -> RemotePolicy:
        return cls(tuple(parse_base(b) for b in bases if b.strip()), allow_private)

    def trusted_base_for(self, url: str) -> TrustedBase:
        """The trusted base a URL lies under; RemoteRefused without any DNS look-up."""
        origin, path = split_url(url)
        for base in self.trusted:
            if base.contains(origin, path):
                return base
        raise RemoteRefused("the server is not a trusted FHIR base")

    def is_trusted(self, url: str) -> bool:
        """Whether a URL lies under a trusted base (pure: no DNS, no address check)."""
        try:
            self.trusted_base_for(url)
        except RemoteRefused:
            return False
        return True

    def allowed_addresses(self, url: str, resolve: Resolver = resolve_host) -> list[IPAddress]:
        """The addresses a client may connect to for ``url``: all of them, or RemoteRefused."""
        base = self.trusted_base_for(url)
        addresses = resolve(base.origin.host, base.origin.port)
        if not addresses:
            raise OSError("the host name resolves to no address")
        for address in addresses:
            self._check(base, address)
        return addresses

    def _check(self, base: TrustedBase, address: IPAddress) -> None:
        category = address_category(address)
        if category is None or address == base.literal_ip:
            return
        if category == PRIVATE and self.allow_private:
            return
        raise RemoteRefused(
            f"the trusted server's host resolves to a {category} address, which is refused "
            "unless the trusted base names that IP address itself"
        )


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d) or 6to4 IPv6 address."""
    if isinstance(address, ipaddress.IPv6Address):
        return address.ipv4_mapped or address.sixtofour
    return None


def _ip_or_none(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
