"""What money is, for every service: the currencies it is kept in, and how large it may be.

One list for request validation and for the sales domain's exact amounts. Plain data: the domain
code of services imports it without any framework coming along.

Currencies: ISO 4217 (list one, 2025), active codes only. Left out on purpose: the codes that are not money
a CRM invoices in (XXX "no currency", XTS "testing", precious metals XAU XAG XPT XPD, SDR XDR,
the bond-market units XBA..XBD, XSU, XUA) and anything that is not in the standard (BTC...).
"""

from __future__ import annotations

from decimal import Decimal

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
