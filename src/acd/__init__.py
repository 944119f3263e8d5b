"""acd: an asyncio IVR/ACD engine that runs beside Asterisk."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("acd")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"
