"""The plugin's one Python dependency outside QGIS: onnxruntime.

QGIS ships numpy but not onnxruntime, and each platform installs packages into
QGIS's Python differently; the messages here name the command for the user's.
"""

from __future__ import annotations

import sys

from .errors import DependencyError

__all__ = ["install_command", "onnxruntime_status", "require_onnxruntime"]

_COMMANDS = {
    "linux": (
        "python3 -m pip install --user onnxruntime (on Debian 12 / Ubuntu 23.04 and later add "
        "--break-system-packages; it installs into your home folder only)"
    ),
    "win32": 'in the "OSGeo4W Shell" (Start menu): python -m pip install onnxruntime',
    "darwin": "/Applications/QGIS.app/Contents/MacOS/bin/python3 -m pip install onnxruntime",
}


def install_command(platform: str | None = None) -> str:
    """How to install onnxruntime into QGIS's Python on ``platform`` (default: this one).

    Examples
    --------
    >>> install_command("darwin")
    '/Applications/QGIS.app/Contents/MacOS/bin/python3 -m pip install onnxruntime'
    """
    platform = sys.platform if platform is None else platform
    for prefix, command in _COMMANDS.items():
        if platform.startswith(prefix):
            return command
    return "python3 -m pip install onnxruntime, with the Python that QGIS runs"


def onnxruntime_status() -> tuple[bool, str]:
    """Whether onnxruntime can be imported, and a message for the user.

    Returns
    -------
    ok : bool
        True when ``import onnxruntime`` works.
    message : str
        Its version, or what is missing and the command that installs it here.
    """
    try:
        import onnxruntime
    except ImportError as err:
        return False, (
            "crater detection needs the Python package onnxruntime, which QGIS's Python does "
            f"not have ({err}); install it with: {install_command()}; then restart QGIS"
        )
    providers = ", ".join(onnxruntime.get_available_providers())
    return True, f"onnxruntime {onnxruntime.__version__} ({providers})"


def require_onnxruntime() -> None:
    """Raise :class:`DependencyError` with the install command when onnxruntime is missing."""
    ok, message = onnxruntime_status()
    if not ok:
        raise DependencyError(message)
