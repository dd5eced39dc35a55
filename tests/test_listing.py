"""Tests for readlist.listing: reading sources and parsing them into listings."""

from __future__ import annotations

import os
import re
import textwrap
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from readlist.errors import InputError
from readlist.listing import (
    ARGUMENT_SOURCE,
    STDIN_SOURCE,
    decode_input,
    dedupe,
    parse_date_line,
    parse_source,
    parse_text,
    read_source,
    read_sources,
)
from readlist.models import ArxivId, Listing
from readlist.normalize import normalize_title

LISTINGS = Path(__file__).resolve().parent / "data" / "listings"

SAMPLE_EXPECTATIONS = {
    # name: (count, first title, first abstract start, last title, last abstract start)
    "000_1a9c761a36d3b3b5.txt": (
        55,
        "InternVL3: Exploring Advanced Training and Test-Time Recipes for Open-Source "
        "Multimodal Models",
        "We introduce InternVL3, a significant advancement in the InternVL series",
        "IDMR: Towards Instance-Driven Precise Visual Correspondence in Multimodal Retrieval",
        "Multimodal retrieval systems are becoming increasingly vital",
    ),
    "002_585a834177b121ac.txt": (
        83,
        "Lightweight In-Context Tuning for Multimodal Unified Models",
        "In-context learning (ICL) involves reasoning from given contextual examples.",
        "MLLM Is a Strong Reranker: Advancing Multimodal Retrieval-augmented Generation via "
        "Knowledge-enhanced Reranking and Noise-injected Training",
        "Multimodal Large Language Models (MLLMs) have demonstrated remarkable capabilities",
    ),
    "004_d313529f9ac078e0.txt": (
        54,
        "4M: Massively Multimodal Masked Modeling",
        "Current machine learning models for vision are often highly specialized",
        "Mono-InternVL: Pushing the Boundaries of Monolithic Multimodal Large Language Models "
        "with Endogenous Visual Pre-training",
        "The rapid advancement of Large Language Models (LLMs) has led to an influx",
    ),
}
CHROME = (
    "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\n"
    "byAK and the research community\n\nApr 28\n\n"
)
ASTRO = "AstroM$^3$: A self-supervised multimodal model for astronomy"
ZERO_SHOT = (
    'No "Zero-Shot" Without Exponential Data: Pretraining Concept Frequency Determines '
    "Multimodal Model Performance"
)
ABSTRACT_A = (
    "We introduce a model that reads papers. It learns from 95% of the data & more, "
    "reaching 8times the speed of \\ModelName at ~3 GPU-hours. Code is at "
    "https://github.com/example/model."
)
ABSTRACT_B = (
    "Large language models (LLMs) have shown strong results on many tasks. However, they "
    "struggle with long inputs. We propose a retrieval method that fixes this, and show "
    "gains on five benchmarks."
)


def _sample_paths() -> list[Path]:
    paths = sorted(LISTINGS.glob("*.txt"))
    assert paths, f"no sample listings in {LISTINGS}"
    return paths


@pytest.fixture(scope="module")
def samples() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in _sample_paths()}


def _expected_pairs(text: str) -> list[tuple[int, str, str]]:
    """Count listings independently: after the date line, non-blank lines alternate."""
    lines = text.split("\n")
    date = next(i for i, line in enumerate(lines) if re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}", line))
    rest = [(i + 1, line) for i, line in enumerate(lines) if i > date and line.strip()]
    assert len(rest) % 2 == 0
    return [
        (n, title, abstract)
        for (n, title), (_, abstract) in zip(rest[::2], rest[1::2], strict=True)
    ]


def _pairs(listings: list[Listing]) -> list[tuple[str | None, str | None]]:
    return [(listing.title, listing.abstract) for listing in listings]


# -- the sample listings -------------------------------------------------------------------


def test_samples_parse_exactly(samples: dict[str, str]) -> None:
    for name, text in samples.items():
        listings = parse_text(text, name)
        expected = _expected_pairs(text)
        assert len(listings) == len(expected), name
        assert [(x.line, x.title, x.abstract) for x in listings] == expected
        assert all(x.source == name and x.arxiv_id is None for x in listings)


def test_sample_counts_and_ends(samples: dict[str, str]) -> None:
    for name, (count, first, first_abs, last, last_abs) in SAMPLE_EXPECTATIONS.items():
        listings = parse_text(samples[name], name)
        assert len(listings) == count
        assert listings[0].title == first
        assert listings[0].line == 11
        assert listings[0].abstract is not None
        assert listings[0].abstract.startswith(first_abs)
        assert listings[-1].title == last
        assert listings[-1].abstract is not None
        assert listings[-1].abstract.startswith(last_abs)


def test_samples_total_and_distinct(samples: dict[str, str]) -> None:
    listings = [x for name, text in sorted(samples.items()) for x in parse_text(text, name)]
    assert len(listings) == 192
    assert len({normalize_title(x.title or "") for x in listings}) == 167
    unique = dedupe(listings)
    assert len(unique) == 167
    # The first occurrence stays, in order.
    assert unique[0] == listings[0]
    seen: set[str] = set()
    firsts = []
    for listing in listings:
        key = normalize_title(listing.title or "")
        if key not in seen:
            seen.add(key)
            firsts.append(listing)
    assert unique == firsts


def test_sample_titles_keep_their_characters(samples: dict[str, str]) -> None:
    titles = {x.title for name, text in samples.items() for x in parse_text(text, name)}
    assert ASTRO in titles
    assert ZERO_SHOT in titles
    assert (
        "xRAG: Extreme Context Compression for Retrieval-augmented Generation with One Token"
        in (titles)
    )
    assert "2.5 Years in Class: A Multimodal Textbook for Vision-Language Pretraining" in titles
    abstracts = [x.abstract or "" for name, text in samples.items() for x in parse_text(text, name)]
    assert any("\\ModelName" in a for a in abstracts)
    assert any("sim20times" in a for a in abstracts)


def test_sample_lookalikes_stay_apart(samples: dict[str, str]) -> None:
    listings = [x for name, text in sorted(samples.items()) for x in parse_text(text, name)]
    titles = [x.title for x in dedupe(listings)]
    assert "4M: Massively Multimodal Masked Modeling" in titles
    assert "4M-21: An Any-to-Any Vision Model for Tens of Tasks and Modalities" in titles


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_samples_with_other_line_ends(samples: dict[str, str], newline: str) -> None:
    for name, text in samples.items():
        assert parse_text(text.replace("\n", newline), name) == parse_text(text, name)


def test_samples_from_bytes_with_bom(samples: dict[str, str]) -> None:
    for name, text in samples.items():
        data = b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8")
        assert parse_source(data, name) == parse_text(text, name)


def test_samples_without_chrome(samples: dict[str, str]) -> None:
    for name, text in samples.items():
        lines = text.split("\n")
        without = "\n".join(lines[10:])  # everything before the first title
        expected = [replace(x, line=x.line - 10) for x in parse_text(text, name)]
        assert parse_text(without, name) == expected


def test_samples_with_extra_blank_lines_and_spaces(samples: dict[str, str]) -> None:
    for name, text in samples.items():
        messy = "\n\n".join(f"  {line}\t \t" for line in text.split("\n"))
        assert _pairs(parse_text(messy, name)) == _pairs(parse_text(text, name))


def test_samples_as_plain_title_lists(samples: dict[str, str]) -> None:
    for name, text in samples.items():
        titles = [title for _, title, _ in _expected_pairs(text)]
        for joiner in ("\n", "\n\n"):
            listings = parse_text(joiner.join(titles), name)
            assert [x.title for x in listings] == titles
            assert all(x.abstract is None for x in listings)


def _mend(text: str | None) -> str | None:
    """Undo the one ambiguity of re-joining wrapped lines: "scaled- down" vs "scaled-down"."""
    return re.sub(r"- ", "-", text) if text else text


@pytest.mark.parametrize("width", [40, 60, 72, 80, 100])
@pytest.mark.parametrize("after_title", ["\n\n", "\n"])
def test_samples_with_wrapped_abstracts(
    samples: dict[str, str], width: int, after_title: str
) -> None:
    for name, text in samples.items():
        pairs = [(title, abstract) for _, title, abstract in _expected_pairs(text)]
        wrapped = "\n\n".join(
            title
            + after_title
            + "\n".join(
                textwrap.wrap(abstract, width, break_on_hyphens=False, break_long_words=False)
            )
            for title, abstract in pairs
        )
        listings = parse_text(CHROME + wrapped, name)
        assert [x.title for x in listings] == [title for title, _ in pairs]
        assert [_mend(x.abstract) for x in listings] == [_mend(a) for _, a in pairs]


def test_samples_wrapped_at_hyphens_too(samples: dict[str, str]) -> None:
    for name, text in samples.items():
        pairs = [(title, abstract) for _, title, abstract in _expected_pairs(text)]
        wrapped = "\n\n".join(
            title + "\n\n" + "\n".join(textwrap.wrap(abstract, 72, break_long_words=False))
            for title, abstract in pairs
        )
        assert [x.title for x in parse_text(wrapped, name)] == [title for title, _ in pairs]


def test_samples_with_abstract_right_after_title(samples: dict[str, str]) -> None:
    for name, text in samples.items():
        pairs = [(title, abstract) for _, title, abstract in _expected_pairs(text)]
        for between in ("\n\n", "\n"):
            joined = between.join(f"{title}\n{abstract}" for title, abstract in pairs)
            assert _pairs(parse_text(joined, name)) == pairs


def test_samples_with_upvote_counts(samples: dict[str, str]) -> None:
    for name, text in samples.items():
        pairs = [(title, abstract) for _, title, abstract in _expected_pairs(text)]
        noisy = "\n\n".join(
            f"{title}\n{n}\n\n{abstract}" for n, (title, abstract) in enumerate(pairs)
        )
        assert _pairs(parse_text(noisy, name)) == pairs


def test_parse_is_fast(samples: dict[str, str]) -> None:
    text = "\n\n".join(samples.values())
    big = "\n\n".join([text] * (1_000_000 // len(text) + 1))
    assert len(big) > 1_000_000
    best = min(_timed(lambda: parse_text(big, "big")) for _ in range(3))
    assert best < 0.25  # about 0.03 s on a laptop


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def test_pathological_lines_are_fast() -> None:
    # About 1 MB each; quadratic behaviour would take minutes, linear takes well under 1 s.
    texts = [
        "x" * 1_000_000,
        "word " * 200_000,
        ("a." * 100 + "\n") * 5_000,
        "Title Case Line\n" * 60_000,
        "lowercase continuation line of prose\n" * 30_000,
        "We study things. We show more.\n" * 30_000,
        "The advent of Large Language Models\n(LLMs) has significantly reshaped the\n" * 14_000,
        "#" * 1_000_000,
        "2504.10479 " * 90_000,
        "https://arxiv.org/abs/" * 45_000,
    ]
    for text in texts:
        start = time.perf_counter()
        parse_text(text, "x")
        assert time.perf_counter() - start < 2.0, text[:40]


# -- hand-made text listings ---------------------------------------------------------------


def test_title_and_abstract_pairs() -> None:
    text = f"Paper One: A Study\n\n{ABSTRACT_A}\n\nPaper Two\n\n{ABSTRACT_B}\n"
    assert parse_text(text, "t.txt") == [
        Listing(title="Paper One: A Study", abstract=ABSTRACT_A, source="t.txt", line=1),
        Listing(title="Paper Two", abstract=ABSTRACT_B, source="t.txt", line=5),
    ]


def test_chrome_with_a_year_and_other_dates() -> None:
    for date in ("Apr 28", "Jun 6", "Apr 28, 2025", "April 28", "Sept 3", "2025-04-28"):
        text = f"new\nSubscribe\n{date}\n\nPaper One\n\n{ABSTRACT_A}\n"
        assert _pairs(parse_text(text, "t")) == [("Paper One", ABSTRACT_A)]


def test_titles_that_look_like_dates_are_not_swallowed() -> None:
    listings = parse_text("Mayfly 3: Short Lives\nMarch of the Models\n", "t")
    assert [x.title for x in listings] == ["Mayfly 3: Short Lives", "March of the Models"]


def test_whitespace_is_normalized_but_characters_kept() -> None:
    text = f"  AstroM$^3$:\u00a0A \tself-supervised   model  \n\n  {ABSTRACT_A}   \n"
    [listing] = parse_text(text, "t")
    assert listing.title == "AstroM$^3$: A self-supervised model"
    assert listing.abstract == ABSTRACT_A


def test_hard_wrapped_abstract_is_joined() -> None:
    text = (
        "Paper One: A Study\n\n"
        "We introduce a model that reads papers. It learns from 95% of the\n"
        "data & more, reaching 8times the speed of \\ModelName at ~3 GPU-\n"
        "hours. Code is at https://github.com/example/model.\n"
    )
    [listing] = parse_text(text, "t")
    assert listing.abstract == ABSTRACT_A


def test_wrapped_abstract_right_after_its_title() -> None:
    wrapped_a = "\n".join(textwrap.wrap(ABSTRACT_A, 50, break_on_hyphens=False))
    wrapped_b = "\n".join(textwrap.wrap(ABSTRACT_B, 50, break_on_hyphens=False))
    text = f"Paper One: A Study\n{wrapped_a}\n\nEfficient Retrieval for Long Inputs\n{wrapped_b}\n"
    assert _pairs(parse_text(text, "t")) == [
        ("Paper One: A Study", ABSTRACT_A),
        ("Efficient Retrieval for Long Inputs", ABSTRACT_B),
    ]


def test_wrapped_abstract_starting_with_a_capitalized_line() -> None:
    # The abstract's first line could pass for a Title Case title; the wrap gives it away.
    abstract = (
        "Multimodal Large Language Models (MLLMs) have shown strong abilities across many "
        "benchmarks in vision and language. We study their robustness to noisy inputs."
    )
    wrapped = "\n".join(textwrap.wrap(abstract, 40, break_on_hyphens=False))
    assert wrapped.split("\n")[0] == "Multimodal Large Language Models (MLLMs)"
    text = f"Robust MLLMs: A Study\n\n{wrapped}\n"
    assert _pairs(parse_text(text, "t")) == [("Robust MLLMs: A Study", abstract)]


def test_hyphen_at_line_end() -> None:
    text = (
        "T: A Title\n\nWe study low-\nand high-resolution inputs with a vision-\nlanguage model.\n"
    )
    [listing] = parse_text(text, "t")
    assert (
        listing.abstract == "We study low- and high-resolution inputs with a vision-language model."
    )


def test_plain_title_list_with_markers_and_periods() -> None:
    text = (
        "1. Attention Is All You Need\n"
        "2) BERT: Pre-training of Deep Bidirectional Transformers\n"
        "- Language Models are Few-Shot Learners.\n"
        "* xRAG: Extreme Context Compression\n"
        "\u2022 mPLUG-Owl: Modularization Empowers Large Language Models\n"
    )
    listings = parse_text(text, "t")
    assert [(x.title, x.line) for x in listings] == [
        ("Attention Is All You Need", 1),
        ("BERT: Pre-training of Deep Bidirectional Transformers", 2),
        ("Language Models are Few-Shot Learners.", 3),
        ("xRAG: Extreme Context Compression", 4),
        ("mPLUG-Owl: Modularization Empowers Large Language Models", 5),
    ]
    assert all(x.abstract is None for x in listings)


def test_short_one_sentence_abstracts() -> None:
    text = (
        "Token-Efficient Long Video Understanding for Multimodal LLMs\n\n"
        "Recent advances in video-based multimodal large language models (Video-LLMs) have "
        "significantly improved video understanding by processing videos as frames.\n\n"
        "Paper Two\n\nWe propose a method.\n\n"
        "Paper Three\nIt works well.\n"
    )
    assert [(x.title, x.abstract) for x in parse_text(text, "t")] == [
        (
            "Token-Efficient Long Video Understanding for Multimodal LLMs",
            "Recent advances in video-based multimodal large language models (Video-LLMs) have "
            "significantly improved video understanding by processing videos as frames.",
        ),
        ("Paper Two", "We propose a method."),
        ("Paper Three", "It works well."),
    ]


def test_title_list_with_periods_and_blank_lines() -> None:
    text = (
        "Improving language understanding by generative pre-training.\n\n"
        "Language Models are Few-Shot Learners.\n\n"
        "Attention Is All You Need\n"
    )
    assert [(x.title, x.abstract) for x in parse_text(text, "t")] == [
        ("Improving language understanding by generative pre-training.", None),
        ("Language Models are Few-Shot Learners.", None),
        ("Attention Is All You Need", None),
    ]


def test_lowercase_title_list() -> None:
    text = "attention is all you need\nlanguage models are few-shot learners\n"
    assert [x.title for x in parse_text(text, "t")] == [
        "attention is all you need",
        "language models are few-shot learners",
    ]


def test_titles_with_and_without_abstracts_mixed() -> None:
    text = f"Paper One: A Study\n\nPaper Two: More\n\n{ABSTRACT_B}\n\nPaper Three\n"
    assert _pairs(parse_text(text, "t")) == [
        ("Paper One: A Study", None),
        ("Paper Two: More", ABSTRACT_B),
        ("Paper Three", None),
    ]


def test_titles_with_question_marks_and_sentence_breaks() -> None:
    title = "Is It Really Long Context if All You Need Is Retrieval? Towards Difficult NLP"
    text = f"{title}\n\n{ABSTRACT_B}\n\nData vs. Model Scaling: Who Wins\n\n{ABSTRACT_A}\n"
    assert _pairs(parse_text(text, "t")) == [
        (title, ABSTRACT_B),
        ("Data vs. Model Scaling: Who Wins", ABSTRACT_A),
    ]


def test_prose_before_the_first_title_names_no_paper() -> None:
    text = (
        "Here is what I read this week. The list below came from the daily papers page, "
        "and I kept only the ones about retrieval and long context.\n\n"
        f"Paper One: A Study\n\n{ABSTRACT_A}\n"
    )
    assert _pairs(parse_text(text, "t")) == [("Paper One: A Study", ABSTRACT_A)]


def test_abstract_in_two_paragraphs() -> None:
    text = f"Paper One: A Study\n\n{ABSTRACT_A}\n\n{ABSTRACT_B}\n"
    assert _pairs(parse_text(text, "t")) == [("Paper One: A Study", f"{ABSTRACT_A} {ABSTRACT_B}")]


def test_empty_and_chrome_only_text() -> None:
    assert parse_text("", "t") == []
    assert parse_text("\n\n  \n\t\n", "t") == []
    assert parse_text(CHROME, "t") == []
    assert parse_text("42\n\n17\n", "t") == []


# -- identifiers in text -------------------------------------------------------------------


def test_identifier_lines() -> None:
    text = (
        "2504.10479\n"
        "arXiv:2312.06647v2\n"
        "\n"
        "https://huggingface.co/papers/2409.11402\n"
        "https://arxiv.org/pdf/hep-th/9901001v1\n"
        "10.48550/arXiv.2006.03654\n"
    )
    listings = parse_text(text, "ids.txt")
    assert [(x.arxiv_id, x.line) for x in listings] == [
        (ArxivId("2504.10479"), 1),
        (ArxivId("2312.06647", 2), 2),
        (ArxivId("2409.11402"), 4),
        (ArxivId("hep-th/9901001", 1), 5),
        (ArxivId("2006.03654"), 6),
    ]
    assert all(x.title is None and x.source == "ids.txt" for x in listings)


def test_several_identifiers_on_a_line_and_inline_comments() -> None:
    text = (
        "2504.10479, 2312.06647 hep-th/9901001\nhttps://arxiv.org/abs/2401.00001#S2  # fragment\n"
    )
    assert [(str(x.arxiv_id), x.line) for x in parse_text(text, "t")] == [
        ("2504.10479", 1),
        ("2312.06647", 1),
        ("hep-th/9901001", 1),
        ("2401.00001", 2),
    ]


def test_comments_in_an_identifier_file() -> None:
    text = "# reading group\n#todo\n2504.10479\n\n## later\n2312.06647  # InternVL3\n"
    assert [x.arxiv_id for x in parse_text(text, "t")] == [
        ArxivId("2504.10479"),
        ArxivId("2312.06647"),
    ]


def test_titles_starting_with_a_hash_are_kept() -> None:
    title = "#InsTag: Instruction Tagging for Analyzing Supervised Fine-tuning of LLMs"
    text = f"# papers to read\n{title}\n\n{ABSTRACT_A}\n\n2504.10479\n"
    listings = parse_text(text, "t")
    assert [(x.title, x.abstract, x.arxiv_id, x.line) for x in listings] == [
        (title, ABSTRACT_A, None, 2),
        (None, None, ArxivId("2504.10479"), 6),
    ]


def test_identifiers_mixed_with_hugging_face_text(samples: dict[str, str]) -> None:
    name, text = next(iter(sorted(samples.items())))
    mixed = (
        "2504.10479\nhttps://arxiv.org/abs/2312.06647v2\n\n"
        + text
        + "\n\nhf.co/papers/2409.11402\n"
    )
    listings = parse_text(mixed, name)
    expected = parse_text(text, name)
    assert [x.arxiv_id for x in listings[:2]] == [ArxivId("2504.10479"), ArxivId("2312.06647", 2)]
    assert listings[-1].arxiv_id == ArxivId("2409.11402")
    assert listings[-1].line == len(mixed.split("\n")) - 1
    assert [replace(x, line=x.line - 3) for x in listings[2:-1]] == expected


def test_identifier_between_title_and_abstract_ends_the_title() -> None:
    text = f"Paper One\n2504.10479\n\nPaper Two: More\n\n{ABSTRACT_B}\n"
    assert [(x.title, x.abstract, x.arxiv_id) for x in parse_text(text, "t")] == [
        ("Paper One", None, None),
        (None, None, ArxivId("2504.10479")),
        ("Paper Two: More", ABSTRACT_B, None),
    ]


# -- decoding -------------------------------------------------------------------------------


def test_decode_utf8_and_bom() -> None:
    assert decode_input("Łódź – naïve\n".encode(), "f") == "Łódź – naïve\n"
    assert decode_input(b"\xef\xbb\xbfabc", "f") == "abc"
    assert decode_input(b"", "f") == ""
    assert decode_input(b"tab\there\x0cform feed\x1b[0m", "f") == "tab\there\x0cform feed\x1b[0m"


def test_decode_utf16_with_bom() -> None:
    text = "Paper One\r\n\r\nAbstract – naïve.\r\n"
    assert decode_input(text.encode("utf-16"), "f") == text
    assert decode_input(b"\xfe\xff" + text.encode("utf-16-be"), "f") == text


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"abc\x00def",
        b"PK\x03\x04" + bytes(range(1, 32)) * 4,
        b"\x1f\x8b\x08\x00" + b"\x01\x02\x03\x04" * 50,
        "Paper".encode("utf-16-le"),
    ],
)
def test_decode_refuses_binary(data: bytes) -> None:
    with pytest.raises(InputError) as error:
        decode_input(data, "file.bin")
    assert str(error.value) == "file.bin: looks like a binary file, not a text listing"
    assert error.value.source == "file.bin"


def test_decode_refuses_other_encodings() -> None:
    data = "Paper One\n\nAbstract\nCaf\u00e9 society\n".encode("latin-1")
    with pytest.raises(InputError) as error:
        decode_input(data, "latin.txt")
    assert str(error.value) == (
        "latin.txt: is not UTF-8 text (byte 0xe9 at line 4); save it as UTF-8 and retry"
    )
    with pytest.raises(InputError, match=r"byte 0xff at line 2"):
        decode_input(b"ok\r\xff\r", "cr.txt")


# -- reading sources ------------------------------------------------------------------------


def _no_stdin() -> bytes:
    raise AssertionError("stdin must not be read")


def test_read_file_and_identifiers(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(f"Paper One\n\n{ABSTRACT_A}\n".encode())
    listings = read_sources(
        [str(path), "2504.10479", "https://arxiv.org/abs/2312.06647v2"], _no_stdin
    )
    assert listings == [
        Listing(title="Paper One", abstract=ABSTRACT_A, source=str(path), line=1),
        Listing(arxiv_id=ArxivId("2504.10479"), source=ARGUMENT_SOURCE),
        Listing(arxiv_id=ArxivId("2312.06647", 2), source=ARGUMENT_SOURCE),
    ]


def test_read_stdin_once() -> None:
    calls: list[int] = []

    def read_stdin() -> bytes:
        calls.append(1)
        return b"2504.10479\nPaper One\n"

    listings = read_sources(["-", "2312.06647", "-"], read_stdin)
    assert len(calls) == 1
    assert [(x.source, x.line) for x in listings] == [
        (STDIN_SOURCE, 1),
        (STDIN_SOURCE, 2),
        (ARGUMENT_SOURCE, 0),
    ]


def test_read_stdin_errors_name_stdin() -> None:
    with pytest.raises(InputError, match=r"^<stdin>: looks like a binary file"):
        read_sources(["-"], lambda: b"\x00\x01")


def test_empty_sources_are_not_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    chrome = tmp_path / "chrome.txt"
    chrome.write_text(CHROME, encoding="utf-8")
    assert read_sources([str(empty), str(chrome), "-"], lambda: b"") == []
    assert read_source(str(empty), _no_stdin) == []


def test_unknown_argument() -> None:
    with pytest.raises(InputError) as error:
        read_sources(["no-such-file.txt"], _no_stdin)
    assert str(error.value) == "no-such-file.txt: no such file, and not an arXiv identifier or URL"
    with pytest.raises(InputError, match="not an arXiv identifier"):
        read_sources(["2513.12345"], _no_stdin)
    with pytest.raises(InputError, match="not an arXiv identifier"):
        read_sources(["x" * 5000], _no_stdin)
    with pytest.raises(InputError, match="not an arXiv identifier"):
        read_sources(["bad\x00name"], _no_stdin)


def test_directory_argument(tmp_path: Path) -> None:
    with pytest.raises(InputError) as error:
        read_sources([str(tmp_path)], _no_stdin)
    assert str(error.value) == f"{tmp_path}: is a directory, not a listing file"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.txt"
    path.write_text("Paper One\n", encoding="utf-8")
    path.chmod(0)
    try:
        with pytest.raises(InputError, match=r"secret\.txt: cannot be read \(Permission denied\)"):
            read_sources([str(path)], _no_stdin)
    finally:
        path.chmod(0o600)


def test_read_error_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "list.txt"
    path.write_text("Paper One\n", encoding="utf-8")

    def refuse(self: Path, *args: object, **kwargs: object) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(InputError) as error:
        read_sources([str(path)], _no_stdin)
    assert str(error.value) == f"{path}: cannot be read (Permission denied)"


def test_binary_file_argument(tmp_path: Path) -> None:
    path = tmp_path / "paper.pdf"
    path.write_bytes(b"%PDF-1.7\n\x00\x01\x02\xff")
    with pytest.raises(InputError, match=r"paper\.pdf: is a PDF file, not a listing"):
        read_sources([str(path)], _no_stdin)
    path.write_bytes(b"\x00\x01\x02\xff" * 10)
    with pytest.raises(InputError, match=r"paper\.pdf: looks like a binary file"):
        read_sources([str(path)], _no_stdin)


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("\\documentclass[11pt]{article}\n\\begin{document}\nSee \\cite{x}.\n", "LaTeX document"),
        ("% refs\n@article{zhu2025,\n  title = {T},\n  year = {2025},\n}\n", "BibTeX file"),
        ("<!DOCTYPE html>\n<html><body>Papers</body></html>\n", "HTML page"),
    ],
)
def test_other_file_kinds_are_named(tmp_path: Path, text: str, what: str) -> None:
    path = tmp_path / "input.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=f"input.txt: is an? {what}, not a listing"):
        read_sources([str(path)], _no_stdin)


def test_a_listing_that_mentions_bibtex_is_still_a_listing(tmp_path: Path) -> None:
    path = tmp_path / "l.txt"
    path.write_text("BibTeX Tools\n\nWe parse @article{key, title = {x}} and more.\n")
    assert [x.title for x in read_sources([str(path)], _no_stdin)] == ["BibTeX Tools"]


def test_file_named_like_an_identifier_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("2504.10479").write_text("Paper One\n", encoding="utf-8")
    assert [x.title for x in read_sources(["2504.10479"], _no_stdin)] == ["Paper One"]


# -- dedupe ---------------------------------------------------------------------------------


def test_dedupe_by_identifier_ignoring_version() -> None:
    one = Listing(arxiv_id=ArxivId("2504.10479"), source="a", line=1)
    two = Listing(arxiv_id=ArxivId("2504.10479", 3), source="b", line=7)
    other = Listing(arxiv_id=ArxivId("2312.06647"), source="a", line=2)
    assert dedupe([one, other, two]) == [one, other]


def test_dedupe_by_normalized_title() -> None:
    one = Listing(title="Attention Is All You Need", source="a", line=1)
    two = Listing(title="attention is all you need.", source="b", line=3)
    three = Listing(title=r"Attention {I}s All You Need", source="c", line=5)
    assert dedupe([one, two, three]) == [one]


def test_dedupe_merges_what_later_copies_add() -> None:
    bare = Listing(title="Paper One", source="a", line=1)
    middle = Listing(title="Something Else", source="a", line=2)
    with_abstract = Listing(title="PAPER ONE", abstract=ABSTRACT_A, source="b", line=9)
    with_id = Listing(title="Paper one", arxiv_id=ArxivId("2504.10479"), source="c", line=4)
    by_id = Listing(arxiv_id=ArxivId("2504.10479", 2), abstract=ABSTRACT_B, source="d", line=1)
    assert dedupe([bare, middle, with_abstract, with_id, by_id]) == [
        Listing(
            title="Paper One",
            abstract=ABSTRACT_A,
            arxiv_id=ArxivId("2504.10479"),
            source="a",
            line=1,
        ),
        middle,
    ]


def test_dedupe_fills_a_title_from_a_later_copy() -> None:
    by_id = Listing(arxiv_id=ArxivId("2504.10479"), source="a", line=1)
    titled = Listing(title="InternVL3", arxiv_id=ArxivId("2504.10479", 1), source="b", line=2)
    again = Listing(title="internvl3", source="c", line=3)
    assert dedupe([by_id, titled, again]) == [replace(by_id, title="InternVL3")]


def test_dedupe_keeps_lookalikes_and_unmatchable_pairs_apart() -> None:
    listings = [
        Listing(title="4M: Massively Multimodal Masked Modeling"),
        Listing(title="4M-21: An Any-to-Any Vision Model for Tens of Tasks and Modalities"),
        Listing(title="ViT-Lens: Towards Omni-modal Representations"),
        Listing(title="ViT-Lens-2: Gateway to Omni-modal Intelligence"),
        Listing(title="ViT-Lens"),
        Listing(title="ViT-Lens-2"),
        # A title and a bare identifier of the same paper cannot be matched before resolution.
        Listing(title="InternVL3"),
        Listing(arxiv_id=ArxivId("2504.10479")),
        # Untitled, id-less listings have nothing to compare.
        Listing(),
        Listing(),
    ]
    assert dedupe(listings) == listings


def test_dedupe_accepts_any_iterable() -> None:
    listings = (Listing(title=f"Paper {n % 3}") for n in range(9))
    assert [x.title for x in dedupe(listings)] == ["Paper 0", "Paper 1", "Paper 2"]


def test_dedupe_keeps_same_titled_papers_with_different_ids() -> None:
    from readlist.listing import dedupe
    from readlist.models import ArxivId, Listing

    a = Listing(title="Scaling Laws", arxiv_id=ArxivId("2401.00001"))
    b = Listing(title="Scaling  laws", arxiv_id=ArxivId("2402.00002"))
    plain = Listing(title="Scaling Laws", abstract="An abstract.")
    assert dedupe([a, b, plain]) == [replace(a, abstract="An abstract."), b]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Apr 28", (None, 4, 28)),
        ("Sept 3rd, 2024", (2024, 9, 3)),
        ("2025-04-28", (2025, 4, 28)),
        ("Apr 40", None),
        ("InternVL3", None),
    ],
)
def test_date_lines_date_the_listings_below(line: str, expected: object) -> None:
    assert parse_date_line(line) == expected
    listings = parse_text(f"{line}\n\nA Title Here\n\nAn abstract that says things.\n", "x")
    assert listings[0].date == expected
