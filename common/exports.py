"""CSV exports: neutralise formula injection (a cell a spreadsheet would run as a formula).

Every text cell written to a CSV or spreadsheet export goes through safe_cell (issue 7's exports).
"""

import re
from decimal import Decimal

# A spreadsheet reads a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
# Plain numbers, negative or decimal (« -3,5 »), are data, not formulas: left as they are.
NUMBER = re.compile(r"^[+-]?\d+([.,]\d+)?$")


def safe_cell(value):
    """The value to write in an export cell: numbers and dates unchanged, None as "", and a text
    that a spreadsheet would take for a formula (=, +, -, @, tab or line break first, after any
    spaces) prefixed with an apostrophe, so that it is shown as written and never run."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, int | float | Decimal):
        return value
    if not isinstance(value, str):
        value = str(value)
    stripped = value.lstrip(" ")
    if stripped.startswith(FORMULA_STARTS) and not NUMBER.match(stripped):
        return "'" + value
    return value


def safe_row(values) -> list:
    """safe_cell on each value of a row."""
    return [safe_cell(value) for value in values]
