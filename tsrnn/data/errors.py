"""The error of bad input data, and how messages name the row and series at fault."""

from __future__ import annotations

__all__ = ["DataError", "GapError"]


class DataError(ValueError):
    """Bad input data. The message names the column, series or row at fault."""

class GapError(DataError):
    """Timestamps off the series' regular grid. ``detail`` says where, without the
    advice, so that an interface can give its own (a flag instead of a parameter)."""

    def __init__(self, detail: str, advice: str):
        super().__init__(f"{detail}. {advice}")
        self.detail = detail

# ---------------------------------------------------------------------- helpers
def _describe_row(pos: int, time) -> str:
    return f"row {pos} ({time})" if time is not None else f"row {pos}"

def _where(ids: list, id_col, code: int) -> str:
    return "" if id_col is None else f" in series {ids[code]!r}"
