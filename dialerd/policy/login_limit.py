"""Console sign-in attempts limited per user name and per client address (issue 12).

Pure: the caller passes ``now`` (any clock that does not jump back, e.g. ``time.monotonic``).

Two sliding windows, both counting *failures*: a name that failed ``per_name`` times in the
last ``window_s`` seconds is refused (someone guessing one operator's password from many
addresses), and so is an address that failed ``per_address`` times (one machine trying many
names). A sign-in that succeeds clears its name's failures, so an operator who mistyped a
few times is not locked out for the rest of the window; the address keeps its count, or a
guesser holding one valid account could reset their own limit between guesses.

The order of use: ``check`` before verifying a password; when it allows, verify, then
``failed`` or ``succeeded``. A refused attempt is not verified and not counted (counting it
would let an attacker keep an operator locked out for ever by retrying).

Memory stays bounded however many names a flood invents: a key keeps at most its limit's
worth of instants (only the limit-th latest one decides), keys whose last failure left the
window are dropped as others arrive, and each table holds at most ``max_keys`` keys: past
that the key that failed least recently goes. The guarantee therefore holds while fewer
than ``max_keys`` names (or addresses) failed within one window; the per-address limit is
what keeps a few machines from inventing that many.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

MAX_KEY_CHARS = 256  # a name is cut to this many characters: memory per key stays bounded


@dataclass(frozen=True)
class Verdict:
    """May this attempt be verified; if not, how long until one may (for ``Retry-After``)."""

    allowed: bool
    retry_after_s: float = 0.0


ALLOWED = Verdict(True, 0.0)


class _Failures:
    """Failures per key within the window: one table of the limiter (names, or addresses)."""

    def __init__(self, limit: int, window_s: float, max_keys: int) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        # the key failed least recently first: pruning and eviction pop from the front
        self._keys: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def wait_s(self, key: str, now: float) -> float:
        """0 when the key may try now; else the seconds until its oldest counted failure ages out."""
        times = self._keys.get(key)
        if times is None or len(times) < self.limit:
            return 0.0
        free_at = times[0] + self.window_s  # the limit-th latest failure leaves the window then
        return free_at - now if free_at > now else 0.0

    def add(self, key: str, now: float) -> None:
        self.prune(now)
        times = self._keys.get(key)
        if times is None:
            while len(self._keys) >= self.max_keys:
                self._keys.popitem(last=False)
            times = self._keys[key] = deque(maxlen=self.limit)
        else:
            self._keys.move_to_end(key)
        times.append(now)

    def clear(self, key: str) -> None:
        self._keys.pop(key, None)

    def prune(self, now: float) -> None:
        """Drop keys whose latest failure left the window: they decide nothing any more."""
        while self._keys:
            key, times = next(iter(self._keys.items()))
            if times[-1] + self.window_s > now:
                break
            del self._keys[key]


class LoginLimiter:
    """Failures per name and per address in a sliding window; see the module's docstring."""

    def __init__(
        self,
        *,
        per_name: int = 5,
        per_address: int = 20,
        window_s: float = 15 * 60,
        max_keys: int = 10_000,
    ) -> None:
        if per_name < 1 or per_address < 1 or window_s <= 0 or max_keys < 1:
            raise ValueError(
                f"invalid login limits: per_name={per_name} per_address={per_address}"
                f" window_s={window_s} max_keys={max_keys}"
            )
        self._names = _Failures(per_name, window_s, max_keys)
        self._addresses = _Failures(per_address, window_s, max_keys)

    def check(self, name: str, address: str, now: float) -> Verdict:
        """Before verifying a password: refused while either the name or the address is over."""
        wait = max(self._names.wait_s(_key(name), now), self._addresses.wait_s(_key(address), now))
        return ALLOWED if wait <= 0 else Verdict(False, wait)

    def failed(self, name: str, address: str, now: float) -> None:
        """An allowed attempt whose password was wrong (or whose name is unknown)."""
        self._names.add(_key(name), now)
        self._addresses.add(_key(address), now)

    def succeeded(self, name: str, address: str, now: float) -> None:
        """Clears the name's failures; the address keeps its count (see the module docstring)."""
        self._names.clear(_key(name))
        self._names.prune(now)
        self._addresses.prune(now)

    def tracked(self) -> tuple[int, int]:
        """How many names and addresses are held now: for tests and /metrics."""
        return len(self._names), len(self._addresses)


def _key(value: str) -> str:
    return value[:MAX_KEY_CHARS]
