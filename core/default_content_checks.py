"""The compliance linter's built-in rules, registered like any plugin's rules.

A marketplace plugin can add rules for its marketplace through the same hook; a seller
who needs a different built-in rule set replaces this plugin.
"""

from __future__ import annotations

from .compliance import BUILTIN_CHECKS
from .hookspecs import hookimpl


@hookimpl
def register_content_checks(engine, marketplace):
    return list(BUILTIN_CHECKS)
