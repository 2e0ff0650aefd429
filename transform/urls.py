"""URL normalisation and the article dedup key.

`normalize_url` gives the *key form* of a URL: two links that name the same story should map to the same
string, two different stories never should. It is not meant to be fetched (the http -> https fold below
would break an http-only site); fetch the link as the feed gave it, key it with `url_key`.

Decisions, each a trade of "merge what is the same" against "never merge what differs":

- http and https fold to https. Publishers migrate, feeds and canonical tags disagree on the scheme for
  years; the same host and path under both schemes is the same story in practice.
- Host: lower case, IDNA (punycode) form, trailing dot dropped. Ports 80 and 443 are dropped for both
  http and https (once the scheme is folded neither is meaningful, and dropping both keeps this idempotent).
- Fragment dropped: it never reaches the server.
- Known tracking parameters dropped (list below, deliberately conservative: a generic name such as
  `ref` or `source` can select content on some sites). Remaining parameters are sorted, but their bytes
  are kept as they were (only %-escape hex is upper-cased): decoding and re-encoding would merge
  distinct legacy-charset queries such as `?q=caf%E9` and `?q=caf%E8`.
- Path: kept as is, case included (paths are case-sensitive); only an empty path becomes "/".
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import SplitResult, quote, unquote_plus, urljoin, urlsplit, urlunsplit

import tldextract

_WEB_SCHEMES = frozenset({"http", "https"})
_KEY_SCHEME = "https"
_DEFAULT_PORTS = frozenset({80, 443})

# Query parameters that only say where a click came from (analytics, ad networks, mailing tools).
_TRACKING_PREFIXES = ("utm_",)  # Google Analytics campaign tags: utm_source, utm_medium, ...
_TRACKING_PARAMS = frozenset(
    {
        "fbclid",  # Facebook
        "gclid",  # Google Ads
        "dclid",  # Google Display
        "gbraid",  # Google Ads (iOS)
        "wbraid",  # Google Ads (web to app)
        "msclkid",  # Microsoft Ads
        "yclid",  # Yandex
        "igshid",  # Instagram share
        "mc_cid",  # Mailchimp campaign
        "mc_eid",  # Mailchimp subscriber
        "_hsenc",  # HubSpot
        "_hsmi",  # HubSpot
        "mkt_tok",  # Marketo
        "vero_id",  # Vero
        "oly_anon_id",  # Omeda
        "oly_enc_id",  # Omeda
        "at_medium",  # AT Internet / Piano (BBC feeds add ?at_medium=RSS&at_campaign=...)
        "at_campaign",
        "ns_mchannel",  # comScore (older BBC links)
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
    }
)
_PERCENT_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")
_WHITESPACE = re.compile(r"\s")


def normalize_url(url: str) -> str:
    """The dedup form of an absolute URL (see the module docstring). Idempotent.

    Raises ValueError for a string urllib cannot split (e.g. a malformed IPv6 host or port).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    web = scheme in _WEB_SCHEMES
    netloc = _normalize_netloc(parts, web)
    path = _upper_escapes(_escape_whitespace(parts.path)) or ("/" if netloc else "")
    query = _normalize_query(_escape_whitespace(parts.query))
    return urlunsplit((_KEY_SCHEME if web else scheme, netloc, path, query, ""))


def url_key(url: str) -> str:
    """The unique key of an article: sha256 hex of `normalize_url(url)`."""
    return hashlib.sha256(normalize_url(url).encode("utf-8", "surrogatepass")).hexdigest()


def host_of(url: str) -> str:
    """Lower-case IDNA host of `url`, without a trailing dot; "" when it has none.

    Used to group fetches per host (politeness) and to name source domains, so it agrees with the host
    in `normalize_url`.
    """
    try:
        hostname = urlsplit(url.strip()).hostname
    except ValueError:
        return ""
    return _idna_host(hostname) if hostname else ""


# The public suffix list as tldextract bundles it: never refreshed over the network (runs may be offline,
# and an outlet's domain must not change with the day's download). Private suffixes count, so that each
# blog on a shared host (name.blogspot.com, name.github.io) is an outlet of its own.
_PUBLIC_SUFFIXES = tldextract.TLDExtract(
    suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
)


def outlet_domain(url: str) -> str | None:
    """The registrable domain of `url` ("feeds.bbci.co.uk" -> "bbci.co.uk"): what names its outlet.

    A host under no public suffix (an IP address, "localhost", an intranet name, a reserved name such as
    "www.news.example") is its own outlet domain, less a leading "www.". None when the URL has no host.
    """
    host = host_of(url)
    if not host:
        return None
    registrable = _PUBLIC_SUFFIXES(host).top_domain_under_public_suffix
    return registrable or host.removeprefix("www.")


def resolve_link(link: str, base: str) -> str | None:
    """`link` made absolute against `base`, when the result is an http(s) URL with a host; else None.

    javascript:, mailto:, file:, data:, tag: and empty links give None: nothing we could fetch. So does a
    link no key can be made for (a port of 99999, a broken IPv6 literal): one such entry in a feed must
    never fail the run that polls it.
    """
    link = (link or "").strip()
    if not link:
        return None
    try:
        absolute = urljoin(base, link)
        parts = urlsplit(absolute)
        has_host = bool(parts.hostname)
        normalize_url(absolute)
    except ValueError:
        return None
    if parts.scheme.lower() not in _WEB_SCHEMES or not has_host:
        return None
    return absolute


def _normalize_netloc(parts: SplitResult, web: bool) -> str:
    host = _idna_host(parts.hostname or "")
    if ":" in host:  # IPv6 literal: brackets were stripped by urlsplit
        host = f"[{host}]"
    port = parts.port  # raises ValueError on a non-numeric or out-of-range port
    if port is not None and not (web and port in _DEFAULT_PORTS):
        host = f"{host}:{port}"
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    return f"{userinfo}@{host}" if userinfo else host


def _idna_host(hostname: str) -> str:
    host = hostname.lower().rstrip(".")
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        # Labels IDNA 2003 rejects (too long, odd code points): the lower-case form is still a stable key.
        return host


def _normalize_query(query: str) -> str:
    kept = [_upper_escapes(part) for part in query.split("&") if part and not _is_tracking(part)]
    kept.sort(key=lambda part: (part.partition("=")[0], part))  # by name first, so a=1&a_b=2 stays put
    return "&".join(kept)


def _is_tracking(part: str) -> bool:
    name = unquote_plus(part.partition("=")[0]).strip().lower()
    return name.startswith(_TRACKING_PREFIXES) or name in _TRACKING_PARAMS


def _escape_whitespace(text: str) -> str:
    """Percent-encode white space as browsers do, so that stripping the URL can never change the key."""
    return _WHITESPACE.sub(lambda match: quote(match.group()), text)


def _upper_escapes(text: str) -> str:
    return _PERCENT_ESCAPE.sub(lambda match: match.group(0).upper(), text)
