"""The type of each column of a table found in a PDF, from its cells' text.

A PDF holds only text, but ``SUM(amount)`` over a table found in one needs
numbers: a column becomes integers (``1,234``, ``98 452``, ``(1,234)`` as -1234,
``−5`` with a Unicode minus), floats, percentages (``12.5%`` -> 12.5 when every
value has the sign; noted), one currency symbol (``$85``; noted) or ISO dates
when every value reads so, else it stays text. A lone dash or
:data:`~docframe.connectors.schema.NULL_TOKENS` is null in a numeric column.
Numbers with leading zeros (``01``) are codes and keep the column text.
"""

from __future__ import annotations

import datetime as _dt
import re

import pyarrow as pa

from docframe.connectors.schema import INT64_MAX, ISO_DATE, NULL_TOKENS

_DASHES = frozenset(
    {"-", "\u2013", "\u2014", "\u2012", "\u2212"}
)  # hyphen, en/em/figure dash, minus
_CURRENCY = "$€£¥₹"
_GROUPED = re.compile(r"\d{1,3}(?P<sep>[, \u00a0\u202f'])\d{3}(?:(?P=sep)\d{3})*(?:\.\d+)?")
_PLAIN = re.compile(r"(?:0|[1-9]\d*)(?:\.\d+)?|0?\.\d+")
_SEPARATORS = re.compile(r"[, \u00a0\u202f']")


def parse_number(text: str) -> tuple[int | float, str, bool] | None:
    """``text`` as (value, currency symbol or "", had a % sign), or None if not a number."""
    s = text.strip().replace("\u2212", "-")
    if not s:
        return None
    neg = False
    if s.startswith("(") and s.endswith(")"):
        neg, s = True, s[1:-1].strip()
    if s[:1] in "+-":
        neg, s = (s[0] == "-"), s[1:].lstrip()
    currency = ""
    if s[:1] and s[0] in _CURRENCY:
        currency, s = s[0], s[1:].lstrip()
        if s[:1] == "-" and not neg:
            neg, s = True, s[1:].lstrip()
    percent = s.endswith("%")
    if percent:
        s = s[:-1].rstrip()
    if _GROUPED.fullmatch(s):
        s = _SEPARATORS.sub("", s)
    elif not _PLAIN.fullmatch(s):
        return None
    value: int | float = float(s) if "." in s else int(s)
    if isinstance(value, int) and value > INT64_MAX:
        value = float(value)
    return (-value if neg else value), currency, percent


def type_column(name: str, values: list[str]) -> tuple[pa.Array, str | None]:
    """One column's values as the narrowest fitting Arrow array, and a note if any."""
    present = [v for v in values if v and v not in NULL_TOKENS]
    if not present:
        return pa.array([v or None for v in values], pa.string()), None
    numeric = [v for v in present if v not in _DASHES]
    parsed = [parse_number(v) for v in numeric]
    if numeric and all(p is not None for p in parsed):
        currencies = {p[1] for p in parsed if p[1]}  # type: ignore[index]
        percents = {p[2] for p in parsed}  # type: ignore[index]
        if len(currencies) <= 1 and len(percents) == 1:
            lookup = dict(zip(numeric, parsed, strict=True))
            out = [lookup[v][0] if v in lookup else None for v in values]  # type: ignore[index]
            is_int = all(isinstance(v, int) for v in out if v is not None)
            arr = pa.array(out, pa.int64() if is_int else pa.float64())
            why = []
            if currencies:
                why.append(f"currency sign {next(iter(currencies))} removed")
            if percents == {True}:
                why.append("values are percentages (% sign removed)")
            return arr, (f"column {name!r}: " + "; ".join(why)) if why else None
    if all(ISO_DATE.fullmatch(v) for v in present):
        try:
            dates = [_dt.date.fromisoformat(v) if v in present else None for v in values]
        except ValueError:
            pass
        else:
            return pa.array(dates, pa.date32()), None
    return pa.array([v or None for v in values], pa.string()), None
