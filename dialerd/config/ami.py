"""The ``ami`` section: how to reach Asterisk's manager interface, and keep reaching it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr

from dialerd.config.errors import ConfigError
from dialerd.config.secrets import read_secret
from dialerd.config.values import AmiText, Section


class AmiSettings(Section):
    host: AmiText = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 5038
    username: AmiText = "dialer"
    secret: SecretStr | None = None
    secret_file: Path | None = None
    login_timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    reconnect_initial_s: Annotated[float, Field(gt=0, le=60)] = 0.5
    reconnect_max_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    ping_interval_s: Annotated[float, Field(gt=0, le=600)] = 10.0
    event_filter: bool = True  # AMI Filter: only the events dialerd listens to

    def resolved_secret(self) -> str:
        """The AMI secret from the environment or the secret file; never logged."""
        secret = read_secret("ami.secret", self.secret, self.secret_file)
        if secret is None:
            raise ConfigError(
                [
                    "ami.secret: not set; set DIALERD_AMI__SECRET in the environment or "
                    "ami.secret_file"
                ]
            )
        return secret
