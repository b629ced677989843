"""How a claimed lead is dialed in each mode: the Originate and the track that follows it.

The track is built in one place (``new_track``), the same whether this process
originates the call or adopts one a previous run left 'dialing'.

- customer_first / predictive: ``Channel`` = the customer (``dialing.channel_template``);
  once answered Asterisk continues at the group's context/exten, the operators' queue.
- agent_first: ``Channel`` = the operator's device, with the lead in the CallerID and in
  channel variables (the softphone shows who is about to be called); once the operator
  answers, ``[dialer-agent-first]`` (config/asterisk/extensions.conf) records and Dial()s
  ``DIALER_CUSTOMER``. No customer is ever dialed without an operator on the line.

Safe harbor (customer_first, predictive): ``DIALER_ABANDON_AFTER`` (the campaign's
``abandon.after_s``, whole seconds, rounded up: Queue() counts whole seconds) is how long the
answered customer may wait in the queue; then the dialplan plays ``DIALER_SAFE_HARBOR``
(``abandon.message``; empty: the shipped default sound name) and hangs up. Such a call has
no AgentConnect, so it is recorded as abandoned.

Recording: the daemon names the file (``recording.path_template``) and passes it as
``DIALER_RECORDING``; the dialplan runs MixMonitor on it, so the recording does not
depend on the daemon's AMI link staying up.

Answering machines (a campaign's ``amd.enabled``, customer_first/predictive): ``DIALER_AMD``
carries AMD()'s parameters and ``DIALER_AMD_MESSAGE`` the message to leave; the dialplan's
``[dialer-amd]`` runs before the queue and reports its verdict (``UserEvent DialerdAmd``).
"""

from __future__ import annotations

import math

from dialerd.config import Settings
from dialerd.config.operators import OperatorSettings
from dialerd.dialer.agent_tracking import AgentCallTrack
from dialerd.dialer.tracking import CallTrack
from dialerd.pbx.actions import OriginateRequest
from dialerd.policy.ami_safety import UnsafeAmiValue
from dialerd.policy.caller_id import CallerId
from dialerd.policy.modes import DialMode
from dialerd.store.attempts import Claim

Track = CallTrack | AgentCallTrack


def new_track(
    settings: Settings,
    *,
    attempt_id: int,
    lead_id: int,
    call_id: str,
    number: int,
    campaign: str,
    group: str | None,
    mode: str,
    operator: str | None,
    at: float,
) -> Track:
    """The track that follows one attempt (``at``: when it was claimed, which names the
    recording); ``operator``: the one rung first, agent_first only."""
    recording = recording_path(
        settings, call_id=call_id, lead_id=lead_id, attempt=number, campaign=campaign, at=at
    )
    if mode == DialMode.AGENT_FIRST:
        return AgentCallTrack(
            attempt_id=attempt_id,
            lead_id=lead_id,
            call_id=call_id,
            sent_at=None,
            operator=operator,
            recording_path=recording,
            group=group,
        )
    return CallTrack(
        attempt_id=attempt_id,
        lead_id=lead_id,
        call_id=call_id,
        sent_at=None,
        mode=mode,
        group=group,
        queue_tracked=into_queue(settings, group),
        recording_path=recording,
    )


def into_queue(settings: Settings, group: str | None) -> bool:
    """Answered customers of this group wait in a queue: abandons are detectable."""
    found = settings.groups.get(group) if group is not None else None
    return found is not None and found.queue is not None


def recording_path(
    settings: Settings, *, call_id: str, lead_id: int, attempt: int, campaign: str, at: float
) -> str | None:
    recording = settings.recording
    if not recording.enabled:
        return None
    return recording.path_for(
        call_id=call_id,
        lead_id=lead_id,
        attempt=attempt,
        campaign=campaign,
        at=at,
        tz=settings.policy.tz,
    )


def _variables(claim: Claim, mode: DialMode, recording: str | None) -> dict[str, str]:
    variables = {
        "DIALER_LEAD": str(claim.lead_id),
        "DIALER_ATTEMPT": str(claim.attempt_id),
        "DIALER_CAMPAIGN": claim.campaign,
        "DIALER_MODE": mode.value,
    }
    if recording is not None:
        variables["DIALER_RECORDING"] = recording
    return variables


def customer_first_request(
    claim: Claim,
    settings: Settings,
    mode: DialMode,
    group: str | None,
    recording: str | None,
    caller: CallerId | None = None,
) -> OriginateRequest:
    """``caller``: the campaign's caller ID for this call (None: ``dialing.caller_id``)."""
    dialing = settings.dialing
    group_settings = settings.groups.get(group) if group is not None else None
    context, exten = dialing.context, dialing.exten
    if group_settings is not None:
        context = group_settings.context or context
        exten = group_settings.exten or exten
    abandon = settings.policy.campaign(claim.campaign).abandon
    variables = _variables(claim, mode, recording) | {
        "DIALER_ABANDON_AFTER": str(max(1, math.ceil(abandon.after_s - 1e-9))),
        "DIALER_SAFE_HARBOR": abandon.message or "",
    }
    campaign = settings.campaigns.get(claim.campaign)
    if campaign is not None and campaign.amd.enabled:
        # [dialer-amd] runs AMD() on the answered customer before the queue (human first)
        variables["DIALER_AMD"] = campaign.amd.parameters().channel_value()
        if campaign.amd.message:
            variables["DIALER_AMD_MESSAGE"] = campaign.amd.message
    if campaign is not None and campaign.survey.enabled:
        # the operator may send the customer to [dialer-survey]: its prompts travel along
        variables |= campaign.survey.channel_variables()
    return OriginateRequest(
        call_id=claim.call_id,
        action_id=claim.action_id,
        channel=dialing.channel_template.format(number=claim.phone.digits, e164=claim.phone.e164),
        context=context,
        exten=exten,
        priority=dialing.priority,
        timeout_s=dialing.originate_timeout_s,
        caller_id=caller.header if caller is not None else dialing.caller_id,
        variables=variables,
        hangup_handler=dialing.hangup_handler,
    )


def agent_first_request(
    claim: Claim,
    settings: Settings,
    operator: OperatorSettings,
    recording: str | None,
    caller: CallerId | None = None,
) -> OriginateRequest:
    """Ring the operator; the dialplan dials ``DIALER_CUSTOMER`` once they answer, showing
    the customer ``caller`` (None: ``dialing.caller_id``)."""
    dialing = settings.dialing
    customer = dialing.channel_template.format(number=claim.phone.digits, e164=claim.phone.e164)
    variables = _variables(claim, DialMode.AGENT_FIRST, recording) | {
        "DIALER_OPERATOR": operator.name,
        "DIALER_PHONE": claim.phone.e164,
        "DIALER_CUSTOMER": customer,
        "DIALER_RING_TIMEOUT": str(max(1, round(dialing.originate_timeout_s))),
        "DIALER_CALLER_ID": caller.variable if caller is not None else dialing.caller_id or "",
    }
    for name, value in variables.items():
        if "," in value:  # AMI splits a Variable header on commas
            raise UnsafeAmiValue(f"{name}: a comma cannot be passed in a channel variable")
    return OriginateRequest(
        call_id=claim.call_id,
        action_id=claim.action_id,
        channel=operator.dial_device,
        context=dialing.agent_first_context,
        exten=dialing.agent_first_exten,
        priority=1,
        timeout_s=dialing.operator_ring_timeout_s,
        caller_id=f'"Lead {claim.lead_id}" <{claim.phone.e164}>',
        variables=variables,
        hangup_handler=dialing.hangup_handler,
    )
