"""The ``crm`` section: results pushed to the shop's CRM webhook (R9), signed, retried."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator

from dialerd.config.errors import ConfigError
from dialerd.config.secrets import read_secret
from dialerd.config.values import Section, http_url


class CrmSettings(Section):
    """Results pushed to the shop's CRM webhook (R9) through the durable outbox."""

    url: str | None = None  # None: results are still recorded in the outbox, not pushed
    secret: SecretStr | None = None
    secret_file: Path | None = None
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    max_tries: Annotated[int, Field(ge=1, le=1000)] = 30
    backoff_initial_s: Annotated[float, Field(gt=0, le=3600)] = 5.0
    backoff_max_s: Annotated[float, Field(gt=0, le=86400)] = 1800.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return http_url(value)

    def resolved_secret(self) -> str | None:
        """The HMAC key (env DIALERD_CRM__SECRET or secret_file); required once a URL is set."""
        if self.url is None:
            return None
        secret = read_secret("crm.secret", self.secret, self.secret_file)
        if not secret:
            raise ConfigError(
                [
                    "crm.secret: not set; the webhook is signed: set DIALERD_CRM__SECRET "
                    "or crm.secret_file"
                ]
            )
        return secret
