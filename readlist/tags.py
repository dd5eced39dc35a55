"""Tags from keyword rules: case-insensitive whole words, `*` suffix wildcards, `re:` regexes.

A rule is a tag name and its patterns, as in the `[tags]` table of the config::

    retrieval = ["retrieval", "RAG", "re-rank*"]
    medical = ["medical", "re:\\bbio-?medical\\b"]

A literal pattern matches as a whole word, ignoring case: a word boundary is any character
that is not a letter or digit, or the edge of the text, so ``RAG`` matches "RAG-based" and
"(RAG)" but neither "RAGS" nor "fragment". Words of a multi-word pattern match across any
run of whitespace, line breaks included. A trailing ``*`` accepts any letters and digits
after the prefix (``re-rank*``: re-rank, re-ranking, re-ranker). Everything else in a
literal pattern is literal (``C++``, ``GPT-4o``, ``3D``). A pattern starting with ``re:`` is
a Python regular expression, searched ignoring case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from readlist.errors import ConfigError

DEFAULT_FIELDS: tuple[str, ...] = ("title", "abstract")
REGEX_PREFIX = "re:"

# Characters that would break the BibTeX `keywords` list or the Zotero tag round trip.
_FORBIDDEN_IN_TAG = frozenset(",;{}")
# One alphanumeric character (any script): a word character that is not an underscore.
_ALNUM = r"[^\W_]"
_KEYWORD_SEPARATOR = re.compile(r"[,;]")
_ASCII_RUN = re.compile(r"[a-z0-9]+")
_ASCII_WORDS = bytes(
    c + 32 if 65 <= c <= 90 else c if 97 <= c <= 122 or 48 <= c <= 57 else 32 for c in range(256)
)  # a bytes.translate table: lowercase letters and digits, everything else a space


@dataclass(frozen=True)
class TagRule:
    """One tag with its compiled patterns."""

    tag: str
    patterns: tuple[str, ...]
    literal: re.Pattern[str] | None  # all literal patterns of the tag as one alternation
    regexes: tuple[re.Pattern[str], ...]  # `re:` patterns, kept apart so their groups work

    def matches(self, text: str) -> bool:
        """Return whether any pattern of this rule occurs in `text`."""
        if self.literal is not None and self.literal.search(text):
            return True
        return any(regex.search(text) for regex in self.regexes)


@dataclass(frozen=True)
class TagRules:
    """Compiled tag rules, in config order, with an index that skips hopeless searches.

    Every literal pattern contains a run of letters/digits that must appear in a matching
    text as a whole word (or, for a wildcard's last run, as a prefix). For an ASCII text,
    one set of its words tells which rules can match at all; only those are searched.
    """

    rules: tuple[TagRule, ...] = ()
    # word -> rules with a pattern whose needle is that whole word
    words: Mapping[bytes, frozenset[int]] = field(default_factory=dict, repr=False, compare=False)
    # (b" " + stem, rule) for patterns whose only needle is a wildcard's stem
    prefixes: tuple[tuple[bytes, int], ...] = field(default=(), repr=False, compare=False)
    # rules whose literal patterns cannot be indexed (non-ASCII, or no letters/digits)
    unindexed: frozenset[int] = field(default=frozenset(), repr=False, compare=False)
    # rules with `re:` patterns, searched in every text
    with_regexes: frozenset[int] = field(default=frozenset(), repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.rules)

    @property
    def tags(self) -> tuple[str, ...]:
        """Return the tag names in rule order."""
        return tuple(rule.tag for rule in self.rules)

    def matching(self, texts: Iterable[str]) -> list[str]:
        """Return the tags of the rules matching any of `texts`, in rule order."""
        found: set[int] = set()
        for text in texts:
            if not text.isascii():
                # Unicode case-insensitive matching is not `lower()`: search every rule.
                found.update(
                    i for i, rule in enumerate(self.rules) if i not in found and rule.matches(text)
                )
                continue
            candidates = self._candidates(text)
            for index in sorted((candidates | self.with_regexes) - found):
                rule = self.rules[index]
                literal = rule.literal if index in candidates else None
                if (literal is not None and literal.search(text)) or any(
                    regex.search(text) for regex in rule.regexes
                ):
                    found.add(index)
        return [self.rules[index].tag for index in sorted(found)]

    def _candidates(self, text: str) -> set[int]:
        """Return the rules whose literal patterns may match the ASCII `text`."""
        # Letters and digits stay, everything else becomes a space; then split into words.
        spaced = b" " + text.encode("ascii").translate(_ASCII_WORDS)
        candidates = set(self.unindexed)
        for word in self.words.keys() & set(spaced.split()):
            candidates |= self.words[word]
        for prefix, index in self.prefixes:
            if prefix in spaced:
                candidates.add(index)
        return candidates


def check_tag(name: str) -> str:
    """Return `name` stripped, or raise ValueError if it cannot be a tag."""
    tag = " ".join(name.split())
    if not tag:
        raise ValueError("a tag cannot be empty")
    bad = sorted(_FORBIDDEN_IN_TAG.intersection(tag))
    if bad:
        chars = " ".join(bad)
        raise ValueError(f"tag {tag!r} contains {chars}, which cannot appear in a tag")
    return tag


def pattern_to_regex(pattern: str) -> str:
    """Return the regex source for one literal pattern, or raise ValueError if it is invalid."""
    text = pattern.strip()
    wildcard = text.endswith("*")
    if wildcard:
        text = text[:-1].rstrip()
    if "*" in text:
        raise ValueError("'*' is allowed only at the end of a pattern")
    words = text.split()
    if not words:
        raise ValueError("the pattern is empty")
    body = r"\s+".join(re.escape(word) for word in words)
    # `\b` needs a word character on one side, so it fails for patterns such as `C++`; a
    # boundary is only needed where the pattern itself starts or ends with a letter/digit.
    start = f"(?<!{_ALNUM})" if _is_alnum(text[0]) else ""
    if wildcard:
        end = f"{_ALNUM}*"
    elif _is_alnum(text[-1]):
        end = f"(?!{_ALNUM})"
    else:
        end = ""
    return f"{start}{body}{end}"


def compile_rules(rules: Sequence[tuple[str, Sequence[str]]]) -> TagRules:
    """Compile tag rules once; raise ConfigError naming `tags.<tag>` for a bad pattern."""
    compiled: list[TagRule] = []
    words: dict[bytes, set[int]] = {}
    prefixes: list[tuple[bytes, int]] = []
    unindexed: set[int] = set()
    for index, (name, patterns) in enumerate(rules):
        key = f"tags.{name}"
        try:
            tag = check_tag(name)
        except ValueError as error:
            raise ConfigError(None, key, str(error)) from None
        if isinstance(patterns, str):
            patterns = (patterns,)
        if not patterns:
            raise ConfigError(None, key, "needs at least one pattern")
        literal_sources: list[str] = []
        needles: list[tuple[str, bool]] | None = []
        regexes: list[re.Pattern[str]] = []
        for pattern in patterns:
            if pattern.startswith(REGEX_PREFIX):
                source = pattern[len(REGEX_PREFIX) :]
                if not source.strip():
                    raise ConfigError(None, key, f"pattern {pattern!r}: the regex is empty")
                try:
                    regexes.append(re.compile(source, re.IGNORECASE))
                except re.error as error:
                    raise ConfigError(
                        None, key, f"pattern {pattern!r} is not a valid regex: {error}"
                    ) from None
            else:
                try:
                    literal_sources.append(pattern_to_regex(pattern))
                except ValueError as error:
                    raise ConfigError(None, key, f"pattern {pattern!r}: {error}") from None
                needle = _needle(pattern)
                if needles is not None and needle is not None:
                    needles.append(needle)
                else:
                    needles = None
        literal = None
        if literal_sources:
            literal = re.compile("|".join(f"(?:{s})" for s in literal_sources), re.IGNORECASE)
        compiled.append(TagRule(tag, tuple(patterns), literal, tuple(regexes)))
        if needles is None:
            unindexed.add(index)
        for word, is_prefix in needles or ():
            if is_prefix:
                prefixes.append((b" " + word.encode("ascii"), index))
            else:
                words.setdefault(word.encode("ascii"), set()).add(index)
    return TagRules(
        tuple(compiled),
        words={word: frozenset(indexes) for word, indexes in words.items()},
        prefixes=tuple(prefixes),
        unindexed=frozenset(unindexed),
        with_regexes=frozenset(i for i, rule in enumerate(compiled) if rule.regexes),
    )


def assign_tags(
    texts: Mapping[str, str | None],
    rules: TagRules,
    *,
    fields: Sequence[str] = DEFAULT_FIELDS,
    always: Sequence[str] = (),
    extra: Sequence[str] = (),
) -> tuple[str, ...]:
    """Return the tags for a paper: matching rules in order, then `always`, then `extra`."""
    # Fields are searched one by one so that a phrase never matches across title and abstract.
    haystacks = [text for name in fields if (text := texts.get(name))]
    return _dedupe([*rules.matching(haystacks), *always, *extra])


def merge_tags(existing: Sequence[str], new: Sequence[str]) -> tuple[str, ...]:
    """Return `existing` in order followed by the tags of `new` it lacks (ignoring case)."""
    return _dedupe([*existing, *new])


def parse_keywords(value: str) -> list[str]:
    """Split a BibTeX `keywords` value on commas or semicolons into tags."""
    parts = _KEYWORD_SEPARATOR.split(value.replace("{", "").replace("}", ""))
    return list(_dedupe(parts))


def format_keywords(tags: Iterable[str]) -> str:
    """Join tags into a BibTeX `keywords` value."""
    return ", ".join(_dedupe(tags))


def _dedupe(tags: Iterable[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    result: list[str] = []
    for tag in tags:
        tag = " ".join(tag.split())
        folded = tag.casefold()
        if tag and folded not in seen:
            seen.add(folded)
            result.append(tag)
    return tuple(result)


def _needle(pattern: str) -> tuple[str, bool] | None:
    """Return a lowercase run of letters/digits any match of `pattern` contains, and whether
    it may be only a prefix of a word in the text (a wildcard's stem); None if there is none.
    """
    if not pattern.isascii():
        return None
    text = pattern.strip().lower()
    wildcard = text.endswith("*")
    text = text.rstrip("*").rstrip()
    runs = _ASCII_RUN.findall(text)
    if not runs:
        return None
    # Each run is bounded by non-alphanumerics in the pattern or by the boundary lookarounds,
    # so it is a whole word of the text, except a wildcard's stem ending the pattern.
    if wildcard and text[-1:].isalnum():
        stem = runs.pop()
        if not runs:
            return stem, True
    return max(runs, key=len), False


def _is_alnum(char: str) -> bool:
    return char.isalnum()
