"""throttle.py — sign-in rate limiting: failed passwords counted per user
name, per client address and per known browser over a sliding window.

Who is counted where (SignInThrottle): a browser that has signed in as a user
before carries a signed device cookie for that user (OWASP's "device
cookies"); its sign-ins as that user count against that browser alone. Any
other attempt counts against the user name and the client address. So an
attacker guessing alice's password from anywhere throttles the name (and
their address), but never alice's own browser: she is not locked out
however long they keep at it. A browser alice never used waits at most one
window after the attacker's last counted failure.

Throttle: a key that has `limit` failed sign-ins
within the last `window_s` seconds is throttled: the sign-in is answered 429
without its password being checked, with Retry-After = the seconds until its
oldest counted failure leaves the window. Throttled attempts are not counted,
so however long an attacker keeps trying, a legitimate user waits at most one
window after the attacker's last counted failure; a good password (when not
throttled) clears its user name's failures.

Held in memory, per process (a restart forgets it): at most `max_keys` keys,
the least recently failed dropped first, each holding at most `limit`
timestamps, so a flood of made-up names or addresses cannot grow it without
bound.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

MAX_KEYS = 10000


class Throttle:
    def __init__(self, limit: int, window_s: float, *, max_keys: int = MAX_KEYS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window_s <= 0 or max_keys < 1:
            raise ValueError("a throttle needs limit >= 1, window_s > 0 and max_keys >= 1")
        self.limit, self.window_s, self.max_keys = limit, window_s, max_keys
        self._clock = clock
        self._fails: OrderedDict[str, deque[float]] = OrderedDict()

    def _live(self, key: str, now: float) -> deque[float] | None:
        d = self._fails.get(key)
        if d is None:
            return None
        while d and d[0] <= now - self.window_s:
            d.popleft()
        if not d:
            del self._fails[key]
            return None
        return d

    def retry_after(self, key: str) -> int:
        """0 when `key` may try now, else whole seconds (>= 1) until it may."""
        now = self._clock()
        d = self._live(key, now)
        if d is None or len(d) < self.limit:
            return 0
        return max(1, math.ceil(d[0] + self.window_s - now))

    def failed(self, key: str) -> None:
        """Counts a failed sign-in for `key`."""
        now = self._clock()
        d = self._live(key, now)
        if d is None:
            while len(self._fails) >= self.max_keys:
                self._fails.popitem(last=False)
            d = self._fails[key] = deque(maxlen=self.limit)
        d.append(now)
        self._fails.move_to_end(key)

    def clear(self, key: str) -> None:
        self._fails.pop(key, None)


class SignInThrottle:
    """The three counters a sign-in is checked against (see the top of the file)."""

    def __init__(self, per_name: int, per_addr: int, window_s: float) -> None:
        self.by_name = Throttle(per_name, window_s)
        self.by_addr = Throttle(per_addr, window_s)
        self.by_device = Throttle(per_name, window_s)

    def wait(self, name: str, addr: str, device: str | None) -> tuple[int, str]:
        """(seconds to wait, for whom) — (0, "") when this attempt may go ahead.
        `device` is the nonce of a device cookie for `name` (None: none, or another's)."""
        if device is not None:
            w = self.by_device.retry_after(device)
            return (w, "from this browser") if w else (0, "")
        by_name, by_addr = self.by_name.retry_after(name), self.by_addr.retry_after(addr)
        if by_name >= by_addr:
            return (by_name, "for this user name") if by_name else (0, "")
        return by_addr, "from your address"

    def failed(self, name: str, addr: str, device: str | None) -> None:
        if device is not None:
            self.by_device.failed(device)
        else:
            self.by_name.failed(name)
            self.by_addr.failed(addr)

    def succeeded(self, name: str, device: str | None) -> None:
        if device is not None:
            self.by_device.clear(device)
        else:
            self.by_name.clear(name)
