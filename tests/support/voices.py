"""Speech for the real-Asterisk tests: text spoken by espeak-ng, made 8 kHz mono 16-bit WAV
by sox, written where the sandbox's Asterisk finds sounds (``dialerd-test/<name>``)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from support.asterisk import AsteriskInstance

SOUNDS = "usr/share/asterisk/sounds/dialerd-test"  # inside the chroot


def require_tools() -> None:
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (./dev installs it as a system tool)")


def say(
    instance: AsteriskInstance, name: str, text: str, *, silence_after_s: float, beep: bool = False
) -> str:
    """``text`` as sound ``dialerd-test/<name>`` (0.3 s of silence first, then the words,
    a 1 kHz beep if asked, then ``silence_after_s`` of silence); returns the sound name."""
    directory = instance.chroot / SOUNDS
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{name}.wav"
    work = directory / f".{name}.{os.getpid()}"
    work.mkdir(exist_ok=True)
    try:
        spoken, voice = work / "spoken.wav", work / "voice.wav"
        subprocess.run(["espeak-ng", "-s", "150", "-w", str(spoken), text], check=True)
        subprocess.run(
            ["sox", str(spoken), "-r", "8000", "-c", "1", "-b", "16", str(voice)], check=True
        )
        parts = [str(voice)]
        if beep:
            tone = work / "beep.wav"
            subprocess.run(
                ["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(tone)]
                + ["synth", "0.5", "sine", "1000"],
                check=True,
            )
            parts.append(str(tone))
        made = work / "made.wav"
        subprocess.run(["sox", *parts, str(made), "pad", "0.3", str(silence_after_s)], check=True)
        os.replace(made, target)  # atomic: another test's Asterisk may be playing this name
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return f"dialerd-test/{name}"


def host_file(instance: AsteriskInstance, name: str) -> Path:
    return instance.chroot / SOUNDS / f"{name}.wav"
