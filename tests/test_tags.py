from __future__ import annotations

import time

import pytest

from readlist.errors import ConfigError
from readlist.tags import (
    assign_tags,
    check_tag,
    compile_rules,
    format_keywords,
    merge_tags,
    parse_keywords,
)

DESIGN_RULES = [
    ("retrieval", ["retrieval", "RAG", "re-rank*"]),
    ("video", ["video"]),
    ("medical", ["medical", "radiology", "pathology", r"re:\bbio-?medical\b"]),
]


def tags_for(title: str, abstract: str | None = None, rules=DESIGN_RULES, **kwargs) -> tuple:
    return assign_tags({"title": title, "abstract": abstract}, compile_rules(rules), **kwargs)


def matches(pattern: str, text: str) -> bool:
    return assign_tags({"title": text}, compile_rules([("t", [pattern])])) == ("t",)


@pytest.mark.parametrize(
    "text",
    ["RAG", "rag", "RAG-based retrieval", "a (RAG) system", "RAG_pipeline", "end of RAG.", "x/RAG"],
)
def test_literal_matches_whole_words_ignoring_case(text: str) -> None:
    assert matches("RAG", text)


@pytest.mark.parametrize("text", ["RAGS", "fragment", "dragRAG", "RAG2", "", "R A G"])
def test_literal_does_not_match_inside_words(text: str) -> None:
    assert not matches("RAG", text)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("C++", "We port it to C++ today", True),
        ("C++", "C++17 support", True),
        ("C++", "ABC++", False),
        ("C++", "C+ only", False),
        ("GPT-4o", "compared with GPT-4o and others", True),
        ("GPT-4o", "GPT-4omni", False),
        ("GPT-4o", "GPT 4o", False),
        ("3D", "3D reconstruction", True),
        ("3D", "13D", False),
        ("3D", "3DGS", False),
        ("a.b", "axb", False),  # '.' is literal
        ("(x)", "the (x) term", True),
        ("Ünïcode", "ÜNÏCODE rules", True),
        ("naïve", "naïveté", False),
    ],
)
def test_literal_special_characters(pattern: str, text: str, expected: bool) -> None:
    assert matches(pattern, text) is expected


def test_multi_word_pattern_matches_across_whitespace_and_line_breaks() -> None:
    assert matches("large language model", "a Large\n  Language\tmodel for x")
    assert matches("large language model", "large language\r\nmodel")
    assert not matches("large language model", "large-language model")
    assert not matches("large language model", "large language models")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("re-rank", True),
        ("re-ranking", True),
        ("Re-Ranker", True),
        ("re-rank-based", True),
        ("rerank", False),
        ("pre-rank", False),
        ("re-ran", False),
    ],
)
def test_trailing_star_is_a_word_suffix_wildcard(text: str, expected: bool) -> None:
    assert matches("re-rank*", text) is expected


def test_star_suffix_on_multi_word_pattern() -> None:
    assert matches("vision transform*", "Vision\nTransformers are")


@pytest.mark.parametrize("pattern", ["re*rank", "*rank", "re-rank**", "*"])
def test_star_elsewhere_is_a_compile_error(pattern: str) -> None:
    with pytest.raises(ConfigError) as info:
        compile_rules([("t", [pattern])])
    assert info.value.key == "tags.t"
    assert repr(pattern) in str(info.value)


def test_star_error_message() -> None:
    with pytest.raises(ConfigError) as info:
        compile_rules([("ranking", ["re*rank"])])
    assert str(info.value) == (
        "tags.ranking: pattern 're*rank': '*' is allowed only at the end of a pattern"
    )


def test_regex_pattern_is_searched_ignoring_case() -> None:
    assert tags_for("A BIOMEDICAL benchmark") == ("medical",)
    assert tags_for("bio-medical imaging") == ("medical",)
    assert tags_for("biomedicalish") == ()


def test_regex_pattern_with_groups_and_backreferences() -> None:
    rules = [("double", [r"re:\b(\w+) \1\b"]), ("x", ["foo", r"re:(a)(b)\2"])]
    assert tags_for("the the end", rules=rules) == ("double",)
    assert tags_for("abb", rules=rules) == ("x",)


def test_bad_regex_is_a_compile_error_naming_tag_and_pattern() -> None:
    with pytest.raises(ConfigError) as info:
        compile_rules([("video", ["video"]), ("broken", ["ok", "re:(unclosed"])])
    assert info.value.key == "tags.broken"
    assert str(info.value).startswith(
        "tags.broken: pattern 're:(unclosed' is not a valid regex: missing ), unterminated"
    )


@pytest.mark.parametrize("patterns", [[], [""], ["  "], ["re:"]])
def test_empty_patterns_are_errors(patterns: list[str]) -> None:
    with pytest.raises(ConfigError):
        compile_rules([("t", patterns)])


@pytest.mark.parametrize("name", ["", " ", "a,b", "a;b", "{a}"])
def test_bad_tag_names_are_errors(name: str) -> None:
    with pytest.raises(ConfigError):
        compile_rules([(name, ["x"])])


def test_check_tag() -> None:
    assert check_tag("  to  read ") == "to read"
    with pytest.raises(ValueError, match="cannot be empty"):
        check_tag(" ")
    with pytest.raises(ValueError, match="contains ,"):
        check_tag("a,b")


def test_single_string_patterns_are_accepted() -> None:
    rules = compile_rules([("video", "video")])
    assert rules.rules[0].patterns == ("video",)
    assert assign_tags({"title": "Video"}, rules) == ("video",)


def test_result_order_is_rule_order_then_always_then_extra() -> None:
    title = "Video RAG for radiology"
    assert tags_for(title, always=["to-read"], extra=["mine"]) == (
        "retrieval",
        "video",
        "medical",
        "to-read",
        "mine",
    )
    # Rule order, not order of appearance in the text.
    assert tags_for("radiology video") == ("video", "medical")


def test_tags_are_deduplicated_ignoring_case_keeping_first_spelling() -> None:
    rules = [("Video", ["video"]), ("video", ["clip"])]
    got = tags_for("video clip", rules=rules, always=["VIDEO", "to-read"], extra=["To-Read", "x"])
    assert got == ("Video", "to-read", "x")


def test_fields_choose_where_to_look() -> None:
    rules = compile_rules(DESIGN_RULES)
    texts = {"title": "A video model", "abstract": "We use RAG."}
    assert assign_tags(texts, rules) == ("retrieval", "video")
    assert assign_tags(texts, rules, fields=["title"]) == ("video",)
    assert assign_tags(texts, rules, fields=["abstract"]) == ("retrieval",)
    assert assign_tags(texts, rules, fields=[], always=["a"]) == ("a",)


def test_missing_or_none_fields_are_fine() -> None:
    rules = compile_rules(DESIGN_RULES)
    assert assign_tags({"title": "video"}, rules) == ("video",)
    assert assign_tags({"title": None, "abstract": None}, rules, always=["x"]) == ("x",)
    assert assign_tags({}, rules) == ()


def test_phrase_does_not_match_across_fields() -> None:
    rules = [("llm", ["language model"])]
    assert tags_for("Language", "model of things", rules=rules) == ()


def test_no_rules() -> None:
    assert assign_tags({"title": "x"}, compile_rules([]), always=["to-read"]) == ("to-read",)


def test_merge_tags() -> None:
    assert merge_tags(["b", "A"], ["a", "c", "B", "d", "c"]) == ("b", "A", "c", "d")
    assert merge_tags([], ["x"]) == ("x",)
    assert merge_tags(["x"], []) == ("x",)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("retrieval, video", ["retrieval", "video"]),
        ("retrieval;video ; to-read", ["retrieval", "video", "to-read"]),
        ("{RAG}, {Video}", ["RAG", "Video"]),
        ("{retrieval, video}", ["retrieval", "video"]),
        ("  to\n   read ,, ", ["to read"]),
        ("a, A, b", ["a", "b"]),
        ("", []),
    ],
)
def test_parse_keywords(value: str, expected: list[str]) -> None:
    assert parse_keywords(value) == expected


def test_format_keywords_round_trips() -> None:
    tags = ("retrieval", "to-read", "GPT-4o")
    assert format_keywords(tags) == "retrieval, to-read, GPT-4o"
    assert tuple(parse_keywords(format_keywords(tags))) == tags
    assert format_keywords([]) == ""


def test_tagging_many_abstracts_is_fast() -> None:
    rules = compile_rules(
        DESIGN_RULES
        + [(f"tag{i}", [f"keyword{i}", f"phrase number {i}", f"stem{i}*"]) for i in range(30)]
    )
    abstract = (
        "We present a large multimodal model evaluated on many benchmarks, with an analysis "
        "of scaling, data mixtures and training recipes across vision and language tasks. "
    ) * 6
    start = time.perf_counter()
    for i in range(20_000):
        assign_tags({"title": f"Paper {i} on video", "abstract": abstract}, rules)
    assert time.perf_counter() - start < 10


def test_index_never_loses_a_match() -> None:
    # The word index is only an optimization: compare it with searching every rule.
    import random

    patterns = [
        "RAG", "re-rank*", "C++", "GPT-4o", "3D", "large language model", "vision transform*",
        "GPT-*", "a.b", "naïve", "x", "++", "re:\\bbio-?medical\\b", "re:ra+g", "ab_cd",
        "multi-modal", "e2e", "v2*",
    ]  # fmt: skip
    rules = compile_rules([(f"t{i}", [p]) for i, p in enumerate(patterns)])
    pieces = [
        "rag", "RAG", "rags", "re-rank", "re-ranking", "Re-Ranker", "c++", "C", "+", "gpt-4o",
        "GPT-4", "gpt-", "3d", "3D", "13d", "large", "language", "model", "models", "vision",
        "Transformers", "a.b", "a", "b", ".", "naïve", "NAÏVE", "x", "X1", "biomedical",
        "bio-medical", "raaag", "ab_cd", "ab", "_", "cd", "multi-modal", "multi", "modal",
        "e2e", "v2", "v2x", "(", ")", "-", "/", "\n", "  ", "\t", "fragment", "ſ",
    ]  # fmt: skip
    generator = random.Random(1234)
    for _ in range(3000):
        text = "".join(
            generator.choice(pieces) + generator.choice(["", " ", "-", "\n", "(", ")", ",", "_"])
            for _ in range(generator.randint(1, 8))
        )
        expected = [rule.tag for rule in rules.rules if rule.matches(text)]
        assert rules.matching([text]) == expected, text
