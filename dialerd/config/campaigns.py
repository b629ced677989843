"""The ``campaigns`` section: each campaign's priority scheme, attempt cap, retry delays,
duplicate rule, local hours, dialing mode and pacing (R2-R7).

``dialerd.config.rules`` turns each into the policy's ``CampaignRules``.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator

from dialerd.config.values import Section, WallTime
from dialerd.policy.abandon import AbandonRule
from dialerd.policy.amd import AmdParameters, is_sound_name
from dialerd.policy.dedup import DuplicateRule
from dialerd.policy.modes import DialMode
from dialerd.policy.priority import Scheme


class RetryDelays(Section):
    """Seconds to wait before the next attempt, by the previous attempt's outcome (R4)."""

    busy: Annotated[float, Field(ge=0)] = 600
    no_answer: Annotated[float, Field(ge=0)] = 1800
    congestion: Annotated[float, Field(ge=0)] = 300
    failed: Annotated[float, Field(ge=0)] = 3600
    abandoned: Annotated[float, Field(ge=0)] = 120
    machine: Annotated[float, Field(ge=0)] = 7200  # an answering machine: try in 2 hours
    unknown: Annotated[float, Field(ge=0)] = 1800
    # None: an answered call closes the lead (results live in the CRM); a number: redial
    # after that long unless the operator's result arrives first.
    answered: Annotated[float, Field(ge=0)] | None = None


class LocalHoursSettings(Section):
    """Also respect each lead's own local hours (time zones from its number)."""

    enabled: bool = False
    open: WallTime | None = None  # default: the centre's open/close
    close: WallTime | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> LocalHoursSettings:
        if (self.open is None) != (self.close is None):
            raise ValueError("give both open and close, or neither")
        return self


class DuplicateSettings(Section):
    """R2: variant A ``phone_and_order`` or variant B ``phone_window``."""

    rule: DuplicateRule = DuplicateRule.PHONE_AND_ORDER
    window_h: Annotated[float, Field(gt=0, le=24 * 365)] = 24.0


def _sound_name(value: str) -> str:
    if not is_sound_name(value):
        raise ValueError(
            f"{value[:40]!r}: an Asterisk sound name without extension "
            "(letters, digits, '_', '-', '/'), e.g. custom/leave-message"
        )
    return value


_SoundName = Annotated[str, AfterValidator(_sound_name)]


class AbandonSettings(Section):
    """The abandon rules (``policy/abandon.py``): the customer answered and no operator
    came within ``after_s``; at most ``cap`` of answered calls over the ``rule``'s window;
    pacing aims at ``target``; an abandoned number rests ``lockout_h``."""

    cap: Annotated[float, Field(gt=0, lt=1)] = 0.03
    # None: 5/6 of the cap (2.5 % for 3 %)
    target: Annotated[float, Field(gt=0, lt=1)] | None = None
    rule: AbandonRule = AbandonRule.ROLLING_30_DAYS
    window_days: Annotated[float, Field(gt=0, le=366)] = 30.0  # rolling_30_days only
    after_s: Annotated[float, Field(gt=0, le=60)] = 2.0
    lockout_h: Annotated[float, Field(ge=0, le=24 * 30)] = 72.0
    # the safe-harbor recording (an Asterisk sound name, e.g. custom/acme-safe-harbor)
    message: _SoundName | None = None

    @model_validator(mode="after")
    def _target_below_cap(self) -> AbandonSettings:
        if self.target is not None and self.target >= self.cap:
            raise ValueError(f"target {self.target} must be below the cap {self.cap}")
        return self


_Ms = Annotated[int, Field(ge=0, le=60_000)]


class AmdSettings(Section):
    """Answering-machine detection by Asterisk's ``AMD()`` (customer_first and predictive).

    The defaults are Asterisk's own, leaning towards "human": a silent line is never called
    a machine (``initial_silence_ms`` = ``total_analysis_ms``) and a greeting of three words
    is still a person's; only a sure MACHINE is dropped, a doubtful call goes to an operator.
    """

    enabled: bool = False
    initial_silence_ms: _Ms = 5000
    greeting_ms: _Ms = 1500
    after_greeting_silence_ms: _Ms = 800
    total_analysis_ms: Annotated[int, Field(ge=500, le=60_000)] = 5000
    min_word_length_ms: _Ms = 100
    between_words_silence_ms: _Ms = 50
    maximum_number_of_words: Annotated[int, Field(ge=1, le=100)] = 3
    silence_threshold: Annotated[int, Field(ge=1, le=32767)] = 256
    maximum_word_length_ms: _Ms = 5000
    # a sound left on the machine after its beep (Asterisk sound name); none: just hang up
    message: _SoundName | None = None

    def parameters(self) -> AmdParameters:
        return AmdParameters(
            self.initial_silence_ms,
            self.greeting_ms,
            self.after_greeting_silence_ms,
            self.total_analysis_ms,
            self.min_word_length_ms,
            self.between_words_silence_ms,
            self.maximum_number_of_words,
            self.silence_threshold,
            self.maximum_word_length_ms,
        )


class SurveySettings(Section):
    """The post-call survey: the operator sends the customer to an IVR ([dialer-survey]) that
    asks for a 0-10 (NPS) and/or a 1-5 (CSAT) on the keypad; prompts are Asterisk sounds."""

    enabled: bool = False
    nps_prompt: _SoundName | None = "custom/survey-recommend"  # null: NPS is not asked
    csat_prompt: _SoundName | None = "custom/survey-satisfied"  # null: CSAT is not asked
    thanks: _SoundName | None = None  # played after the last answer
    answer_timeout_s: Annotated[int, Field(ge=1, le=60)] = 10
    context: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = "dialer-survey"
    # a confirmed customer is called back by this survey campaign (mode: survey) after
    # call_after_h hours; null: nobody is called back for a survey
    campaign: str | None = None
    call_after_h: Annotated[float, Field(ge=0, le=24 * 90)] = 24.0

    @model_validator(mode="after")
    def _asks_something(self) -> SurveySettings:
        if self.enabled and not self.asks_something:
            raise ValueError("a survey asks something: set nps_prompt, csat_prompt or both")
        return self

    @property
    def asks_something(self) -> bool:
        return self.nps_prompt is not None or self.csat_prompt is not None

    def channel_variables(self) -> dict[str, str]:
        """What ``[dialer-survey]`` reads from the customer's channel."""
        return {
            "DIALER_SURVEY_NPS": self.nps_prompt or "",
            "DIALER_SURVEY_CSAT": self.csat_prompt or "",
            "DIALER_SURVEY_THANKS": self.thanks or "",
            "DIALER_SURVEY_TIMEOUT": str(self.answer_timeout_s),
        }


# what a trunk passes as a caller ID number, and a display name without quotes, angle
# brackets or commas (they would break the CallerID header and the channel variable)
_CALLER_NUMBER = re.compile(r"^\+?[0-9]{3,15}$")
_CALLER_NAME = re.compile(r"^[\w .&'-]{1,40}$")


class CallerIdSettings(Section):
    """A caller ID shown to customers: ``number`` (e.g. +74951234567) and ``name``."""

    number: str
    name: str | None = None

    @field_validator("number")
    @classmethod
    def _number(cls, value: str) -> str:
        if not _CALLER_NUMBER.match(value):
            raise ValueError(f"{value!r}: 3-15 digits, an optional leading '+'")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not _CALLER_NAME.match(value):
            raise ValueError(f"{value!r}: 1-40 letters, digits, spaces, '.', '&', \"'\" or '-'")
        return value


class PredictiveSettings(Section):
    """How far the predictive ratio may go, and on how many answered calls it may rely."""

    max_ratio: Annotated[float, Field(ge=1, le=10)] = 3.0
    min_samples: Annotated[int, Field(ge=1, le=100_000)] = 30
    answer_rate_window_min: Annotated[float, Field(gt=0, le=24 * 60)] = 60.0


class CampaignSettings(Section):
    scheme: Scheme = Scheme.TIERS
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 7
    retry_delays: RetryDelays = RetryDelays()
    speed_to_lead_min: Annotated[float, Field(gt=0, le=24 * 60)] = 15.0
    duplicates: DuplicateSettings = DuplicateSettings()
    local_hours: LocalHoursSettings = LocalHoursSettings()
    # Dialing mode and pacing (R7, issue 4); groups: see config/operators.py.
    mode: DialMode = DialMode.CUSTOMER_FIRST
    group: str | None = None
    dial_ratio: Annotated[float, Field(ge=1, le=10)] = 1.0
    abandon: AbandonSettings = AbandonSettings()
    predictive: PredictiveSettings = PredictiveSettings()
    amd: AmdSettings = AmdSettings()
    survey: SurveySettings = SurveySettings()
    # the caller ID customers see: one, or a pool used in turn (null/[]: dialing.caller_id)
    caller_id: CallerIdSettings | None = None
    caller_ids: list[CallerIdSettings] = []

    @model_validator(mode="after")
    def _survey_mode(self) -> CampaignSettings:
        """A survey campaign's calls go to its own ``survey`` IVR and nobody else."""
        if self.mode is not DialMode.SURVEY:
            return self
        if self.group is not None:
            raise ValueError("mode survey: a survey call needs no operator group (remove group)")
        if not self.survey.asks_something:
            raise ValueError(
                "mode survey: the survey asks something: set survey.nps_prompt or csat_prompt"
            )
        if self.survey.campaign is not None:
            raise ValueError("mode survey: survey.campaign is for the campaigns that sell")
        return self

    @model_validator(mode="after")
    def _one_caller_id_key(self) -> CampaignSettings:
        if self.caller_id is not None and self.caller_ids:
            raise ValueError("give caller_id (one) or caller_ids (a pool), not both")
        return self

    @property
    def caller_id_pool(self) -> list[CallerIdSettings]:
        """The caller IDs this campaign's calls take in turn ([]: dialing.caller_id)."""
        return [self.caller_id] if self.caller_id is not None else list(self.caller_ids)
