"""Phases of a request's time, marked where the work is done.

Domain code marks its phases (waiting for a pooled connection, rendering) with `phase(...)`;
the server's request timer (`api.timing.RequestTimer`) opens a phase record per request in
`PHASES` and logs it for slow requests. Outside a request, `phase` costs nothing. The record
is a context variable, so work handed to a thread (anyio copies the context) records into
the same request.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: The current request's phases (ms by name), or None outside a timed request.
PHASES: ContextVar[dict[str, float] | None] = ContextVar("onegrid_phases", default=None)


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Add the time spent inside to the current request's phase `name` (ms); a no-op outside one."""
    phases = PHASES.get()
    if phases is None:
        yield
        return
    t0 = time.perf_counter()
    try:
        yield
    finally:
        phases[name] = round(phases.get(name, 0.0) + (time.perf_counter() - t0) * 1000, 3)
