"""What installing shardstream with some extras brings in, read from the installed metadata (for the extras tests)."""

from __future__ import annotations

import re
from importlib import metadata

from packaging.requirements import Requirement

__all__ = ["canonical", "closure"]


def canonical(name: str) -> str:
    """A distribution's name as PEP 503 normalises it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(extras) -> set[str]:
    """The distributions ``pip install 'shardstream[extras]'`` brings in (as installed here), canonical names."""
    seen: set[str] = set()
    todo = [("shardstream", frozenset(extras))]
    while todo:
        dist, wanted = todo.pop()
        for text in metadata.requires(dist) or ():
            req = Requirement(text)
            if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in wanted | {""}):
                continue
            name = canonical(req.name)
            if name == "shardstream":  # an extra naming other extras
                todo.append(("shardstream", frozenset(req.extras)))
            elif name not in seen:
                seen.add(name)
                todo.append((name, frozenset(req.extras)))
    return seen
