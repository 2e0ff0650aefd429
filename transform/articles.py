"""Article pages: bytes -> text (`decode_html`), text -> `ExtractedArticle` (`extract_article`).

Both functions are pure. trafilatura only ever receives a string or a tree we parsed ourselves, never a
URL or a path, so it cannot fetch or read anything on its own: network code lives in extract/ only.

Errors:

    EmptyExtraction          -- the page yields no article; `.reason` is a short fixed label:
        not_html             -- binary content (PDF, image, archive) or markup that is not HTML at all
        too_large            -- more than MAX_HTML_CHARS of text: refused before parsing
        huge_text_node       -- one text node over libxml2's limit, dropped silently by the parser
        too_deep             -- nesting at libxml2's depth limit, where the tree was cut silently
        no_text              -- trafilatura found no main text
        too_short            -- fewer than MIN_TEXT_CHARS of text: a stub, not an article
        bot_wall             -- a short text that reads like a consent, paywall or bot-check page

Its `outcome` is extract_empty for every one of them but `not_html` (recorded as not_html); the caller keeps
the reason as the detail. None of them is worth retrying on the same bytes.
"""

from __future__ import annotations

import codecs
import re
from urllib.parse import urlsplit

import trafilatura
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.settings import Document
from trafilatura.utils import load_html

from newsetl.extract.records import SNIFF_BYTES, is_binary
from newsetl.transform.errors import InputError
from newsetl.transform.records import ExtractedArticle, Outcome, storable
from newsetl.transform.text import clean_text, parse_date

# Pages over this many characters are refused before parsing. extract/ caps bodies at ~10 MB, so a
# page that passes the fetch cap always passes this one; this is the second line of defence for callers
# that hand us text from elsewhere. A 50 MB page took 19 s and 1.25 GB to parse.
MAX_HTML_CHARS = 10 * 1024 * 1024

# libxml2 (without XML_PARSE_HUGE) drops any text node over 10,000,000 bytes and stops descending at 255
# levels; both happen silently and leave trafilatura with nothing or with a truncated tree.
LIBXML2_MAX_TEXT_NODE_BYTES = 10_000_000
LIBXML2_MAX_DEPTH = 255

# Shorter texts are stubs (teasers, "this page has moved", a caption): the shortest article body in the
# 85-page benchmark corpus has 369 characters.
MIN_TEXT_CHARS = 150

# A consent or bot-check page is short; only texts below this length are checked for wall phrases, so an
# article that mentions cookies or CAPTCHAs in passing is never rejected.
BOT_WALL_MAX_CHARS = 1_200
_BOT_WALL_RE = re.compile(
    r"enable javascript|javascript is (disabled|required)|are you a robot|not a robot|verify you are"
    r"|captcha|checking your browser|access denied|unusual traffic"
    r"|we use cookies|accept (all )?cookies|cookie (policy|settings|preferences|consent)"
    r"|consent to (the use of )?cookies|manage (your )?(privacy|cookie) (settings|choices|preferences)"
    r"|turn off your ad ?blocker|subscribe to (continue|read)",
    re.IGNORECASE,
)

# How far into the body a <meta charset> is looked for. The HTML standard pre-scans 1024 bytes; real pages
# put long <script>/<link> runs first, so we look a little further.
META_PRESCAN_BYTES = 4096
_META_CHARSET_RE = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)

# A binary body (extract.records.is_binary) is decoded as cp1252, which gives back its very bytes wherever a
# signature or a NUL lies, so extract_article sniffs that text with the same `is_binary` as extract/ sniffs
# bytes; but in text from elsewhere a few stray NULs are cleaned, not refused.
_BINARY_AS_TEXT = "cp1252"
BINARY_MAX_NULS = 8

# How much more "chaos" (charset_normalizer's mess ratio) cp1252 may have than the best guess and still win.
CP1252_TIE_MARGIN = 0.01

_BOMS = (  # UTF-32 first: its little-endian BOM starts with the UTF-16 one
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Browsers decode these labels as windows-1252 (WHATWG Encoding standard); so do we, so that curly quotes
# in pages labelled latin-1 come out as quotes and not as C1 control characters.
_AS_CP1252 = frozenset({"latin-1", "iso8859-1", "ascii"})

_LANG_RE = re.compile(r"^([A-Za-z]{2,3})(?:[-_]|$)")

# trafilatura's default date parameters, plus a time of day when the page gives one.
_DATE_PARAMS = {"original_date": True, "extensive_search": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}


class EmptyExtraction(InputError):
    """The page yields no article text. `reason` is a short fixed label (see the module docstring); the
    outcome is not_html for pages that are not HTML, extract_empty for the others."""

    def __init__(self, reason: str, detail: str = "") -> None:
        outcome = Outcome.NOT_HTML if reason == "not_html" else Outcome.EXTRACT_EMPTY
        super().__init__(f"{reason}: {detail}" if detail else reason, outcome)
        self.reason = reason


# --- decoding -------------------------------------------------------------------------------------------


def decode_html(body: bytes, charset: str | None) -> tuple[str, str]:
    """Decode a page body; return the text and the encoding used.

    Order: byte-order mark, then the HTTP charset, then <meta charset>, then detection. A declared charset
    is used only if the bytes decode under it without error, so cp1252 bytes labelled UTF-8 fall through to
    the next source instead of becoming mojibake. Never raises: a binary body (PDF, image)
    comes back as its cp1252 reading, NULs kept, which extract_article refuses as not_html.
    """
    bom = _bom_encoding(body)
    if bom is not None:
        encoding, size = bom
        return body[size:].decode(encoding, errors="replace"), encoding
    if is_binary(body):  # no point in detection; keep the bytes recognisable for extract_article
        return body.decode(_BINARY_AS_TEXT, errors="replace"), _BINARY_AS_TEXT
    for label in (charset, _meta_charset(body)):
        encoding = _normalise_label(label)
        if encoding is not None and (text := _decode_strict(body, encoding)) is not None:
            return text, encoding
    return _detect(body)


def _bom_encoding(body: bytes) -> tuple[str, int] | None:
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return encoding, len(bom)
    return None


def _meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET_RE.search(body[:META_PRESCAN_BYTES])
    if match is None:
        return None
    label = match.group(1).decode("ascii")
    # A UTF-16/32 label in a meta tag cannot be true (the tag itself was readable as ASCII).
    return None if label.lower().startswith(("utf-16", "utf-32")) else label


def _normalise_label(label: str | None) -> str | None:
    """Python's codec name for a charset label, or None when the label is unknown."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    return "cp1252" if name in _AS_CP1252 else name


def _decode_strict(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except UnicodeDecodeError:
        return None


def _detect(body: bytes) -> tuple[str, str]:
    """No usable declaration: valid UTF-8 is UTF-8 (a strong signal), else ask charset_normalizer."""
    text = _decode_strict(body, "utf-8")
    if text is not None:
        return text, "utf-8"
    detected = _charset_normalizer_guess(body)
    if detected is not None and (text := _decode_strict(body, detected)) is not None:
        return text, detected
    return body.decode("cp1252", errors="replace"), "cp1252"


def _charset_normalizer_guess(body: bytes) -> str | None:
    try:
        import charset_normalizer  # optional: detection degrades to cp1252
    except ImportError:
        return None
    matches = list(charset_normalizer.from_bytes(body))
    if not matches:
        return None
    # On short texts the single-byte codepages tie (same chaos) and the winner is arbitrary: cp1250 turns
    # "crème" into "črme". windows-1252 is by far the most common legacy encoding on the web: it wins ties.
    least_chaos = min(match.chaos for match in matches)
    for match in matches:
        if match.encoding == "cp1252" and match.chaos <= least_chaos + CP1252_TIE_MARGIN:
            return "cp1252"
    return _normalise_label(matches[0].encoding)


# --- extraction -----------------------------------------------------------------------------------------


def extract_article(html: str, url: str) -> ExtractedArticle:
    """Main text and metadata of one page; raises EmptyExtraction when there is no article in it."""
    _check_before_parsing(html)
    tree = _parse(storable(html))  # cleaned as every text we store is, so the tree holds nothing else
    document = _run_trafilatura(tree, url, favor_precision=True)
    if document is None or len(clean_text(document.text) or "") < MIN_TEXT_CHARS:
        # Precision mode can prune a short page to nothing: the default mode gets a second look.
        document = _run_trafilatura(tree, url, favor_precision=False) or document
    if document is None or not document.text:
        raise EmptyExtraction("no_text")
    text = clean_text(document.text) or ""  # nothing left after cleaning: too_short, as any stub
    _check_text(text)
    return ExtractedArticle(
        title=clean_text(document.title),
        text=text,
        authors=split_authors(document.author),
        published_at=parse_date(document.date),
        language=_normalise_language(document.language) or _declared_language(tree),
        canonical_url=_canonical_url(document.url, url),
    )


def _run_trafilatura(tree: HtmlElement, url: str, *, favor_precision: bool) -> Document | None:
    """trafilatura on our own tree (it extracts from a copy, so the tree can be reused)."""
    return trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        include_comments=False,
        favor_precision=favor_precision,
        date_extraction_params=dict(_DATE_PARAMS),
    )


def _check_before_parsing(html: str) -> None:
    if len(html) > MAX_HTML_CHARS:
        raise EmptyExtraction("too_large", f"{len(html)} characters")
    head = html[:SNIFF_BYTES].encode(_BINARY_AS_TEXT, errors="replace")
    if is_binary(head, stray_nuls=BINARY_MAX_NULS):  # binary bytes decoded as text
        raise EmptyExtraction("not_html", "binary content")
    # Only a page of at least a quarter of the limit can hold such a node (4 bytes per character at most).
    if len(html) * 4 > LIBXML2_MAX_TEXT_NODE_BYTES:
        longest = max(html.split("<"), key=len)
        if len(longest.encode("utf-8", errors="surrogatepass")) > LIBXML2_MAX_TEXT_NODE_BYTES:
            raise EmptyExtraction("huge_text_node", f"{len(longest)} characters without markup")


def _parse(html: str) -> HtmlElement:
    # trafilatura's own loader, so extraction sees exactly the tree it would build from the string. Depth
    # is checked on the parsed tree, not estimated from the markup: libxml2 stops at 255 levels, and a
    # tree that reaches that depth is a cut tree (a tag-counting pre-scan misjudges unclosed <p>/<li>).
    tree = load_html(html)
    if tree is None:
        raise EmptyExtraction("not_html", "no HTML tree")
    if _depth(tree) >= LIBXML2_MAX_DEPTH:
        raise EmptyExtraction("too_deep", f"nesting reached {LIBXML2_MAX_DEPTH} levels")
    return tree


def _depth(tree: HtmlElement) -> int:
    depth = deepest = 0
    for event, _ in etree.iterwalk(tree, events=("start", "end")):
        depth += 1 if event == "start" else -1
        deepest = max(deepest, depth)
    return deepest


def _check_text(text: str) -> None:
    if len(text) < MIN_TEXT_CHARS:
        raise EmptyExtraction("too_short", f"{len(text)} characters")
    if len(text) < BOT_WALL_MAX_CHARS and _BOT_WALL_RE.search(text):
        raise EmptyExtraction("bot_wall")


# --- field cleaning -------------------------------------------------------------------------------------


def split_authors(raw: str | None) -> tuple[str, ...]:
    """Author names from trafilatura's author field.

    trafilatura already splits "A, B and C" and "A and B" into "A; B; C", so we split on ";". It also
    splits "Smith, John" into "Smith; John": when every piece is a single word (and no piece is an acronym
    such as AP or AFP) the pieces are taken pairwise as "Surname, Given" and joined back. A list of
    single-word names that are not acronyms ("Reuters; Bloomberg") is joined the same way: a known cost.
    """
    pieces = [cleaned for piece in (raw or "").split(";") if (cleaned := clean_text(piece))]
    if _is_split_surname_given(pieces):
        pieces = [f"{pieces[i]}, {pieces[i + 1]}" for i in range(0, len(pieces), 2)]
    return tuple(dict.fromkeys(pieces))  # de-duplicated, first-seen order


def _is_split_surname_given(pieces: list[str]) -> bool:
    if not pieces or len(pieces) % 2:
        return False
    return all(" " not in piece and not piece.isupper() for piece in pieces)


def _declared_language(tree: HtmlElement) -> str | None:
    candidates = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang")]
    candidates += tree.xpath(
        "//meta[translate(@http-equiv,'CONTENTLANGUAGE','contentlanguage')='content-language']/@content"
        " | //meta[@property='og:locale']/@content"
    )
    for candidate in candidates:
        if language := _normalise_language(candidate):
            return language
    return None


def _normalise_language(value: str | None) -> str | None:
    """The primary language subtag, lower-case ("en-GB" -> "en"), or None."""
    match = _LANG_RE.match((value or "").strip())
    return match.group(1).lower() if match else None


def _canonical_url(found: str | None, url: str) -> str | None:
    """The page's declared canonical URL (absolute http/https) or None.

    trafilatura returns the URL we passed when the page declares none (or only a relative one); echoing
    our own URL back carries no information, so that case is None.
    """
    if not found or found == url:
        return None
    parts = urlsplit(found)
    return found if parts.scheme in ("http", "https") and parts.netloc else None
