"""Sane values for every service: the span of instants, the currencies money is kept in, and
how large an amount may be.

One rule each, for request validation (``crm_platform.web.types``) and for domain code, which
imports this module without any framework coming along.

Currencies: ISO 4217 (list one, 2025), active codes only. Left out on purpose: the codes that are not money
a CRM invoices in (XXX "no currency", XTS "testing", precious metals XAU XAG XPT XPD, SDR XDR,
the bond-market units XBA..XBD, XSU, XUA) and anything that is not in the standard (BTC...).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

# A CRM's instants are about people and deals of this world: outside, a value is a typing mistake,
# and far from Python's own limits (years 1 and 9999), so arithmetic on it never overflows.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
INSTANT_RANGE = f"from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d} (UTC)"

# Amounts above this are typing mistakes rather than prices or deals (and keep every product and
# sum far from the limits of exact decimal arithmetic).
MAX_AMOUNT = Decimal("1e15")

_MINOR_UNITS_EXCEPT_TWO = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}
_TWO_MINOR_UNITS = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN"
    " BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP"
    " GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT"
    " LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN"
    " NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE"
    " SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UZS VED VES WST"
    " XCD XCG YER ZAR ZMW ZWG"
).split()
MINOR_UNITS: dict[str, int] = {**dict.fromkeys(_TWO_MINOR_UNITS, 2), **_MINOR_UNITS_EXCEPT_TWO}


def within_range(moment: datetime) -> bool:
    """Whether an aware instant is within EARLIEST..LATEST (False if it overflows in UTC)."""
    try:
        return EARLIEST <= moment.astimezone(UTC) < LATEST
    except OverflowError:
        return False
