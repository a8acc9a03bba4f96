"""Masking of personal data for roles that do not need to see it."""

from __future__ import annotations


def mask_phone(phone: str | None) -> str | None:
    """`13812341234` → `138****1234`."""
    if not phone or len(phone) < 7:
        return phone
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_id_number(idn: str | None) -> str | None:
    """`210602199001011234` → `2106**********1234`."""
    if not idn or len(idn) < 8:
        return idn
    return idn[:4] + "*" * (len(idn) - 8) + idn[-4:]


def mask_name(name: str | None) -> str | None:
    """`张三丰` → `张**`: the surname stays, the given name goes."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)
