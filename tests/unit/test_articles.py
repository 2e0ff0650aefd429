"""transform.articles: decoding page bytes and extracting the article, on small hand-written pages."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsetl.extract.pages import sniff_page
from newsetl.extract.records import FetchResult, Outcome
from newsetl.transform.articles import (
    MAX_HTML_CHARS,
    EmptyExtraction,
    decode_html,
    extract_article,
    split_authors,
)
from newsetl.transform.text import clean_text

PAGES = Path(__file__).resolve().parents[1] / "fixtures" / "pages"
URL = "https://news.example.org/story?utm_source=feed"


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def extract_fixture(name: str, charset: str | None = None):
    text, _ = decode_html(page(name), charset)
    return extract_article(text, URL)


# --- decode_html ----------------------------------------------------------------------------------------


def test_cp1252_bytes_labelled_utf8_are_not_mojibake():
    text, encoding = decode_html(page("cp1252-article.html"), "utf-8")
    assert encoding == "cp1252"
    assert "Café crème" in text
    assert "4,20 €" in text


def test_short_cp1252_text_without_declaration_is_cp1252_not_cp1250():
    body = "<html><body><p>Café crème is what we had at the café, with a naïve smile.</p></body></html>"
    text, encoding = decode_html(body.encode("cp1252"), None)
    assert encoding == "cp1252"
    assert "Café crème" in text


def test_http_charset_comes_before_meta_charset():
    body = '<html><head><meta charset="utf-8"></head><body>Gr\xfc\xdfe</body></html>'.encode("latin-1")
    text, encoding = decode_html(body, "iso-8859-1")
    assert encoding == "cp1252"  # browsers read latin-1 labels as windows-1252; so do we
    assert "Grüße" in text


def test_meta_charset_is_used_without_http_charset():
    body = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=koi8-r"></head>'
    body_bytes = body.encode("ascii") + "<body>Привет</body></html>".encode("koi8-r")
    text, encoding = decode_html(body_bytes, None)
    assert encoding == "koi8-r"
    assert "Привет" in text


def test_byte_order_mark_wins_over_declarations():
    body = codecs.BOM_UTF16_LE + "<html><body>Zoë</body></html>".encode("utf-16-le")
    text, encoding = decode_html(body, "iso-8859-1")
    assert encoding == "utf-16-le"
    assert text == "<html><body>Zoë</body></html>"


def test_unknown_charset_label_is_ignored():
    text, encoding = decode_html("<p>naïve</p>".encode(), "x-no-such-charset")
    assert (text, encoding) == ("<p>naïve</p>", "utf-8")


def test_undeclared_utf8_is_utf8():
    page = "<p>Zürich \u2013 5 °C</p>"
    assert decode_html(page.encode(), None) == (page, "utf-8")


def test_binary_body_decodes_and_is_refused_as_not_html():
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + bytes(range(256)) * 8
    text, _ = decode_html(pdf, "utf-8")
    with pytest.raises(EmptyExtraction) as caught:
        extract_article(text, URL)
    assert caught.value.reason == "not_html"


def test_png_served_as_html_is_refused_as_not_html():
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\x00\x00\x01\x00\x08\x06\x00\x00\x00" * 4
    text, _ = decode_html(png, None)
    with pytest.raises(EmptyExtraction) as caught:
        extract_article(text, URL)
    assert caught.value.reason == "not_html"


# Binary bodies of formats only extract/ knew before the one sniffer (extract.records.is_binary) served both.
BINARY_BODIES = {
    "webp": b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"x" * 200,
    "mp4": b"\x00\x00\x00\x18ftypmp42" + b"y" * 200,
    "gzip": b"\x1f\x8b\x08\x08" + bytes(range(1, 250)) * 3,
    "elf": b"\x7fELF\x02\x01\x01" + b"<html><body><p>" + b"text " * 100,
}


@pytest.mark.parametrize("body", BINARY_BODIES.values(), ids=BINARY_BODIES.keys())
def test_transform_refuses_as_binary_what_extract_refuses_as_binary(body):
    fetched = FetchResult(URL, Outcome.OK, status=200, body=body, content_type="text/html")
    assert sniff_page(fetched).detail == "not an HTML page: binary signature"
    text, _ = decode_html(body, "utf-8")
    with pytest.raises(EmptyExtraction) as caught:
        extract_article(text, URL)
    assert str(caught.value) == "not_html: binary content"  # sniffed, not left to the HTML parser


# --- extract_article: pages -----------------------------------------------------------------------------


def test_tiny_article_has_text_title_date_language_and_no_boilerplate():
    article = extract_fixture("tiny-article.html")
    assert article.title == "Harbour ferry returns after winter repairs"
    assert "first crossing of the day left on time" in article.text
    assert "All rights reserved" not in article.text
    assert "Sport" not in article.text
    assert article.published_at == datetime(2024, 3, 2, 8, 15, tzinfo=UTC)
    assert article.language == "en"
    assert article.authors == ()
    assert article.canonical_url is None  # the page declares none; our own URL echoed back is no news


def test_canonical_link_and_authors_are_kept():
    article = extract_fixture("canonical-authors.html")
    assert article.canonical_url == "https://news.example.org/2024/05/cycle-lanes"
    assert article.authors == ("Jane Doe", "John Roe")
    assert article.published_at == datetime(2024, 5, 14, 22, 45, tzinfo=UTC)
    assert article.published_at.tzinfo is UTC
    assert "By Jane Doe" not in article.text


def test_cp1252_page_extracts_clean_french_text():
    article = extract_fixture("cp1252-article.html", charset="utf-8")
    assert article.language == "fr"
    assert "Café crème et croissants" in (article.title or "")
    assert "le café crème coûte désormais 4,20 €" in article.text


def test_consent_wall_is_empty_with_reason_bot_wall():
    with pytest.raises(EmptyExtraction) as caught:
        extract_fixture("consent-wall.html")
    assert caught.value.reason == "bot_wall"


def test_nesting_past_libxml2_depth_is_too_deep_not_silently_empty():
    with pytest.raises(EmptyExtraction) as caught:
        extract_fixture("deeply-nested.html")
    assert caught.value.reason == "too_deep"


def test_page_over_the_size_cap_is_refused_before_parsing():
    html = "<html><body><p>" + "word " * (MAX_HTML_CHARS // 5 + 1) + "</p></body></html>"
    with pytest.raises(EmptyExtraction) as caught:
        extract_article(html, URL)
    assert caught.value.reason == "too_large"


def test_one_text_node_over_10_mb_is_huge_text_node():
    html = "<html><body><p>" + "a" * 10_100_000 + "</p></body></html>"
    assert len(html) <= MAX_HTML_CHARS
    with pytest.raises(EmptyExtraction) as caught:
        extract_article(html, URL)
    assert caught.value.reason == "huge_text_node"


def test_nul_bytes_and_lone_surrogates_are_cleaned_from_text_and_title():
    html = page("tiny-article.html").decode("utf-8")
    html = html.replace("returns after", "returns\x00 after").replace("bicycles", "bicy\ud800cles")
    article = extract_article(html, URL)
    assert "\x00" not in article.text and "\x00" not in (article.title or "")
    assert "\ud800" not in article.text
    # U+FFFD marks the damage, as in every text we store (a feed's title, say); it used to vanish here.
    assert "bicy\ufffdcles" in article.text


def test_article_fields_are_cleaned_as_feed_fields_are():
    html = page("tiny-article.html").decode("utf-8")
    raw_title = "Harbour ferry \udce9 returns after winter repairs"
    article = extract_article(html.replace("Harbour ferry returns after winter repairs", raw_title), URL)
    assert article.title == clean_text(raw_title) == "Harbour ferry \ufffd returns after winter repairs"


def test_page_without_text_is_no_text():
    with pytest.raises(EmptyExtraction) as caught:
        extract_article("<html><head><title>x</title></head><body><div></div></body></html>", URL)
    assert caught.value.reason in {"no_text", "not_html"}


def test_stub_page_is_too_short():
    html = "<html><body><article><p>Story moved. See the new address.</p></article></body></html>"
    with pytest.raises(EmptyExtraction) as caught:
        extract_article(html, URL)
    assert caught.value.reason in {"too_short", "no_text"}


def test_a_url_given_as_html_is_never_fetched():
    # trafilatura can fetch URLs itself; we only give it a parsed tree. (The test policy refuses sockets.)
    with pytest.raises(EmptyExtraction):
        extract_article("https://example.com/article", URL)


# --- field rules ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jane Doe; John Roe", ("Jane Doe", "John Roe")),
        ("Jane Doe; John Roe; Max Mustermann", ("Jane Doe", "John Roe", "Max Mustermann")),
        ("Smith; John", ("Smith, John",)),  # trafilatura's split of "Smith, John"
        ("Doe; Jane; Roe; John", ("Doe, Jane", "Roe, John")),
        ("AP; AFP", ("AP", "AFP")),
        ("Jane Doe; Jane Doe", ("Jane Doe",)),
        ("Sarah E Needleman", ("Sarah E Needleman",)),
        ("", ()),
        (None, ()),
    ],
)
def test_split_authors(raw, expected):
    assert split_authors(raw) == expected
