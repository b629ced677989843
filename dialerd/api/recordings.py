"""Where a call's recording is, without ever serving a file outside the recordings directory.

Asterisk's MixMonitor writes the file; the attempt's ``recording_path`` names it
(relative to ``api.recordings_dir``, or absolute inside it). Without a stored path the
file is looked up as ``<call id>.<ext>``: the dialplan can record with
``MixMonitor(${UNIQUEID}.wav)``, since the originated channel's Uniqueid is the call id.
"""

from __future__ import annotations

from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

MEDIA_TYPES = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".gsm": "audio/x-gsm",
}


def locate(directory: Path | None, stored: str | None, call_id: str) -> Path | None:
    """The recording file of the call, if it exists inside ``directory``; else None."""
    if directory is None:
        return None
    try:
        base = directory.resolve()
    except OSError:
        return None
    names = [stored] if stored else [call_id + ext for ext in MEDIA_TYPES]
    for name in names:
        try:
            path = (base / name).resolve()
        except (OSError, ValueError):
            continue
        if not path.is_relative_to(base):
            log.warning("recording_outside_directory", call_id=call_id)
            continue
        if path.is_file():
            return path
    return None


def has_recording(directory: Path | None, stored: str | None, call_id: str) -> bool:
    return locate(directory, stored, call_id) is not None


def media_type(path: Path) -> str:
    return MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
