"""Loopback test doubles of the arXiv, Hugging Face, DOI and Zotero APIs.

Shared by the test suite (tests/) and the benchmark (bench/run.py). Test-only code: nothing in
readlist's production code imports this package, and it must stay that way.

- `fakeapis`: `FakeArxiv`, `FakeHf`, `FakeDoi`, faults and the sample paper world.
- `fakezotero`: `FakeZotero`, the Zotero Web API v3 double. It reads Zotero's schema from
  `tests/data/zotero/schema.json` in the repository, so it needs a checkout (an editable
  install), not an installed wheel.
"""
