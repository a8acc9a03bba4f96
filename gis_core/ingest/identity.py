"""ID numbers and phone numbers as China writes them: checked before a register is stored."""

from __future__ import annotations

import re
from datetime import date

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
#: GB 11643-1999: the weights of the first 17 digits for the check digit (mod 11).
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number_problem(value: str) -> str | None:
    """Why an 18-digit ID number (GB 11643-1999) is not one, or None when it is."""
    if not re.fullmatch(r"\d{17}[\dX]", value):
        return "an ID number is 17 digits and a digit or X"
    check = "10X98765432"[sum(int(d) * w for d, w in zip(value[:17], _WEIGHTS, strict=True)) % 11]
    if value[17] != check:
        return f"the check digit is {value[17]}, the number's own is {check}"
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return f"{value[6:14]} is not a date of birth"
    return None


def phone_problem(value: str) -> str | None:
    """Why a phone is neither a mobile (11 digits, 13-19…) nor a landline (0xx-xxxxxxxx), or None."""
    return None if _MOBILE.match(value) or _LANDLINE.match(value) else "not a mobile or landline number"
