"""How long a client must wait before it may try a password again: guessing is slowed per client
address and per account *from that address*, so that nobody can lock anyone else out.

Two rules, both counted from the audit log's failed password sign-ins of the last
:data:`WINDOW_MINUTES` (:meth:`geo.store.accounts.Accounts.failed_sign_ins`):

1. **An address backs off exponentially.** After :data:`FREE_FAILURES` failures from one client
   address (whatever names it tried), each further attempt must wait 1, 2, 4, 8 ... seconds after
   that address's latest failure, at most :data:`MAX_WAIT_SECONDS`.
2. **A name is locked for that address only.** After :data:`ATTEMPTS_PER_NAME` failures for one
   name from one address, that address may not try that name again until the oldest of them
   leaves the window.

An account is never locked as a whole: its owner, signing in from a client that has not failed,
signs in with the right password at once, however many guesses a stranger made elsewhere.

:func:`refusal` answers ``None`` (go ahead) or ``(seconds to wait, message)``.
"""
from __future__ import annotations

import datetime as dt
import math

from geo.store import accounts as account_store

WINDOW_MINUTES = 15
FREE_FAILURES = 3  # failures from one address before it has to wait
MAX_WAIT_SECONDS = 15 * 60
ATTEMPTS_PER_NAME = 10  # failures for one name from one address within the window


def backoff_seconds(failures: int) -> int:
    """The wait after ``failures`` failures from one address: 0 up to FREE_FAILURES, then 1, 2, 4 ..."""
    if failures < FREE_FAILURES:
        return 0
    return int(min(2 ** (failures - FREE_FAILURES), MAX_WAIT_SECONDS))


def _words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"


def refusal(book, name: str, address: str | None) -> tuple[int, str] | None:
    """None when ``address`` may try ``name`` now; else (seconds to wait, a message saying so)."""
    now = account_store.utc_now()
    failures = book.failed_sign_ins(WINDOW_MINUTES, address)
    if not failures:
        return None
    wait = backoff_seconds(len(failures))
    left = math.ceil((failures[-1] + dt.timedelta(seconds=wait) - now).total_seconds())
    if wait and left > 0:
        return left, (f"Too many failed sign-ins from this computer: wait {_words(left)} before trying again "
                      f"(each further failure doubles the wait).")
    for_name = [t for t in book.failed_sign_ins(WINDOW_MINUTES, address, name)] if name else []
    if len(for_name) >= ATTEMPTS_PER_NAME:
        oldest = for_name[-ATTEMPTS_PER_NAME]
        left = max(1, math.ceil((oldest + dt.timedelta(minutes=WINDOW_MINUTES) - now).total_seconds()))
        return left, (f"Too many failed sign-ins for this name from this computer: wait {_words(left)}, "
                      f"or ask an admin to set a new password.")
    return None
