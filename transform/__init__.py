"""Pure transformations: bytes/str in, typed immutable records out.

Feed parsing (feedparser), article extraction (trafilatura), URL normalisation and dedup keys, text
cleaning, entities and topics (spaCy). No sockets, no database, no Prefect, no environment variables.
"""
