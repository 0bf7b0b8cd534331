"""Pydantic validation errors as "path: message" lines, naming the offending field.

Scenario files and fault requests report their problems this way.
"""

from pydantic import ValidationError

from plaid_emulator.latency import UNION_TAGS

# Pydantic marks an error in a mapping's key with this part; the key names the place.
_KEY_MARK = "[key]"


def format_loc(loc: tuple[int | str, ...]) -> str:
    """A location as it reads in the file: items[0].accounts[1].available."""
    path = ""
    for part in loc:
        if part in UNION_TAGS or part == _KEY_MARK:
            continue
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else part
    return path or "(top level)"


def problems(exc: ValidationError) -> list[str]:
    """One line per error in `exc`."""
    return [f"{format_loc(e['loc'])}: {e['msg']}" for e in exc.errors()]
