"""The ``ami`` section: how to reach each Asterisk server's manager interface, and keep
reaching it.

``ami`` is one mapping (one PBX, as most call centres have) or a list of them, one per
Asterisk server the daemon drives, each with a unique ``name``. The name is written with
every attempt (``attempts.pbx``), so after a restart each call is asked of the PBX that
carries it; it also names the PBX's secret in the environment
(``DIALERD_AMI__<NAME>__SECRET``), hence letters, digits and '_' only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Discriminator, Field, SecretStr, Tag

from dialerd.config.errors import ConfigError
from dialerd.config.secrets import read_secret
from dialerd.config.values import AmiText, Section

DEFAULT_PBX = "default"  # the name of a PBX given as one mapping


class AmiSettings(Section):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,32}$")] = DEFAULT_PBX
    host: AmiText = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 5038
    username: AmiText = "dialer"
    secret: SecretStr | None = None
    secret_file: Path | None = None
    # calls in flight on this PBX at most (null: dialing.max_concurrent_calls), on top of
    # the daemon-wide dialing.max_concurrent_calls
    max_concurrent_calls: Annotated[int, Field(ge=1, le=2000)] | None = None
    login_timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    reconnect_initial_s: Annotated[float, Field(gt=0, le=60)] = 0.5
    reconnect_max_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    ping_interval_s: Annotated[float, Field(gt=0, le=600)] = 10.0
    event_filter: bool = True  # AMI Filter: only the events dialerd listens to

    def resolved_secret(self, *, listed: bool = False) -> str:
        """The AMI secret from the environment or the secret file; never logged.

        ``listed``: this PBX is one of a list, whose secrets are named after the PBX."""
        where = f"ami.{self.name}" if listed else "ami"
        secret = read_secret(f"{where}.secret", self.secret, self.secret_file)
        if secret is None:
            raise ConfigError(
                [
                    f"{where}.secret: not set; set {secret_variable(self.name, listed)} in the"
                    f" environment or {where}.secret_file"
                ]
            )
        return secret


def secret_variable(name: str, listed: bool) -> str:
    """The environment variable holding a PBX's AMI secret."""
    return f"DIALERD_AMI__{name.upper()}__SECRET" if listed else "DIALERD_AMI__SECRET"


def _unique_names(value: list[AmiSettings]) -> list[AmiSettings]:
    """Each PBX's name is its own: the attempts it carries are found by it after a restart."""
    seen: set[str] = set()
    for pbx in value:
        key = pbx.name.lower()  # environment variable names ignore case
        if key in seen:
            raise ValueError(f"PBX name {pbx.name!r} is used twice; give each PBX its own name")
        seen.add(key)
    return value


def _shape(value: Any) -> str:
    return "AmiListSettings" if isinstance(value, list) else "AmiSettings"


PbxList = Annotated[list[AmiSettings], Field(min_length=1)]
AmiSection = Annotated[
    Annotated[AmiSettings, Tag("AmiSettings")] | Annotated[PbxList, Tag("AmiListSettings")],
    Discriminator(_shape),
]


def check_pbx_list(value: AmiSettings | list[AmiSettings]) -> AmiSettings | list[AmiSettings]:
    """A list of PBXs has unique names (``Settings``' validator of ``ami``)."""
    if isinstance(value, list):
        _unique_names(value)
    return value


def merge_environment(env: Mapping[str, Any], yaml_ami: Any) -> Any:
    """The ``ami`` the environment and the YAML file give together.

    One PBX: the environment's keys over the file's, as for every section. A list: each
    ``DIALERD_AMI__<NAME>__<KEY>`` goes to the PBX of that name; a variable naming no PBX
    (``DIALERD_AMI__SECRET`` with several PBXs) is refused rather than silently ignored or
    allowed to replace the whole list.
    """
    if not isinstance(yaml_ami, list):
        return env
    by_name = {
        str(entry.get("name", "")).lower(): index
        for index, entry in enumerate(yaml_ami)
        if isinstance(entry, dict)
    }
    merged = [dict(entry) if isinstance(entry, dict) else entry for entry in yaml_ami]
    for key, value in env.items():
        index = by_name.get(str(key).lower())
        if index is None or not isinstance(value, dict):
            raise ConfigError(
                [
                    f"environment DIALERD_AMI__{str(key).upper()}: ami lists several PBXs;"
                    " set each one's keys as DIALERD_AMI__<NAME>__<KEY>"
                    " (e.g. DIALERD_AMI__EAST__SECRET)"
                ]
            )
        merged[index].update(value)
    return merged


def carrier(names: tuple[str, ...], recorded: str) -> str:
    """Which PBX of the config carries an attempt recorded on PBX ``recorded``: the one of
    that name, else the first (attempts from before several PBXs, recorded as '', and those
    of a PBX since removed or renamed, are never left without a PBX to settle them)."""
    for name in names:
        if name.lower() == recorded.lower():
            return name
    return names[0]
