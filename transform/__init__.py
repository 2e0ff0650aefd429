"""Pure code: bytes/str and records in, typed immutable records out; the domain's policies live here too.

Feed parsing (feedparser), article extraction (trafilatura), URL normalisation and dedup keys, text
cleaning, entities and topics (spaCy); when a feed is polled next (cadence), which pages a run fetches
(plan), what a poll and a page come to (polls, pagework). No sockets, no database, no Prefect, no
environment variables: the flow hands in what the database and the network said.
"""
