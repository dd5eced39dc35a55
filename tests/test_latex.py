"""The writer's fast paths (ASCII runs, plain runs between TeX) agree with its general paths."""

from __future__ import annotations

import itertools
import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from readlist import latex
from readlist.citekey import _alnum, to_ascii
from readlist.latex import plain_text

# Characters each path treats differently: ASCII specials and controls, whitespace of every
# kind, accents precomposed and combining, invisible format characters, letters T1 lacks,
# symbols, CJK and emoji.
_ALPHABET = list(
    "abcXYZ019 .,:;'-()[]/@&%#_^~$\\{}\t\n\r\x00\x1b\x7f"
    "éñøộưĦħƏßÅıł\u0301\u0323\u0308\u200b\u202e\u00ad\u00a0\u2028\u3000"
    "李αΩόЖ😀\ufe0f–’…€™Ａ①ﬅǅ"
)
_TEXT = st.text(alphabet=st.sampled_from(_ALPHABET), max_size=60)
_ASCII = st.text(alphabet=st.characters(max_codepoint=127), max_size=60)
_TEX_ATOMS = st.sampled_from(
    ['\\"o', "\\'e", "\\^{i}", "\\~{{\\^e}}", "\\ss", "\\textbf{b}", "\\emph{", "\\alpha",
     "\\ModelName", "$x^2$", "$5 and $", "\\(", "\\)", "\\%", "\\{", "\\url{a_b}", "{", "}",
     "word", " ", "é", "\u0301", "~", "GPT-4V"]
)  # fmt: skip
_TEX = st.lists(_TEX_ATOMS, max_size=12).map("".join)
# Ties and tildes: which one a `~` is depends on its word and its neighbours.
_TILDE_ATOMS = ["a~b", "~", "x/y", " ", "\ufe0f", "é", "a", "."]


def _clean_by_character(text: str) -> str:
    """`latex._clean` as a loop over characters: the definition its table follows."""
    out = []
    for char in unicodedata.normalize("NFC", text):
        if char.isspace():
            out.append(" ")
        elif unicodedata.category(char) not in ("Cc", "Cf"):
            out.append(char)
    return re.sub(" {2,}", " ", "".join(out)).strip()


@settings(max_examples=300)
@given(_TEXT)
def test_clean_matches_the_character_loop(text: str) -> None:
    assert latex._clean(text) == _clean_by_character(text)


@settings(max_examples=300)
@given(_TEXT | _ASCII, st.booleans(), st.booleans())
def test_encode_text_matches_the_cluster_loop(text: str, ascii_only: bool, name: bool) -> None:
    expected = latex._encode_clusters(text, ascii_only=ascii_only, name=name)
    assert latex._encode_text(text, ascii_only=ascii_only, name=name) == expected


def test_encode_text_keeps_a_combining_mark_with_the_ascii_letter_before_it() -> None:
    text = "Jose\u0301 and e\u0323 x"
    for ascii_only in (True, False):
        expected = latex._encode_clusters(text, ascii_only=ascii_only, name=False)
        assert latex._encode_text(text, ascii_only=ascii_only) == expected
    assert latex._encode_text("Jose\u0301", ascii_only=True) == "Jos{\\'e}"


@settings(max_examples=300)
@given(_ASCII | _TEXT)
def test_needs_protection_ascii_path_matches_the_general_one(text: str) -> None:
    runs = re.findall(r"[^\W_]+", text)
    assert latex._needs_protection(text) == latex._runs_need_protection(runs)


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from(list("{}ab\\")), max_size=40))
def test_brace_depth_ok_counts_every_brace(value: str) -> None:
    depth, ok = 0, True
    for char in value:
        depth += {"{": 1, "}": -1}.get(char, 0)
        ok = ok and depth >= 0
    assert latex.brace_depth_ok(value) == (ok and depth == 0)


@settings(max_examples=300)
@given(_TEXT, st.booleans())
def test_text_without_tex_decodes_to_itself(text: str, field: bool) -> None:
    text = text.replace("\\", "").replace("$", "")
    expected = latex._clean(text)
    if field:
        expected = expected.replace("{", "").replace("}", "")
    assert plain_text(text, field=field) == expected


@settings(max_examples=300)
@given(_TEX | _ASCII, _ASCII.map(lambda t: t.replace("\\", "").replace("$", "")))
def test_decoder_copies_plain_runs_whole(text: str, plain: str) -> None:
    # Runs without TeX are copied as slices: text before and after one reads as itself.
    pieces = latex.decode(text)
    assert all(content for _, content in pieces)
    assert all(a[0] or b[0] for a, b in zip(pieces, pieces[1:], strict=False))  # text merged
    cleaned = latex._clean(plain)
    if cleaned and not cleaned.startswith(" "):
        around = latex.decode(cleaned + " " + text)
        assert around[0][1].startswith(cleaned) and not around[0][0]


@settings(max_examples=300)
@given(_ASCII | _TEXT | _TEX)
def test_alnum_fast_path_matches_decoding_and_transliterating(word: str) -> None:
    assert _alnum(word) == re.sub(r"[^A-Za-z0-9]", "", to_ascii(plain_text(word)))


def test_to_ascii_drops_what_has_no_latin_spelling() -> None:
    assert to_ascii("Schölkopf 李 Łukasz") == "Scholkopf  Lukasz"


def test_encode_text_matches_the_cluster_loop_on_every_short_text_of_tildes() -> None:
    for atoms in itertools.product(_TILDE_ATOMS, repeat=5):
        text = "".join(atoms)
        expected = latex._encode_clusters(text, ascii_only=True, name=False)
        assert latex._encode_text(text, ascii_only=True) == expected, text


def test_encode_text_reads_only_the_words_with_a_tilde_cluster_by_cluster() -> None:
    text = "see e.g.~the a~b home at http://x.org/~me and ~ alone, caf\u00e9~bar \u0301~a"
    expected = latex._encode_clusters(text, ascii_only=True, name=False)
    assert latex._encode_text(text, ascii_only=True) == expected
    assert "e.g.~the" in expected and "/{\\textasciitilde}me" in expected


@settings(max_examples=300)
@given(st.lists(st.sampled_from(["{", "}", "\\", "\\{", "\\}", "a", "{a}", "\\\\"]), max_size=20))
def test_groups_pair_braces_as_a_scan_from_left(parts: list[str]) -> None:
    text = "".join(parts)
    close: dict[int, int] = {}
    opened: list[int] = []
    j = 0
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        if text[j] == "{":
            opened.append(j)
        elif text[j] == "}" and opened:
            close[opened.pop()] = j
        j += 1
    groups = latex._Groups(text)
    for i, char in enumerate(text):
        if char == "{":
            found = groups.read(i)
            want = close.get(i)
            assert found == (None if want is None else (text[i + 1 : want], want + 1))


def test_a_combining_mark_on_the_space_after_a_tilde_word_joins_the_next_word() -> None:
    # " \ufe0f" is one cluster, not a space: "e.g.~the" and "(x/y" are one word, a URL.
    text = "e.g.~the \ufe0f(x/y"
    expected = latex._encode_clusters(text, ascii_only=True, name=False)
    assert latex._encode_text(text, ascii_only=True) == expected
    assert "{\\textasciitilde}" in expected
