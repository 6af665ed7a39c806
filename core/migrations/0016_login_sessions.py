"""Server-side login sessions and sign-in throttling (``core.sessions``,
``core.login_throttle``)."""

from core.models import LoginSession, LoginThrottle


def up(db):
    # safe=True: 0001 already made them on a fresh install (it creates every model).
    db.create_tables([LoginSession, LoginThrottle], safe=True)
