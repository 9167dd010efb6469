"""Audio and video connectors: speech and on-screen text as time-coded documents.

Importing this package is cheap: PyAV and faster-whisper load in the isolated worker
process that reads each file.
"""

from __future__ import annotations

from docframe.connectors.media.options import MediaOptions

__all__ = ["MediaOptions"]
