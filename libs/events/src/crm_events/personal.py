"""Personal data in published events: sealed with a key of the data subject's own.

Every data subject (a person in contacts, a lead in sales) has a 256-bit key. Personal fields of
integration events are :class:`Sealed` values: AES-256-GCM ciphertext of the field's JSON value,
bound to the subject's id (the GCM associated data), so a value cannot be moved to another subject.

Keys travel on the compacted topic ``crm.privacy.personal-data-key.v1``, keyed by subject id:
``PersonalDataKeyIssued`` carries a key, ``PersonalDataKeyDestroyed`` announces its erasure. A
consumer keeps its own keyring from that topic and forgets a key when it is destroyed. Erasing a
person therefore reaches every copy of the log: the event store, every topic, every replay and every
read model rebuilt afterwards hold only ciphertext that nobody can open any more (crypto-shredding).
Compaction removes the issued key from the key topic itself.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any, Final, Literal
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .envelope import EventData
from .registry import event

ALGORITHM: Final = "A256GCM"  # the JOSE name of AES-256 in Galois/Counter Mode
KEY_BYTES = 32
_IV_BYTES = 12


class Sealed(BaseModel):
    """A personal value, encrypted with the key of the data subject ``kid``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kid: UUID = Field(description="The data subject whose key sealed the value.")
    alg: Literal["A256GCM"] = ALGORITHM
    iv: str = Field(description="base64url nonce, 12 bytes.")
    ct: str = Field(description="base64url ciphertext followed by the 16-byte GCM tag.")


class KeyMismatch(ValueError):
    """The key does not open the value: another subject's key, or tampered ciphertext."""


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def seal(value: Any, *, key: bytes, subject: UUID) -> Sealed:
    """Encrypt the JSON ``value`` for ``subject`` with a fresh random nonce."""
    iv = os.urandom(_IV_BYTES)
    plaintext = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    ciphertext = AESGCM(key).encrypt(iv, plaintext, subject.bytes)
    return Sealed(kid=subject, iv=_b64(iv), ct=_b64(ciphertext))


def unseal(sealed: Sealed, key: bytes) -> Any:
    """The JSON value inside ``sealed``; ``KeyMismatch`` when ``key`` is not its subject's."""
    try:
        plaintext = AESGCM(key).decrypt(_unb64(sealed.iv), _unb64(sealed.ct), sealed.kid.bytes)
    except Exception as error:  # InvalidTag, or a malformed nonce/key
        raise KeyMismatch(f"cannot open a value sealed for {sealed.kid}") from error
    return json.loads(plaintext)


def encode_key(key: bytes) -> str:
    return _b64(key)


def decode_key(text: str) -> bytes:
    key = _unb64(text)
    if len(key) != KEY_BYTES:
        raise ValueError(f"a personal-data key has {KEY_BYTES} bytes, not {len(key)}")
    return key


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _PersonalDataKeyEvent(EventData):
    source_service = "privacy"
    aggregate_type = "personal-data-key"
    schema_version = 1

    subject_id: UUID = Field(description="The data subject (and the Kafka record key).")


@event
class PersonalDataKeyIssued(_PersonalDataKeyEvent):
    """The key that opens the subject's sealed personal data. Keep it only while it is current:
    a later ``PersonalDataKeyDestroyed`` for the subject obliges every holder to delete it."""

    event_type = "PersonalDataKeyIssued"

    key: str = Field(description="base64url, 32 bytes.")
    algorithm: Literal["A256GCM"] = ALGORITHM


@event
class PersonalDataKeyDestroyed(_PersonalDataKeyEvent):
    """The subject was erased: delete its key and every plaintext copy of its personal data."""

    event_type = "PersonalDataKeyDestroyed"

    destroyed_at: AwareDatetime
