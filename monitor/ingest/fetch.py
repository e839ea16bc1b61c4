"""Fetching feeds politely and safely: conditional GET, http(s) only, deadlines, size caps, few redirects,
public addresses only.

The body is read raw and decompressed here, in bounded steps, so a small gzip "bomb" can never expand
past the cap in memory; redirects are followed by hand so every hop's scheme and address are checked.
Connections go through `address_guard.GuardedBackend`, which connects only to the addresses it checked
(see monitor/ingest/address_guard.py): no feed, and no redirect, reaches inside the network.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Literal, Optional
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from monitor import __version__
from monitor.ingest.address_guard import AddressGuard, AddressRefused, GuardedBackend

USER_AGENT = f"DetentionMonitor/{__version__} (news feed reader for humanitarian monitoring; polite polling)"
MAX_REDIRECTS = 5
REDIRECT_CODES = (301, 302, 303, 307, 308)
ALLOWED_SCHEMES = ("http", "https")
_CHUNK = 64 * 1024


# Why a fetch produced no usable body, for the feed's health and for tests; "stopped" is the pipeline's own
# (the worker is stopping, or its claim on the feed ran out) and is never recorded as a feed failure.
FetchErrorKind = Literal["scheme", "url", "address", "encoding", "too_large", "timeout", "redirect", "http", "network",
                         "stopped"]


class FetchError(Exception):
    """A fetch that produced no usable body; `kind` is a short machine-readable reason."""

    def __init__(self, kind: FetchErrorKind, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class FetchLimits:
    connect_timeout: float = 10.0
    deadline: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    # Setting allow_private_feeds: loopback and private addresses are fetched (labs and tests only).
    allow_private: bool = False

    @property
    def guard(self) -> AddressGuard:
        return AddressGuard(allow_private=self.allow_private)


@dataclass
class FetchRequest:
    url: str
    etag: Optional[str] = None
    last_modified: Optional[str] = None


@dataclass
class FetchResult:
    url: str
    final_url: str = ""
    status: Optional[int] = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    error_kind: Optional[FetchErrorKind] = None
    error: Optional[str] = None
    elapsed: float = 0.0
    retry_after: Optional[timedelta] = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise FetchError("scheme", f"only http and https are fetched, not {parts.scheme or 'a bare path'!r}: {url}")
    if not parts.hostname:
        raise FetchError("url", f"no host in {url!r}")


def check_feed_address(url: str, allow_private: bool) -> None:
    """For adding a feed: AddressRefused when its host is, or resolves to, an address feeds may not reach.

    A name that does not resolve now is let through: every fetch checks it again before connecting.
    """
    AddressGuard(allow_private=allow_private).check_url(url)


def check_address(guard: AddressGuard, url: str) -> None:
    """AddressRefused when the URL's host is, or resolves to, an address feeds may not reach."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        raise FetchError("url", f"bad port in {url!r}") from None
    try:
        guard.checked_addresses(parts.hostname or "", port)
    except httpcore.ConnectError as exc:
        raise FetchError("network", str(exc)) from None


def parse_retry_after(value: Optional[str], now: Optional[datetime] = None) -> Optional[timedelta]:
    """Retry-After is either seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(when - (now or datetime.now(timezone.utc)), timedelta(0))


class _Decoder:
    """Incremental gzip/deflate decoding with a hard cap on the decoded size."""

    def __init__(self, encoding: str, max_bytes: int):
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            self._zlib = None
        elif encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj(32 + zlib.MAX_WBITS)  # zlib or gzip header, auto-detected
        else:
            raise FetchError("encoding", f"unsupported Content-Encoding {encoding!r}")
        self.max_bytes = max_bytes
        self.parts: list[bytes] = []
        self.size = 0

    def _keep(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise FetchError("too_large", f"body exceeds {self.max_bytes:,} bytes once decompressed")
        self.parts.append(data)

    def feed(self, chunk: bytes) -> None:
        if self._zlib is None:
            self._keep(chunk)
            return
        data = chunk
        while data:
            # max_length bounds each step: a tiny compressed chunk cannot balloon in memory.
            out = self._zlib.decompress(data, _CHUNK)
            self._keep(out)
            data = self._zlib.unconsumed_tail
        if self._zlib.eof and self._zlib.unused_data:
            pass  # trailing garbage after a complete gzip member is ignored, as browsers do

    def finish(self) -> bytes:
        if self._zlib is not None:
            try:
                self._keep(self._zlib.flush())
            except zlib.error as exc:
                raise FetchError("encoding", f"corrupt compressed body: {exc}") from None
        return b"".join(self.parts)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport, with connections made by the address guard's backend.

    httpx offers no way to hand its connection pool a network backend, so the pool is built here the
    way httpx builds it, with ours: the address checked is the address connected to.
    """

    def __init__(self, guard: AddressGuard, limits: httpx.Limits):
        super().__init__(limits=limits, trust_env=False)
        self._pool.close()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(guard),
        )


def make_client(limits: FetchLimits) -> httpx.Client:
    pool_limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
    return httpx.Client(
        follow_redirects=False,
        timeout=httpx.Timeout(limits.deadline, connect=limits.connect_timeout),
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate",
                 "Accept": ("application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, "
                            "*/*;q=0.5")},
        transport=GuardedTransport(limits.guard, pool_limits),
        trust_env=False,
    )


def fetch_feed(client: httpx.Client, request: FetchRequest, limits: FetchLimits = FetchLimits()) -> FetchResult:
    """GET one feed. Never raises for network or server trouble: the result carries the error."""
    started = time.monotonic()
    deadline = started + limits.deadline
    result = FetchResult(url=request.url)
    headers = {}
    if request.etag:
        headers["If-None-Match"] = request.etag
    if request.last_modified:
        headers["If-Modified-Since"] = request.last_modified
    url = request.url
    guard = limits.guard
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            check_url(url)
            # Checked here too, for a clear refusal even from a client not made by make_client; the
            # guarded transport then checks the address it actually connects to.
            check_address(guard, url)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError("timeout", f"no answer within {limits.deadline:g} s")
            timeout = httpx.Timeout(remaining, connect=min(limits.connect_timeout, remaining))
            with client.stream("GET", url, headers=headers, timeout=timeout) as response:
                if response.status_code in REDIRECT_CODES:
                    location = response.headers.get("Location")
                    if not location:
                        raise FetchError("redirect", f"HTTP {response.status_code} without a Location header")
                    url = urljoin(url, location)
                    continue
                result.status = response.status_code
                result.final_url = str(response.url)
                result.headers = {k.lower(): v for k, v in response.headers.items()}
                if response.status_code in (429, 503):
                    result.retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if response.status_code != 200:
                    if response.status_code != 304:
                        result.error_kind = "http"
                        result.error = f"HTTP {response.status_code} {response.reason_phrase}".strip()
                    return result
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > limits.max_bytes:
                    raise FetchError("too_large",
                                     f"Content-Length {int(declared):,} exceeds {limits.max_bytes:,} bytes")
                decoder = _Decoder(response.headers.get("Content-Encoding", ""), limits.max_bytes)
                raw_size = 0
                for chunk in response.iter_raw():  # as received: a chunk size would buffer past the deadline
                    raw_size += len(chunk)
                    if raw_size > limits.max_bytes:
                        raise FetchError("too_large", f"body exceeds {limits.max_bytes:,} bytes")
                    decoder.feed(chunk)
                    if time.monotonic() > deadline:
                        raise FetchError("timeout", f"body not complete within {limits.deadline:g} s")
                result.body = decoder.finish()
                # The body is decoded here; feedparser must not try to decode it again.
                result.headers.pop("content-encoding", None)
                return result
        raise FetchError("redirect", f"more than {MAX_REDIRECTS} redirects")
    except FetchError as exc:
        result.error_kind, result.error = exc.kind, str(exc)
    except AddressRefused as exc:
        result.error_kind, result.error = AddressRefused.kind, f"refused {url}: {exc}"
    except httpx.TimeoutException as exc:
        result.error_kind, result.error = "timeout", f"timed out ({type(exc).__name__})"
    except httpx.HTTPError as exc:
        result.error_kind, result.error = "network", f"{type(exc).__name__}: {exc}"
    finally:
        result.elapsed = time.monotonic() - started
    return result
