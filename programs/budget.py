"""Budget figures that other apps know: what is pending, approved or charged.

A program's counters (reserved, issued, returned) live on the program; what
its applications ask for and what platforms charged to its vouchers live in
the apps above this one. Those apps register how to read their figure here
(in their ``AppConfig.ready``), so programs shows them without importing
them — the same pattern as eligibility's fact registry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Program

Figure = Callable[["Program"], Any]

#: name -> how to read it for a program
FIGURES: dict[str, Figure] = {}


def register_figure(name: str, read: Figure) -> None:
    FIGURES[name] = read


def figure(name: str, program: Program, default: Any) -> Any:
    """The registered figure ``name`` of ``program``, or ``default`` when no
    installed app provides it."""
    read = FIGURES.get(name)
    return read(program) if read is not None else default
