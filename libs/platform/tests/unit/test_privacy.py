"""Crypto-shredding in the event store: sealed on the way in, opened or kept sealed on the way out."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate, event

from crm_events.personal import KeyMismatch, Sealed, new_key, seal, unseal
from crm_platform.personal_data import PersonalDataErased, personal_data
from crm_platform.privacy import (
    KeyNotYetKnown,
    MemoryKeyring,
    MemoryKeyStore,
    ShreddingApplication,
    ShreddingMapper,
    sealed_subjects,
)

pytestmark = pytest.mark.unit


class Person(Aggregate):
    id: UUID

    @event("Registered")
    def __init__(self, name: str, emails: list[str], tier: str) -> None:
        self.name = name
        self.emails = emails
        self.tier = tier

    @event("Renamed")
    def rename(self, name: str) -> None:
        self.name = name


personal_data(Person.Registered, "name", "emails")
personal_data(Person.Renamed, "name")


class People(ShreddingApplication):
    pass


def registered(app: People, name: str = "Ada Lovelace") -> Person:
    person = Person(id=uuid4(), name=name, emails=["ada@example.org"], tier="gold")
    app.save(person)
    return person


def test_personal_fields_are_stored_sealed_and_loaded_open() -> None:
    app = People()
    person = registered(app)
    stored = app.recorder.select_events(person.id)
    assert b"Ada" not in stored[0].state and b"ada@example.org" not in stored[0].state
    assert b"gold" in stored[0].state  # not personal: stays readable
    loaded = app.repository.get(person.id)
    assert (loaded.name, loaded.emails, loaded.tier) == (
        "Ada Lovelace",
        ["ada@example.org"],
        "gold",
    )


def test_erasure_makes_every_personal_field_none_and_forbids_new_personal_data() -> None:
    app = People()
    person = registered(app)
    person.rename("Ada King")
    app.save(person)
    assert app.personal_data_keys.destroy(person.id) is True
    assert app.personal_data_keys.destroy(person.id) is False  # idempotent
    loaded = app.repository.get(person.id)
    assert (loaded.name, loaded.emails, loaded.tier) == (None, None, "gold")
    loaded.rename("Someone")
    with pytest.raises(PersonalDataErased):
        app.save(loaded)


def test_the_relay_view_keeps_personal_fields_sealed_for_their_subject() -> None:
    app = People()
    person = registered(app)
    notification = app.recorder.select_notifications(0, 1)[0]
    assert isinstance(app.mapper, ShreddingMapper)
    domain_event, _ = app.mapper.decode_with_metadata(notification)
    assert isinstance(domain_event.name, Sealed) and domain_event.name.kid == person.id
    key = app.personal_data_keys.key(person.id)
    assert key is not None and unseal(domain_event.emails, key) == ["ada@example.org"]
    assert sealed_subjects({"a": [domain_event.name], "b": "x"}) == {person.id}


def test_each_subject_has_its_own_key() -> None:
    app = People()
    ada, grace = registered(app), registered(app, "Grace Hopper")
    app.personal_data_keys.destroy(ada.id)
    assert app.repository.get(ada.id).name is None
    assert app.repository.get(grace.id).name == "Grace Hopper"


def test_a_sealed_value_opens_only_with_its_subjects_key_and_id() -> None:
    subject, key = uuid4(), new_key()
    sealed = seal({"email": "ada@example.org"}, key=key, subject=subject)
    assert unseal(sealed, key) == {"email": "ada@example.org"}
    with pytest.raises(KeyMismatch):
        unseal(sealed, new_key())
    with pytest.raises(KeyMismatch):  # moved to another subject: the associated data differs
        unseal(sealed.model_copy(update={"kid": uuid4()}), key)


def test_memory_key_store_never_reissues_a_destroyed_key() -> None:
    keys, subject = MemoryKeyStore(), uuid4()
    assert keys.key(subject) is None
    key = keys.key_for_writing(subject)
    assert keys.key_for_writing(subject) == key and not keys.is_destroyed(subject)
    keys.destroy(subject)
    assert keys.is_destroyed(subject) and keys.key(subject) is None
    with pytest.raises(PersonalDataErased):
        keys.key_for_writing(subject)


def test_keyring_forgets_for_good_and_waits_for_keys_not_yet_arrived() -> None:
    async def scenario() -> None:
        ring, subject, key = MemoryKeyring(), uuid4(), new_key()
        sealed = seal("Ada", key=key, subject=subject)
        with pytest.raises(KeyNotYetKnown):
            await ring.unseal(sealed)
        assert await ring.unseal_or_none(sealed) is None
        await ring.issued(subject, key)
        assert await ring.unseal(sealed) == "Ada"
        await ring.destroyed(subject)
        await ring.issued(subject, key)  # a replayed announcement cannot bring it back
        assert await ring.unseal(sealed) is None

    asyncio.run(scenario())


def test_aggregates_holding_personal_data_are_never_snapshotted() -> None:
    app = People(env={"IS_SNAPSHOTTING_ENABLED": "y"})
    person = registered(app)
    with pytest.raises(TypeError, match="personal data"):
        app.take_snapshot(person.id)
