"""Duplicate scoring of people: how alike two records are, and why.

Each kind of evidence is a probability-like weight, combined with a noisy-OR
(``1 - prod(1 - weight)``), so independent signals reinforce each other without ever exceeding 1
and the score does not depend on the order in which they are considered:

======================  =========  ===========================================================
evidence                weight     why
======================  =========  ===========================================================
a shared e-mail         0.80       addresses are personal far more often than not
a shared phone          0.60       landlines and switchboards are shared by households and firms
similar names           0.60 x s   ``s`` the name similarity, counted only when ``s >= 0.85``
======================  =========  ===========================================================

So an e-mail and the same name score 0.92, a phone and the same name 0.84, the same name alone
0.60 and an e-mail alone 0.80. A pair is a *candidate* from ``CANDIDATE_THRESHOLD`` (0.5: any one
signal suffices, for a person to review) and *likely* from ``LIKELY_THRESHOLD`` (0.8: two signals,
or a shared e-mail).

Names are compared after folding case, accents, punctuation and spacing, with Jaro-Winkler (which
forgives typos late in a word more than early ones), both as written and with the words sorted, so
a given and a family name entered the wrong way round still match. E-mails and phones are compared
exactly: the domain stores them normalized (lower-case, E.164).

Blocking keys say which records are worth scoring at all: records sharing no key are never
compared, which keeps the search linear in the number of people.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz.distance import JaroWinkler

from crm_platform.text import fold

EMAIL_WEIGHT = 0.80
PHONE_WEIGHT = 0.60
NAME_WEIGHT = 0.60
NAME_SIMILARITY_FLOOR = 0.85
CANDIDATE_THRESHOLD = 0.50
LIKELY_THRESHOLD = 0.80
# Characters of a name's first word a blocking key keeps: typos late in a name still block
# together, while common names stay in manageable blocks.
NAME_KEY_PREFIX = 4


class Evidence(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    NAME = "name"


@dataclass(frozen=True)
class PersonFingerprint:
    """What the scorer compares of a person: names as entered, e-mails and phones normalized."""

    given_name: str | None
    family_name: str | None
    emails: frozenset[str] = frozenset()
    phones: frozenset[str] = frozenset()

    @property
    def full_name(self) -> str:
        return fold(f"{self.given_name or ''} {self.family_name or ''}")


@dataclass(frozen=True)
class MatchReason:
    """One piece of evidence: the field, the value(s) in common, and how alike (1.0 is exact)."""

    field: Evidence
    values: tuple[str, ...]
    similarity: float
    weight: float


@dataclass(frozen=True)
class DuplicateScore:
    score: float
    reasons: tuple[MatchReason, ...]

    @property
    def is_candidate(self) -> bool:
        return self.score >= CANDIDATE_THRESHOLD

    @property
    def is_likely(self) -> bool:
        return self.score >= LIKELY_THRESHOLD


def name_similarity(a: str, b: str) -> float:
    """Jaro-Winkler of the folded names, as written or with their words sorted (order-blind)."""
    a, b = fold(a), fold(b)
    if not a or not b:
        return 0.0
    as_written = JaroWinkler.normalized_similarity(a, b)
    sorted_words = JaroWinkler.normalized_similarity(_sorted_words(a), _sorted_words(b))
    return round(max(as_written, sorted_words), 4)


def score(a: PersonFingerprint, b: PersonFingerprint) -> DuplicateScore:
    """How likely ``a`` and ``b`` are the same person, with the evidence; symmetric in a and b."""
    reasons: list[MatchReason] = []
    if shared := a.emails & b.emails:
        reasons.append(MatchReason(Evidence.EMAIL, tuple(sorted(shared)), 1.0, EMAIL_WEIGHT))
    if shared := a.phones & b.phones:
        reasons.append(MatchReason(Evidence.PHONE, tuple(sorted(shared)), 1.0, PHONE_WEIGHT))
    similarity = name_similarity(a.full_name, b.full_name)
    if similarity >= NAME_SIMILARITY_FLOOR:
        names = tuple(sorted({a.full_name, b.full_name}))
        reasons.append(MatchReason(Evidence.NAME, names, similarity, NAME_WEIGHT * similarity))
    return DuplicateScore(_noisy_or(r.weight for r in reasons), tuple(reasons))


def blocking_keys(person: PersonFingerprint) -> frozenset[str]:
    """Keys shared by any two records worth scoring: each e-mail, each phone, and name keys.

    A name key is a prefix of one name's first word plus the other name's initial, taken both
    ways round, so swapped names and late typos ("Lovelace", "Lovelase") still share a key.
    """
    keys = {f"email:{email}" for email in person.emails}
    keys |= {f"phone:{phone}" for phone in person.phones}
    given, family = fold(person.given_name or ""), fold(person.family_name or "")
    if given and family:
        keys.add(f"name:{family.split()[0][:NAME_KEY_PREFIX]}|{given[0]}")
        keys.add(f"name:{given.split()[0][:NAME_KEY_PREFIX]}|{family[0]}")
    return frozenset(keys)


def _sorted_words(name: str) -> str:
    return " ".join(sorted(name.split()))


def _noisy_or(weights: Iterable[float]) -> float:
    miss = 1.0
    for weight in weights:
        miss *= 1.0 - weight
    return round(1.0 - miss, 4)
