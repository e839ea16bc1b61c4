"""Notification URLs (Apprise): checking them, showing them masked, and sending one notification to one URL.

A subscriber's URLs name chat and push services the way Apprise writes them: json:// and xml:// webhooks,
slack://, matrix://, tgram://, signal://, ntfy://, and the rest Apprise supports. Most carry a secret
(a token, a password, a webhook path), so a URL is stored once, on the subscriber, and everything that
shows one — CLI, dashboard, the outbox audit, logs, error messages — shows `mask_url(url)` instead, and
every error text passes through `scrub(text, url)` first.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import apprise

# Webhook plugins that take extra HTTP headers: the notification's stable id travels in this one, so a
# receiver can recognise a repeat (the body carries it too, for every other service).
ID_HEADER = "X-Detention-Monitor-Id"
MAX_URL_CHARS = 2000
_TOKEN_SPLIT = re.compile(r"[/:@?&=#,;+]+")
# Shorter pieces of a URL (ports, "hook", "www") are not secrets and masking them would garble messages.
_MIN_SECRET_CHARS = 4


class ChannelError(ValueError):
    """A notification URL that cannot be used; the message never contains the URL's secrets."""


def url_key(url: str) -> str:
    """A stable name for one URL (its hash): the outbox refers to a URL by this, never by the URL itself."""
    return hashlib.sha256(url.strip().encode("utf-8")).hexdigest()[:32]


def _plugin(url: str):
    try:
        return apprise.Apprise.instantiate(url, suppress_exceptions=True)
    except Exception:  # a malformed URL can trip a plugin's own parser; it is simply not usable
        return None


def _fallback_mask(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme or '?'}://{host + '/' if host else ''}****"


def mask_url(url: str) -> str:
    """The URL as Apprise shows it with privacy on (passwords and tokens as ****), without its options."""
    plugin = _plugin(url)
    if plugin is None:
        return _fallback_mask(url)
    try:
        shown = plugin.url(privacy=True)
    except Exception:
        return _fallback_mask(url)
    return shown.split("?", 1)[0]


def _secrets(url: str) -> set[str]:
    """The pieces of a URL that its masked form leaves out: what must never be printed."""
    masked_tokens = set(_TOKEN_SPLIT.split(mask_url(url)))
    secrets = {token for token in _TOKEN_SPLIT.split(url) if len(token) >= _MIN_SECRET_CHARS
               and token not in masked_tokens}
    parts = urlsplit(url)
    if parts.password:
        secrets.add(parts.password)
    return secrets


def scrub(text: str, *urls: str) -> str:
    """`text` with every URL given, and every secret in them, replaced by its masked form or ****."""
    for url in urls:
        if not url:
            continue
        text = text.replace(url, mask_url(url))
        for secret in sorted(_secrets(url), key=len, reverse=True):
            text = text.replace(secret, "****")
    return text


class _ScrubSecrets(logging.Filter):
    """On Apprise's logger: secrets of the URLs being sent are masked before any handler sees a record."""

    def __init__(self):
        super().__init__()
        self._urls: set[str] = set()
        self._lock = threading.Lock()

    def sending(self, url: str) -> None:
        with self._lock:
            self._urls.add(url)

    def done(self, url: str) -> None:
        with self._lock:
            self._urls.discard(url)

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            urls = list(self._urls)
        if urls:
            record.msg = scrub(record.getMessage(), *urls)
            record.args = None
        return True


_log_filter = _ScrubSecrets()
logging.getLogger("apprise").addFilter(_log_filter)


def check_url(url: str) -> str:
    """The URL, stripped, if Apprise can send to it; ChannelError (with the URL masked) if not."""
    url = (url or "").strip()
    if not url:
        raise ChannelError("a notification URL is empty")
    if len(url) > MAX_URL_CHARS:
        raise ChannelError(f"a notification URL is longer than {MAX_URL_CHARS} characters")
    if "://" not in url:
        raise ChannelError(f"{_fallback_mask(url)} is not a notification URL (expected SERVICE://..., e.g. "
                           "json://host/path, slack://..., ntfy://topic)")
    if _plugin(url) is None:
        scheme = url.split("://", 1)[0]
        raise ChannelError(f"{_fallback_mask(url)}: {scheme}:// is not a service Apprise knows, or the URL is "
                           "incomplete (see https://github.com/caronc/apprise/wiki for each service's form)")
    return url


@dataclass
class Delivery:
    ok: bool
    # An outage (no connection) may last; anything else (an HTTP error answer, a refused token) is a refusal.
    outage: bool = False
    error: str = ""


def _notify_type(severity: str | None):
    if severity in ("high", "critical"):
        return apprise.NotifyType.FAILURE
    if severity == "medium":
        return apprise.NotifyType.WARNING
    return apprise.NotifyType.INFO


def send_to_url(url: str, title: str, body: str, notification_id: str, severity: str | None) -> Delivery:
    """Send one notification to one URL; never raises for the service's trouble, and no secret in the error."""
    plugin = _plugin(url)
    if plugin is None:
        return Delivery(ok=False, error=f"{mask_url(url)} is no longer a URL Apprise can send to")
    if isinstance(getattr(plugin, "headers", None), dict):
        plugin.headers[ID_HEADER] = notification_id
    _log_filter.sending(url)
    try:
        with apprise.LogCapture(level=logging.WARNING) as captured:
            try:
                ok = bool(plugin.notify(body=f"{body}\n\nReference: {notification_id}", title=title,
                                        notify_type=_notify_type(severity)))
            except Exception as exc:  # a plugin bug must not take the sender down with it
                ok = False
                logging.getLogger("apprise").warning("%s: %s", type(exc).__name__, exc)
            log = captured.getvalue()
    finally:
        _log_filter.done(url)
    if ok:
        return Delivery(ok=True)
    # Apprise reports trouble in its log, not in exceptions. Its requests-based plugins say "Connection error"
    # when nothing answered (an outage); an answer with an error status reads "Failed to send ..."
    lines = [line.split(" - ", 2)[-1] for line in log.strip().splitlines() if line.strip()]
    message = scrub("; ".join(lines) or "the service did not accept the notification", url)
    return Delivery(ok=False, outage="connection error" in log.lower(), error=f"{mask_url(url)}: {message}"[:2000])
