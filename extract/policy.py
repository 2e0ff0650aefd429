"""HTTP client policy: every tuned constant of extract/ in one frozen record, each with its reason.

`flows/` builds one `HttpPolicy` from the settings and passes it down; nothing in extract/ reads the
environment.
"""

from __future__ import annotations

from dataclasses import dataclass

# Identify ourselves honestly, with a contact URL, so operators can reach us instead of blocking us; the
# product token before "/" is the one matched against robots.txt groups. The one default: flows' settings
# (NEWSETL_USER_AGENT) default to it too.
DEFAULT_USER_AGENT = "newsetl/0.1 (+https://github.com/newsetl/newsetl)"


@dataclass(frozen=True, slots=True)
class HttpPolicy:
    user_agent: str = DEFAULT_USER_AGENT
    # Per-operation socket deadlines (connect, and each read/write).
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    # The whole request including every redirect hop and the body: a slow-loris server that dribbles one
    # byte per second never trips a per-read timeout, so this is the deadline that actually bounds a fetch.
    total_deadline: float = 60.0
    # Caps on DECODED bytes (after gzip/deflate): a 50 KB gzip bomb inflates to gigabytes.
    max_feed_bytes: int = 5 * 2**20
    max_page_bytes: int = 10 * 2**20
    # Browsers allow ~20; five covers http->https->www->canonical with room to spare (RFC 9309 also asks
    # robots.txt fetchers to follow at least five).
    max_redirects: int = 5
    # Seconds between two requests to one host: we are a guest on small newsroom servers.
    per_host_delay: float = 1.0
    # Page fetches run concurrently across hosts, never within one.
    max_parallel_hosts: int = 8
    # Per-run circuit breaker: after this many consecutive transient failures on a host, the rest of that
    # host's URLs are skipped without a request (a dead host would otherwise cost a timeout per URL).
    host_failure_limit: int = 5
    # Seconds one host's requests may take in one run, waits for its politeness delay included (None: no
    # limit). A host with Crawl-delay 30 and 200 new links would otherwise hold a run for 100 minutes while
    # the scheduled runs queue behind it; what does not fit is deferred to the next run.
    host_budget_seconds: float | None = None
    # A Retry-After of "one year" is honoured as one day at most.
    max_retry_after: float = 86400.0
    # CIDRs exempt from the SSRF guard, e.g. ("127.0.0.0/8",) for local test servers. Empty in production.
    allowed_networks: tuple[str, ...] = ()
    respect_robots: bool = True

    @property
    def robots_token(self) -> str:
        """The user-agent product token matched against robots.txt `User-agent:` lines (RFC 9309 2.2.1)."""
        return self.user_agent.split("/", 1)[0].split()[0].lower()
