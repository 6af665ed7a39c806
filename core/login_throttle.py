"""Sign-in throttling: growing delays per address and per user, never a hard lock.

Failed sign-ins are counted under three keys: the address, the (user, address) pair and
the user alone. Past its free attempts a key makes every further try wait, doubling from
one second up to its cap, and is forgotten ``WINDOW`` after its last failure:

- address: ``4 × login_attempts`` free, up to 15 minutes (one machine guessing many names);
- (user, address): ``login_attempts`` free, up to 15 minutes (one machine guessing one user);
- user: ``10 × login_attempts`` free, up to 1 minute (many machines guessing one user).

So an attacker can slow down someone else's sign-in by at most a minute, never lock them
out, while one address gets at most a few dozen guesses an hour. The keys are the typed
username, whether it exists or not, so the answers never tell who exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from .clock import utcnow
from .db import database
from .models import LoginThrottle

WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class _Rule:
    prefix: str
    free_factor: int
    cap_seconds: int


_RULES = (_Rule("addr", 4, 900), _Rule("pair", 1, 900), _Rule("user", 10, 60))


def _keys(username: str, address: str) -> list[tuple[_Rule, str]]:
    # PostgreSQL refuses NUL in text: none in a key, and the pair's separator is the
    # ASCII unit separator, which no username or address contains.
    name = username.replace("\x00", "")[:80]
    values = {"addr": address, "pair": f"{name}\x1f{address}", "user": name}
    return [(rule, f"{rule.prefix}:{values[rule.prefix]}"[:200]) for rule in _RULES]


def _delay(rule: _Rule, failures: int, attempts: int) -> float:
    over = failures - rule.free_factor * attempts
    return 0.0 if over < 0 else float(min(2**over, rule.cap_seconds))


def wait_seconds(username: str, address: str, attempts: int) -> int:
    """Seconds until the next try is allowed (0: try now)."""
    now = utcnow()
    keys = dict((key, rule) for rule, key in _keys(username, address))
    wait = 0.0
    for row in LoginThrottle.select().where(LoginThrottle.key.in_(list(keys))):
        if now - row.last_failure_at > WINDOW:
            continue
        until = row.last_failure_at + timedelta(
            seconds=_delay(keys[row.key], row.failures, attempts)
        )
        wait = max(wait, (until - now).total_seconds())
    return int(wait) + (1 if wait > int(wait) else 0)


def record_failure(username: str, address: str) -> None:
    """Count a failed sign-in under every key."""
    now = utcnow()
    with database.atomic():
        # Forgotten failures go, so guessing many names cannot grow the table for long.
        LoginThrottle.delete().where(LoginThrottle.last_failure_at < now - WINDOW).execute()
        for _rule, key in _keys(username, address):
            row, created = LoginThrottle.get_or_create(
                key=key, defaults={"failures": 1, "last_failure_at": now}
            )
            if not created:
                fresh = now - row.last_failure_at <= WINDOW
                row.failures = row.failures + 1 if fresh else 1
                row.last_failure_at = now
                row.save()


def record_success(username: str, address: str) -> None:
    """The user signed in: forget its failures (the address's stay until they expire,
    so signing into one's own account does not reset a guessing machine's count)."""
    keys = [key for rule, key in _keys(username, address) if rule.prefix != "addr"]
    LoginThrottle.delete().where(LoginThrottle.key.in_(keys)).execute()
