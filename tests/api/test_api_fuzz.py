"""Generated requests against the running daemon: never a 5xx, never a lead from a refusal.

schemathesis reads the live /openapi.json and generates requests for every operation,
both fitting the schema and deliberately not; a second generator sends leads close to
real ones (valid and broken phones, repeated orders and idempotency keys, odd values),
since random strings are rarely a valid phone. Each answer is checked and the store is
counted around each request. The daemon runs on its own loop in a thread, because
these clients are synchronous.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from support.api import TOKENS, ThreadedDaemon

SCHEMA_BUDGET_S = 25.0
LEADS_BUDGET_S = 12.0
AUTH = {"Authorization": f"Bearer {TOKENS['crm']}"}
_UNSENDABLE = (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, UnicodeError)
_FIELDS = {"code", "message", "field"}


class _TimeUp(Exception):
    """Ends generation at the time budget (hypothesis has no other way to stop early)."""


class Observer:
    """Sends one request, checks the answer's shape and what the store gained."""

    def __init__(self, daemon: Any) -> None:
        self.url = daemon.url
        self.session = requests.Session()
        self.db = sqlite3.connect(f"file:{daemon.store}?mode=ro", uri=True)
        self.seen: Counter[tuple[str, str, int]] = Counter()

    def close(self) -> None:
        self.session.close()
        self.db.close()

    def stored(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM leads").fetchone()[0])

    def check(self, method: str, path: str, operation: str, send: Any) -> None:
        before = self.stored()
        try:
            response = send()
        except _UNSENDABLE:
            return  # the client library refused to send it: nothing reached the daemon
        self.seen[(method, operation, response.status_code)] += 1
        assert response.status_code < 500, (method, path, response.text[:500])
        if response.status_code >= 400:
            assert set(response.json()["error"]) == _FIELDS, response.text
        assert self.stored() - before == _new_leads(method, path, response), response.text


def _new_leads(method: str, path: str, response: requests.Response) -> int:
    """How many leads the answer says this request stored (a replay stores none)."""
    # requests: a case-insensitive mapping; schemathesis: lowercased names, lists of values
    replayed = {name.lower(): value for name, value in response.headers.items()}.get(
        "idempotent-replayed"
    )
    if method != "POST" or replayed in ("true", ["true"]):
        return 0
    if path == "/api/v1/leads" and response.status_code == 201:
        return 1
    if path == "/api/v1/leads/batch" and response.status_code == 200:
        return int(response.json()["accepted"])
    if path == "/api/v1/leads/import" and response.status_code == 200:
        summary = response.json()
        return 0 if summary["dry_run"] else int(summary["accepted"])
    return 0


def _run(test: Any) -> None:
    try:
        test()
    except _TimeUp:
        pass


def _fuzz_schema(daemon: Any, observer: Observer) -> None:
    schema = schemathesis.openapi.from_url(f"{daemon.url}/openapi.json")
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategy = schema.as_strategy(generation_mode=mode)
        _run(_schema_test(strategy, time.monotonic() + SCHEMA_BUDGET_S / 2, observer))


def _schema_test(strategy: Any, until: float, observer: Observer) -> Any:
    @settings(
        max_examples=2000,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        if time.monotonic() > until:
            raise _TimeUp
        observer.check(
            case.method,
            case.formatted_path,
            case.operation.path,
            lambda: case.call(session=observer.session, headers=AUTH, timeout=10),
        )

    return check


PHONES = st.one_of(
    st.builds(
        lambda n: f"+7 916 {n // 10000:03d}-{n % 10000 // 100:02d}-{n % 100:02d}",
        st.integers(0, 9_999_999),
    ),
    st.sampled_from(["8 (916) 123-20-01", "+79161232001", "+1 202 555 0143", "+44 20 7946 0958"]),
    st.sampled_from(["", " ", "+7", "+7 916 12", "12345678901234567890", "+0 123", "(((+)))"]),
    st.text(max_size=45),
    st.integers(),
    st.none(),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
LEADS = st.fixed_dictionaries(
    {"phone": PHONES},
    optional={
        "order_id": st.sampled_from(["A-1", "A-2", "A-3", "", " "]) | SCALARS,
        "name": st.text(max_size=210) | SCALARS,
        "campaign": st.sampled_from(["default", "web", "nope"]) | SCALARS,
        "amount": st.sampled_from(["1299.90", "0", "-1", "1e3", "12.345", "ten"]) | SCALARS,
        "items": JSON,
        "comment": st.text(max_size=50) | SCALARS,
        "callback_at": st.sampled_from(
            [
                "2099-01-01T10:00:00+03:00",
                "2020-01-01T10:00",
                "2099-02-30T10:00",
                "9999-12-31T23:59",
            ]
        )
        | SCALARS,
        "metadata": JSON,
        "colour": SCALARS,
    },
)


def _fuzz_leads(daemon: Any, observer: Observer) -> None:
    deadline = time.monotonic() + LEADS_BUDGET_S

    @settings(
        max_examples=3000,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        leads=st.lists(LEADS | JSON, min_size=1, max_size=5),
        batch=st.booleans(),
        key=st.none() | st.sampled_from(["k1", "k2", "k3"]),
    )
    def check(leads: list[Any], batch: bool, key: str | None) -> None:
        if time.monotonic() > deadline:
            raise _TimeUp
        headers = AUTH | ({"Idempotency-Key": key} if key else {})
        path = "/api/v1/leads/batch" if batch else "/api/v1/leads"
        body = {"leads": leads} if batch else leads[0]
        observer.check(
            "POST",
            path,
            path,
            lambda: observer.session.post(
                observer.url + path, json=body, headers=headers, timeout=10
            ),
        )

    _run(check)


@pytest.mark.timeout(120)
def test_generated_requests_never_crash_and_store_only_what_they_accept(tmp_path):
    with ThreadedDaemon(tmp_path) as daemon:
        observer = Observer(daemon)
        try:
            _fuzz_schema(daemon, observer)
            from_schema = sum(observer.seen.values())
            _fuzz_leads(daemon, observer)
        finally:
            observer.close()
        _clean_originates(daemon)
    seen = observer.seen
    operations = {(method, path) for method, path, _ in seen}
    statuses = Counter(status for _, _, status in seen.elements())
    print(  # noqa: T201
        f"{sum(seen.values())} generated requests ({from_schema} from the schema);"
        f" statuses {dict(statuses)}"
    )
    assert sum(seen.values()) >= 1000  # about 2,000 on a 2-core machine; fewer if it is busy
    assert len(operations) == 11  # every operation was exercised
    assert {200, 201, 400, 401, 404, 409, 422} <= set(statuses)


def _clean_originates(daemon: Any) -> None:
    for sent in list(daemon.sim.originates):
        for name, value in sent.headers.items():
            values = value if isinstance(value, list) else [value]
            assert all("\r" not in v and "\n" not in v for v in values), (name, values)


CONTROL = st.sampled_from(["\r", "\n", "\r\n", "\r\nAction: Originate\r\nChannel: Local/1@x"])


@pytest.mark.timeout(60)
def test_cr_lf_in_a_phone_or_name_never_reaches_ami(tmp_path):
    with ThreadedDaemon(tmp_path) as daemon, requests.Session() as session:

        @settings(max_examples=300, deadline=None, database=None, phases=[Phase.generate])
        @given(
            before=st.sampled_from(["+7916123", "+7 916 123 ", "8916123", "Anna"]),
            control=CONTROL,
            after=st.sampled_from(["1001", "10 01", "", "Ivanovna"]),
            field=st.sampled_from(["phone", "name", "order_id", "comment", "campaign"]),
            batch=st.booleans(),
        )
        def check(before: str, control: str, after: str, field: str, batch: bool) -> None:
            lead = {"phone": "+79161231001", "order_id": f"o-{time.monotonic_ns()}"}
            lead[field] = before + control + after
            if batch:
                response = session.post(
                    f"{daemon.url}/api/v1/leads/batch", json={"leads": [lead]}, headers=AUTH
                )
                (item,) = response.json()["results"]
                status, error = item["status"], item.get("error")
            else:
                response = session.post(f"{daemon.url}/api/v1/leads", json=lead, headers=AUTH)
                status, error = response.status_code, response.json().get("error")
            if status == 422:
                assert error is not None and error["field"] == field
            else:  # only edge whitespace, which intake strips: what is stored is clean
                assert status in (201, 409) and (before + control + after).strip().isprintable()

        check()
        time.sleep(0.5)  # anything accepted has been dialed by now
        assert daemon.sim.originates  # the accepted ones were dialed...
        _clean_originates(daemon)  # ...and nothing of what was sent broke the AMI framing
