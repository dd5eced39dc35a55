"""`ZoteroLibrary`: one Zotero library, assembled from the session, collection, index and
write layers.
"""

from __future__ import annotations

from readlist.zotero.writes import _Writes


class ZoteroLibrary(_Writes):
    """One Zotero library (user or group) seen through the Web API, with a cached item index.

    Args:
        config: endpoint, library and key; validated before anything is sent.
        cache_dir: where the item index is kept (`zotero-<type>-<id>.json`).
        sleep: how to wait (tests pass a fake); every wait goes through it.
        on_request: called with "METHOD /path?query" before each HTTP request.
        clock: monotonic seconds, to measure what is left of a `Backoff`.
        transport: an httpx transport for the session (tests: `httpx.MockTransport`).
    """

    def __enter__(self) -> ZoteroLibrary:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
