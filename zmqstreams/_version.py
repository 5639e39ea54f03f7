"""The version of zmqstreams, as a string and as aiozmq's ``version_info`` named tuple."""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ("VersionInfo", "__version__", "version_info")

__version__ = "0.1.0"


class VersionInfo(NamedTuple):
    """The version as numbers, shaped like ``sys.version_info`` and aiozmq's ``version_info``."""

    major: int
    minor: int
    micro: int
    #: ``"alpha"``, ``"beta"``, ``"candidate"`` or ``"final"``.
    releaselevel: str
    #: The number of the pre-release (``2`` in ``1.0.0b2``); 0 for a final release.
    serial: int


_LEVELS = {"a": "alpha", "b": "beta", "rc": "candidate"}


def parse_version(version: str) -> VersionInfo:
    """``"1.2.3"`` -> ``VersionInfo(1, 2, 3, "final", 0)``; ``"1.2.3rc1"`` -> ``(1, 2, 3,
    "candidate", 1)``."""
    match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)(?:(a|b|rc)(\d+))?", version)
    if match is None:
        raise ValueError(f"not a release version: {version!r}")
    major, minor, micro, level, serial = match.groups()
    return VersionInfo(
        int(major),
        int(minor),
        int(micro),
        _LEVELS[level] if level else "final",
        int(serial) if serial else 0,
    )


version_info = parse_version(__version__)
