"""Tests for readlist.normalize: the title key and whitespace clean-up."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from readlist.normalize import normalize_title, normalize_whitespace


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("InternVL3: Exploring Advanced Training", "internvl3 exploring advanced training"),
        ("  Many   spaces\tand\nbreaks  ", "many spaces and breaks"),
        (
            "GPT-4V(ision) as A Social Media Analysis Engine",
            "gpt 4v ision as a social media analysis engine",
        ),
        ('No "Zero-Shot" Without Exponential Data', "no zero shot without exponential data"),
        (
            "No \u201cZero-Shot\u201d Without Exponential Data",
            "no zero shot without exponential data",
        ),
        ("Eyes Wide Shut? Exploring", "eyes wide shut exploring"),
        ("Rock & Roll", "rock roll"),
        (r"Rock \& Roll", "rock roll"),
        ("100% Fine-tuned, 2.5 Years", "100 fine tuned 2 5 years"),
        ("snake_case_title", "snake case title"),
        ("", ""),
        ("?!:", ""),
    ],
)
def test_case_and_punctuation(title: str, expected: str) -> None:
    assert normalize_title(title) == expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Müller Über École", "muller uber ecole"),
        ("Łódź Ørsted Straße", "lodz orsted strasse"),
        ("Æsir Œuvre Þorn Đorđe ıi", "aesir oeuvre thorn dorde ii"),
        ("naïve café résumé", "naive cafe resume"),
        ("\ufb01ne-tuning", "fine tuning"),  # the "fi" ligature
        ("\uff26\uff55\uff4c\uff4c width", "full width"),
        ("\u0130stanbul", "istanbul"),
        ("Zürich\u00a0Model", "zurich model"),
    ],
)
def test_unicode_letters_fold_to_ascii(title: str, expected: str) -> None:
    assert normalize_title(title) == expected


@pytest.mark.parametrize(
    ("tex", "plain"),
    [
        (r"M{\"u}ller", "Müller"),
        (r"M\"{u}ller", "Müller"),
        (r"M\"uller", "Müller"),
        (r"\'Ecole", "École"),
        (r"{\'e}cole", "école"),
        (r"\`a la carte", "à la carte"),
        (r"\^{o}tel", "ôtel"),
        (r"Espa\~na", "España"),
        (r"\v{C}ech", "Čech"),
        (r"\u{g}", "ğ"),
        (r"Erd\H{o}s", "Erdős"),
        (r"Gar\c{c}on", "Garçon"),
        (r"Stra\ss e", "Straße"),
        (r"Stra{\ss}e", "Straße"),
        (r"\O{}rsted", "Ørsted"),
        (r"{\L}{\'o}d{\'z}", "Łódź"),
        (r"\AE{}sir", "Æsir"),
        (r"p{\^\i}ece", "pîece"),
        (r"{B}{ERT}", "BERT"),
        (r"\textbf{Bold} and \emph{Em}", "Bold and Em"),
        (r"\textit{\textsc{Nested}}", "Nested"),
        (r"AstroM$^3$: A self-supervised", "AstroM³: A self-supervised"),
        (r"AstroM$^{3}$: A self-supervised", "AstroM^3: A self-supervised"),
        (r"$\alpha$-CLIP", "α-CLIP"),
        (r"$\mathcal{M}^3$ Fusion", "M³ Fusion"),
        (r"Rock \& Roll", "Rock & Roll"),
        (r"100\% Sure", "100% Sure"),
        (r"Non~Breaking", "Non Breaking"),
        ("``Quoted''", '"Quoted"'),
        (r"Ne{R}F--based", "NeRF-based"),
    ],
)
def test_tex_and_unicode_spellings_agree(tex: str, plain: str) -> None:
    assert normalize_title(tex) == normalize_title(plain)
    assert normalize_title(tex)


def test_tex_examples_from_the_design() -> None:
    assert normalize_title(r"{\"u}ber \"{u}ber \'e \ss") == "uber uber e ss"
    assert normalize_title(r"AstroM$^3$") == "astrom3"
    assert normalize_title(r"\textbf{X}") == "x"
    assert normalize_title(r"A \& B") == normalize_title("A & B") == "a b"


def test_unknown_macros_keep_their_name() -> None:
    assert normalize_title(r"\ModelName: Scaling") == "modelname scaling"
    assert normalize_title(r"\LaTeX{} Tables") == "latex tables"


def test_sample_titles() -> None:
    assert (
        normalize_title("AstroM$^3$: A self-supervised multimodal model for astronomy")
        == "astrom3 a self supervised multimodal model for astronomy"
    )
    assert normalize_title(
        'No "Zero-Shot" Without Exponential Data: Pretraining Concept Frequency Determines '
        "Multimodal Model Performance"
    ) == (
        "no zero shot without exponential data pretraining concept frequency determines "
        "multimodal model performance"
    )


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (
            "4M: Massively Multimodal Masked Modeling",
            "4M-21: An Any-to-Any Vision Model for Tens of Tasks and Modalities",
        ),
        ("4M: Massively Multimodal Masked Modeling", "4M-21: Massively Multimodal Masked Modeling"),
        (
            "ViT-Lens: Towards Omni-modal Representations",
            "ViT-Lens-2: Towards Omni-modal Representations",
        ),
        ("ViT-Lens", "ViT-Lens-2"),
        ("InternVL3", "InternVL 3.5"),
        ("Qwen2-VL", "Qwen2.5-VL"),
        ("Mono-InternVL", "Mono-InternVL-1.5"),
        ("Segment Anything", "Segment Anything 2"),
        ("GPT-4 Technical Report", "GPT-4o Technical Report"),
    ],
)
def test_lookalike_titles_stay_apart(one: str, other: str) -> None:
    assert normalize_title(one) != normalize_title(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Attention Is All You Need", "attention is all you need"),
        ("Attention Is All You Need", "Attention is all you need."),
        ("Attention Is All You Need", " Attention  Is\nAll You Need "),
        ("Vision-Language Models", "Vision Language Models"),
        ("A Survey: Part One", "A Survey -- Part One"),
    ],
)
def test_same_title_differently_written(one: str, other: str) -> None:
    assert normalize_title(one) == normalize_title(other)


def test_normalize_whitespace() -> None:
    assert normalize_whitespace("  a\u00a0b\t\tc\r\nd\re\n\n f\u2009g\u3000h \u200bi\ufeff ") == (
        "a b c d e f g h i"
    )
    assert normalize_whitespace("") == ""
    assert normalize_whitespace(" \n\t ") == ""
    # Everything else is kept exactly.
    text = r"AstroM$^3$: \ModelName reaches 8times 95% & more ~ \url{https://x.y/z}"
    assert normalize_whitespace(text) == text


def test_normalize_title_is_fast_on_long_input() -> None:
    text = (r"\textbf{Word} M{\"u}ller $^3$ & " * 20_000) + "\\" * 10_000
    start = time.perf_counter()
    assert normalize_title(text)
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize(
    ("tex", "plain"),
    [
        ("{\\ensuremath{\\acute\\alpha}}", "ά"),
        ("$\\acute{\\alpha}$-Net", "ά-Net"),
        ("$\\hat{x}$ and $\\bar x$", "x̂ and x̄"),
        ("$\\vec{v}$ Fields", "v⃗ Fields"),
        ("Mixing $\\tilde{n}$", "Mixing ñ"),
    ],
)
def test_math_accents_read_as_plain_combining_marks(tex: str, plain: str) -> None:
    assert normalize_title(tex) == normalize_title(plain)


def test_a_title_with_an_accented_greek_letter_is_found_again(tmp_path: Path) -> None:
    from readlist.bibfile import BibIndex, read_bib
    from readlist.library import BibOptions, add_papers
    from readlist.models import Paper

    path = tmp_path / "refs.bib"
    for style in ("bibtex", "biblatex"):
        path.unlink(missing_ok=True)
        add_papers(path, [Paper(title="P ά")], BibOptions(style=style))  # type: ignore[arg-type]
        assert BibIndex(read_bib(path).entries).find(title="P ά") is not None
        again = add_papers(path, [Paper(title="P ά")], BibOptions(style=style))  # type: ignore[arg-type]
        assert not again.added
