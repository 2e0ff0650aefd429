"""Bytes in from the network, and nothing else.

Everything that opens a socket lives here: the HTTP client policy (total deadlines, size caps on decoded
bytes, redirect hop cap, scheme allow-list, SSRF guard at connect time), conditional GET for feeds,
robots.txt, and the per-host polite scheduler for pages. Nothing here parses feeds or HTML.
"""
