"""Restart state of a transport: the stream's checkpoint plus a journal of the
readings scored since.

A checkpoint (``stream.save``) is too costly to write after every message, and
acknowledging a message before its reading is in saved state would lose the
reading if the process were killed. So every scored batch is appended to
``<checkpoint>.journal`` (one JSON line, flushed) *before* its messages are
acknowledged, and a checkpoint starts a fresh journal. A restart loads the
checkpoint and replays the journal into the stream, which then holds every
acknowledged reading: the broker redelivers the others.

The journal's first line holds each series' last scored time at the checkpoint,
so a redelivered reading can be told from a new one. Replaying a journal older
than its checkpoint (a kill between the two writes) changes nothing: the stream
refuses points at or before a series' last time, and such points are skipped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tsrnn.files import atomic_write

__all__ = ["Journal"]


class Journal:
    """The checkpoint at ``path`` and its journal beside it."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self._file = None

    def exists(self) -> bool:
        return self.path.exists()

    def read(self) -> tuple[dict[str, str], list[dict]]:
        """``(last times at the checkpoint, batches scored since)``; a line cut short
        by a kill (the last one) is dropped: its messages were not acknowledged."""
        if not self.journal_path.exists():
            return {}, []
        last, batches = {}, []
        with open(self.journal_path, encoding="utf-8") as f:
            for number, line in enumerate(f):
                try:
                    entry = json.loads(line)
                except ValueError:
                    if line.endswith("\n"):
                        raise ValueError(f"{self.journal_path}: line {number + 1} is not "
                                         "JSON: the journal is damaged") from None
                    break  # the write a kill interrupted
                if number == 0 and "last" in entry:
                    last = entry["last"]
                else:
                    batches.append(entry)
        return last, batches

    def append(self, time_text: str, series: list[str], values: list[list[float]]) -> None:
        """Record one scored batch; flushed to the OS, so it survives a killed process
        (not a power cut: there is no fsync per batch)."""
        if self._file is None:
            self._file = open(self.journal_path, "a", encoding="utf-8")  # noqa: SIM115
        self._file.write(json.dumps({"time": time_text, "series": series,
                                     "values": values}) + "\n")
        self._file.flush()

    def checkpoint(self, stream, last: dict[str, str]) -> None:
        """Save the stream, then start a fresh journal from it (each write atomic)."""
        stream.save(self.path)
        self.close()
        with atomic_write(self.journal_path, encoding="utf-8") as f:
            f.write(json.dumps({"last": last}) + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
