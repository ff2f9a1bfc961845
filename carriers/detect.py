"""Tracking-number normalization and carrier candidates from the number's format."""
from __future__ import annotations

import re
from dataclasses import dataclass

_SPACES = re.compile(r"[\s\u00a0]+")


def normalize(number: str) -> str:
    """Strip spaces and upper-case, as every carrier expects."""
    return _SPACES.sub("", number).upper()


@dataclass(frozen=True)
class Candidate:
    """A carrier that may own a number, with the reason it was picked."""

    carrier: str
    reason: str


def candidates(number: str) -> list[Candidate]:
    """Carriers that may own `number`, most likely first."""
    n = normalize(number)
    if n.startswith("DEMO"):
        return [Candidate("demo", "DEMO prefix: a scripted demo shipment")]
    return []
