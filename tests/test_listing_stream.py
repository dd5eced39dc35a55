"""The listing reader works in chunks: the same listings and errors whatever the chunk size."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from readlist import listing as listing_module
from readlist.errors import InputError
from readlist.listing import parse_source, parse_text, read_sources
from readlist.models import Listing

LISTINGS = Path(__file__).resolve().parent / "data" / "listings"
CHUNK_SIZES = (1, 2, 3, 7, 64, 1 << 20)


def _with_chunks(size: int, data: bytes, source: str = "t.txt") -> list[Listing] | str:
    """Parse `data` read `size` bytes at a time; the error message if it is refused."""
    saved = listing_module._CHUNK_BYTES
    listing_module._CHUNK_BYTES = size
    try:
        return parse_source(data, source)
    except InputError as error:
        return str(error)
    finally:
        listing_module._CHUNK_BYTES = saved


def _row(item: Listing) -> dict[str, object]:
    abstract = item.abstract
    return {
        "title": item.title,
        "abstract_sha256": hashlib.sha256(abstract.encode()).hexdigest()[:20]
        if abstract is not None
        else None,
        "arxiv_id": str(item.arxiv_id) if item.arxiv_id else None,
        "line": item.line,
        "date": list(item.date) if item.date else None,
    }


def test_sample_listings_parse_as_before_the_streaming_reader() -> None:
    # parsed.json was written by the whole-text parser this reader replaced (see SOURCES.md).
    expected = json.loads((LISTINGS / "parsed.json").read_text(encoding="utf-8"))
    files = sorted(LISTINGS.glob("*.txt"))
    assert sorted(expected) == [path.name for path in files]
    for path in files:
        for size in (7, 4096, 1 << 20):
            found = _with_chunks(size, path.read_bytes(), path.name)
            assert not isinstance(found, str), found
            assert [_row(item) for item in found] == expected[path.name], (path.name, size)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_sample_listings_are_the_same_in_any_chunks(newline: str) -> None:
    for path in sorted(LISTINGS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        data = text.replace("\n", newline).encode("utf-8")
        whole = parse_text(text, path.name)
        for size in (5, 13, 1000):
            assert _with_chunks(size, data, path.name) == whole, (path.name, size)


# Lines a listing is made of: titles, prose, identifiers, comments, chrome, blank lines, and
# the line ends of every platform, so chunks split "\r\n" and multi-byte characters.
_LINE = st.sampled_from(
    [
        "Paper One: A Study",
        "InternVL3: Scaling Up",
        "We propose a method. It works well on all benchmarks we tried, by a wide margin.",
        "and it continues here with more words",
        "2504.10479",
        "https://arxiv.org/abs/2312.06647v2 2401.00001",
        "# a comment",
        "#InsTag: Tagging Instructions",
        "Apr 28",
        "12",
        "Daily Papers",
        "Über Größe: Äquivalenz",
        "李飞飞的论文",
        "1. Numbered Title",
        "",
        "   ",
    ]
)
_TEXT = st.lists(st.tuples(_LINE, st.sampled_from(["\n", "\r\n", "\r", "\n\n"])), max_size=30).map(
    lambda pairs: "".join(line + end for line, end in pairs)
)


@settings(max_examples=150, deadline=None)
@given(_TEXT, st.sampled_from(CHUNK_SIZES[:5]), st.booleans())
def test_any_text_parses_the_same_in_chunks(text: str, size: int, final_newline: bool) -> None:
    if not final_newline:
        text = text.rstrip("\r\n")
    data = text.encode("utf-8")
    assert _with_chunks(size, data) == parse_text(text, "t.txt")
    assert _with_chunks(size, b"\xef\xbb\xbf" + data) == parse_text(text, "t.txt")
    assert _with_chunks(size, "\ufeff".encode("utf-16-le") + text.encode("utf-16-le")) == (
        parse_text(text, "t.txt")
    )


def _whole_file_verdict(data: bytes) -> str | None:
    """The errors as the whole-file reader gave them (the definition the chunks must keep)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    control = sum(1 for b in data if (b < 0x20 and b not in b"\t\n\x0b\x0c\r\x1b") or b == 0x7F)
    if b"\x00" in data or (data and control / len(data) > 0.05):
        return "t.txt: looks like a binary file, not a text listing"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        newline = b"\n" if b"\n" in data else b"\r"
        line = data.count(newline, 0, error.start) + 1
        return (
            f"t.txt: is not UTF-8 text (byte 0x{data[error.start]:02x} at line {line}); "
            "save it as UTF-8 and retry"
        )
    return None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"ab ",
                b"Title Here",
                b"\n",
                b"\r",
                b"\r\n",
                b"\xc3\xa9",
                b"\xc3",
                b"\xa9",
                b"\xff",
                b"\xe6\x9d\x8e",
                b"\xe6\x9d",
                b"\x00",
                b"\x01",
                b"\xef\xbb\xbf",
            ]
        ),  # fmt: skip
        max_size=40,
    ).map(b"".join),
    st.sampled_from(CHUNK_SIZES[:5]),
)
def test_encoding_errors_are_the_same_in_chunks(data: bytes, size: int) -> None:
    expected = _whole_file_verdict(data)
    found = _with_chunks(size, data)
    if expected is None:
        assert not isinstance(found, str), found
    else:
        assert found == expected


def test_standard_input_is_read_as_a_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    path = sorted(LISTINGS.glob("*.txt"))[0]
    data = path.read_bytes()
    monkeypatch.setattr(listing_module, "_CHUNK_BYTES", 4096)
    from_stream = read_sources(["-"], lambda: io.BytesIO(data))
    assert from_stream == parse_source(data, "<stdin>")
    assert len(from_stream) == 55


def test_a_line_longer_than_many_chunks_stays_one_line() -> None:
    text = "Title Of A Paper\r\n\r\n" + "word " * 100_000 + "end.\r\nNext\r"
    chunks = [text[i : i + 1000] for i in range(0, len(text), 1000)]
    assert list(listing_module._lines_of(chunks)) == listing_module._split_lines(text)
    assert list(listing_module._lines_of(list(text))) == listing_module._split_lines(text)
