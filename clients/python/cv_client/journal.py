"""The command line's journal of sent redemptions, so that a re-run replays."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any


class SentJournal:
    """The command line's record of the redemptions it sent, one JSON line each.

    A redemption's ``occurred_at`` is part of its body; the command line
    stamps it with the time of sending when ``--occurred-at`` is not given,
    so re-running the same command later would send a different body under
    the same reference, which the API refuses (409 ``reference_conflict``).
    The journal keeps the body that was sent for each (server, key,
    reference), written before sending, so a re-run sends the very same
    request again and the server replays it instead of charging twice.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @staticmethod
    def _key(url: str, key_id: str, reference: str) -> list[str]:
        return [url.rstrip("/"), key_id, reference]

    def find(self, *, url: str, key_id: str, reference: str) -> dict[str, Any] | None:
        """The last request sent for this reference that the server did not
        refuse (it may have been done, or its answer lost), or None."""
        wanted = self._key(url, key_id, reference)
        found = None
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return None
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash
            if isinstance(entry, dict) and entry.get("key") == wanted:
                found = entry
        # A request the server refused did nothing: a new run starts afresh.
        if found is not None and found.get("refused"):
            return None
        return found

    def record(
        self,
        *,
        url: str,
        key_id: str,
        reference: str,
        body: dict[str, Any],
        refused: str | None = None,
    ) -> None:
        """Append what is about to be sent (or, with ``refused``, the error
        code the server refused it with)."""
        entry: dict[str, Any] = {
            "key": self._key(url, key_id, reference),
            "sent_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "body": body,
        }
        if refused:
            entry["refused"] = refused
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Readable by its owner only: it holds voucher codes.
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as journal:
            journal.write(json.dumps(entry, ensure_ascii=False) + "\n")
            journal.flush()
            os.fsync(journal.fileno())
