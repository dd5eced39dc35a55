from __future__ import annotations

from pathlib import Path

import pytest

from readlist.errors import TexFileError
from readlist.texcheck import CiteUse, cite_keys_in_tex, cites_all, missing_keys


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def keys_of(tmp_path: Path, body: str) -> list[str]:
    return [use.key for use in cite_keys_in_tex(write(tmp_path / "paper.tex", body))]


@pytest.mark.parametrize(
    "command",
    [
        "cite", "citep", "citet", "citealp", "citealt", "citeauthor", "citeyear", "citeyearpar",
        "citenum", "Citet", "Citep", "Cite", "parencite", "Parencite", "textcite", "Textcite",
        "autocite", "Autocite", "footcite", "footcitetext", "fullcite", "smartcite",
        "supercite", "citetitle", "nocite", "citeA", "citeNP", "shortcite",
    ],
)  # fmt: skip
def test_citation_commands(tmp_path: Path, command: str) -> None:
    assert keys_of(tmp_path, f"See \\{command}{{zhu2025internvl3}}.") == ["zhu2025internvl3"]


def test_starred_forms_and_optional_arguments(tmp_path: Path) -> None:
    body = r"""
    \citep*{a} \citet*[p.~3]{b} \citep[see][p.~3]{c,d} \citep [see] [ch.~2] {e}
    \parencite[{a]b}][x]{f} \cite[{\S}~2]{g}
    """
    assert keys_of(tmp_path, body) == ["a", "b", "c", "d", "e", "f", "g"]


def test_key_lists_with_spaces_and_line_breaks(tmp_path: Path) -> None:
    body = "Text \\citep{alpha, beta ,\n   gamma,\n\tdelta}.\n"
    uses = cite_keys_in_tex(write(tmp_path / "paper.tex", body))
    assert [(u.key, u.line) for u in uses] == [
        ("alpha", 1),
        ("beta", 1),
        ("gamma", 2),
        ("delta", 3),
    ]


def test_command_and_argument_split_over_lines(tmp_path: Path) -> None:
    assert keys_of(tmp_path, "\\citep\n  [see]\n  {a,\n b}") == ["a", "b"]


def test_line_numbers_and_paths(tmp_path: Path) -> None:
    main = write(tmp_path / "paper.tex", "line one\n\n\\cite{a}\nx \\cite{b} \\cite{c}\n")
    assert cite_keys_in_tex(main) == [
        CiteUse("a", main, 3),
        CiteUse("b", main, 4),
        CiteUse("c", main, 4),
    ]


def test_multicite_commands(tmp_path: Path) -> None:
    body = r"""
    \cites{a}{b}
    \parencites[see][12]{c}[][34]{d,e} and more [not a cite]
    \textcites(pre)(post)[x]{f}
      [y]{g}
    \autocites{h}
    text {i}
    """
    assert keys_of(tmp_path, body) == ["a", "b", "c", "d", "e", "f", "g", "h"]


def test_comments_are_ignored(tmp_path: Path) -> None:
    body = r"""
    % \cite{commented}
    \cite{a} % \cite{after}
    50\% of \cite{b}
    line break \\% \cite{still-a-comment}
    \citep{c,% a comment inside the list
      d}
    \cite{ab%
      cd}
    """
    assert keys_of(tmp_path, body) == ["a", "b", "c", "d", "abcd"]


def test_verbatim_and_comment_environments_are_ignored(tmp_path: Path) -> None:
    body = r"""
    \begin{verbatim}
    \cite{verb1} % not a comment here
    \end{verbatim}
    \cite{a}
    \begin{comment}
    \cite{hidden}
    \end{comment}
    \begin{lstlisting}[language=TeX]
    \cite{listing}
    \end{lstlisting}
    \begin{verbatim*}\cite{star}\end{verbatim*}
    \verb|\cite{inline}| \verb*+\cite{x}+ \cite{b}
    \begin {minted}{latex}
    \cite{minted}
    \end{minted}
    % \begin{verbatim}
    \cite{c}
    % \end{verbatim}
    """
    assert keys_of(tmp_path, body) == ["a", "b", "c"]


def test_unterminated_verbatim_hides_the_rest(tmp_path: Path) -> None:
    assert keys_of(tmp_path, "\\cite{a}\n\\begin{verbatim}\n\\cite{b}\n") == ["a"]


def test_escapes_do_not_start_commands_or_groups(tmp_path: Path) -> None:
    # `\\cite` is a line break followed by the word "cite"; `\{` is not a group.
    assert keys_of(tmp_path, r"a\\cite{nope} \cite{yes} \{ \cite{z}") == ["yes", "z"]


def test_not_citation_commands(tmp_path: Path) -> None:
    body = r"""
    \citestyle{plainnat} \citetext{see} \excite{no} \bibliographystyle{plain}
    \bibliography{refs} \citeindextrue \recite{no}
    """
    assert keys_of(tmp_path, body) == []


def test_keys_built_by_macros_are_skipped(tmp_path: Path) -> None:
    body = r"""
    \newcommand{\mycite}[1]{\cite{#1}}
    \cite{\mykey} \cite{} \cite{ , a, } \cite
    """
    assert keys_of(tmp_path, body) == ["a"]


def test_nocite_star_is_a_flag_not_a_key(tmp_path: Path) -> None:
    main = write(tmp_path / "paper.tex", "\\nocite{*}\n\\cite{a}\n")
    uses = cite_keys_in_tex(main)
    assert [(u.key, u.is_all) for u in uses] == [("*", True), ("a", False)]
    assert cites_all(uses)
    assert [m.key for m in missing_keys(uses, [])] == ["a"]
    assert not cites_all(cite_keys_in_tex(write(tmp_path / "b.tex", "\\cite{*}")))


def test_includes_are_followed_in_document_order(tmp_path: Path) -> None:
    main = write(
        tmp_path / "paper.tex",
        "\\cite{m1}\n\\input{sections/intro}\n\\include{chap}\n\\subfile{sub.tex}\n\\cite{m2}\n",
    )
    intro = write(tmp_path / "sections" / "intro.tex", "\n\\cite{i1}\n\\input{sections/deep}\n")
    deep = write(tmp_path / "sections" / "deep.tex", "\\cite{d1}")
    chap = write(tmp_path / "chap.tex", "\\citep{c1}")
    sub = write(tmp_path / "sub.tex", "\\citet{s1}")
    assert [(u.key, u.path, u.line) for u in cite_keys_in_tex(main)] == [
        ("m1", main, 1),
        ("i1", intro, 2),
        ("d1", deep, 1),
        ("c1", chap, 1),
        ("s1", sub, 1),
        ("m2", main, 5),
    ]


def test_include_relative_to_main_file_not_cwd(tmp_path: Path, monkeypatch) -> None:
    write(tmp_path / "doc" / "main.tex", "\\input{part}")
    write(tmp_path / "doc" / "part.tex", "\\cite{p}")
    monkeypatch.chdir(tmp_path)
    assert [u.key for u in cite_keys_in_tex(Path("doc/main.tex"))] == ["p"]


def test_include_falls_back_to_including_files_directory(tmp_path: Path) -> None:
    write(tmp_path / "main.tex", "\\input{chapters/one}")
    write(tmp_path / "chapters" / "one.tex", "\\input{two}")
    write(tmp_path / "chapters" / "two.tex", "\\cite{t}")
    assert [u.key for u in cite_keys_in_tex(tmp_path / "main.tex")] == ["t"]


def test_bare_input_and_file_without_tex_suffix(tmp_path: Path) -> None:
    write(tmp_path / "main.tex", "\\input part \\input{data.txt}")
    write(tmp_path / "part.tex", "\\cite{p}")
    write(tmp_path / "data.txt", "\\cite{d}")
    assert [u.key for u in cite_keys_in_tex(tmp_path / "main.tex")] == ["p", "d"]


def test_include_cycles_are_guarded(tmp_path: Path) -> None:
    write(tmp_path / "main.tex", "\\cite{m}\\input{a}\\input{a}")
    write(tmp_path / "a.tex", "\\cite{a}\\input{b}")
    write(tmp_path / "b.tex", "\\cite{b}\\input{a}\\input{main}")
    assert [u.key for u in cite_keys_in_tex(tmp_path / "main.tex")] == ["m", "a", "b"]


def test_commented_include_is_not_followed(tmp_path: Path) -> None:
    write(tmp_path / "main.tex", "% \\input{missing}\n\\cite{a}")
    assert [u.key for u in cite_keys_in_tex(tmp_path / "main.tex")] == ["a"]


def test_missing_included_file_names_it_and_the_line(tmp_path: Path) -> None:
    main = write(tmp_path / "main.tex", "\\begin{document}\n\n\\include{chap2}\n")
    with pytest.raises(TexFileError) as info:
        cite_keys_in_tex(main)
    assert str(info.value) == (
        f"{main}:3: \\include{{chap2}} names a file that does not exist"
        f" (looked for {tmp_path / 'chap2.tex'}, {tmp_path / 'chap2'})"
    )


def test_missing_preamble_input_may_be_a_distribution_file(tmp_path: Path) -> None:
    main = write(
        tmp_path / "main.tex",
        "\\input{glyphtounicode}\n\\begin{document}\n\\cite{a}\n\\end{document}\n",
    )
    assert [u.key for u in cite_keys_in_tex(main)] == ["a"]
    write(main, "\\begin{document}\n\\input{glyphtounicode}\n\\end{document}\n")
    with pytest.raises(TexFileError, match="glyphtounicode"):
        cite_keys_in_tex(main)


def test_missing_main_file(tmp_path: Path) -> None:
    with pytest.raises(TexFileError) as info:
        cite_keys_in_tex(tmp_path / "nope.tex")
    assert str(info.value) == f"{tmp_path / 'nope.tex'}: no such file"


def test_main_file_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(TexFileError) as info:
        cite_keys_in_tex(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a directory, not a .tex file"


def test_main_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.tex"
    path.write_bytes("ok\n\\cite{M\xfcller}\n".encode("latin-1"))
    with pytest.raises(TexFileError) as info:
        cite_keys_in_tex(path)
    assert str(info.value) == (
        f"{path}: line 2 is not UTF-8 text (byte 0xfc); save the file as UTF-8"
    )


def test_included_file_not_utf8(tmp_path: Path) -> None:
    write(tmp_path / "main.tex", "\\input{part}")
    (tmp_path / "part.tex").write_bytes(b"\xff\xfe")
    with pytest.raises(TexFileError, match="part.tex: line 1 is not UTF-8"):
        cite_keys_in_tex(tmp_path / "main.tex")


def test_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "main.tex"
    path.write_bytes("\ufeff\\cite{a}\r\n\\cite{b,\r\n c}\r\n".encode())
    assert [(u.key, u.line) for u in cite_keys_in_tex(path)] == [("a", 1), ("b", 2), ("c", 3)]


def test_unicode_keys(tmp_path: Path) -> None:
    assert keys_of(tmp_path, "\\cite{müller2020, 王2021}") == ["müller2020", "王2021"]


def test_missing_keys_is_case_sensitive_with_a_hint(tmp_path: Path) -> None:
    main = write(tmp_path / "paper.tex", "\\cite{Zhu2025internvl3}\n\\cite{ok, absent, ok}\n")
    uses = cite_keys_in_tex(main)
    missing = missing_keys(uses, {"zhu2025internvl3", "ok"})
    assert [(m.key, m.line, m.hint) for m in missing] == [
        ("Zhu2025internvl3", 1, "zhu2025internvl3"),
        ("absent", 2, None),
    ]
    assert missing[0].use == uses[0]
    assert missing[0].path == main


def test_missing_keys_none_missing() -> None:
    uses = [CiteUse("a", Path("x.tex"), 1)]
    assert missing_keys(uses, ["a", "b"]) == []
    assert missing_keys([], []) == []


def test_large_document_is_fast(tmp_path: Path) -> None:
    import time

    paragraph = "Some text with a \\citep[p.~1]{key%d} and 10\\%% more %% comment\n"
    body = "".join(paragraph % i for i in range(20_000))
    path = write(tmp_path / "big.tex", body)
    start = time.perf_counter()
    uses = cite_keys_in_tex(path)
    assert len(uses) == 20_000
    assert uses[-1] == CiteUse("key19999", path, 20_000)
    assert time.perf_counter() - start < 5
