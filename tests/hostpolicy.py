"""The HTTP policy tests fetch from local servers with: loopback allowed past the SSRF guard, deadlines of a
second or two so hostile servers cost little, no politeness delay and no robots.txt unless a test asks."""

from __future__ import annotations

from dataclasses import replace

from newsetl.extract.policy import HttpPolicy

LOCAL_POLICY = HttpPolicy(
    allowed_networks=("127.0.0.0/8",),
    connect_timeout=1.0,
    read_timeout=1.0,
    total_deadline=2.0,
    per_host_delay=0.0,
    respect_robots=False,
)


def local_policy(**changes: object) -> HttpPolicy:
    return replace(LOCAL_POLICY, **changes)  # type: ignore[arg-type]
