"""Analytics' part of a person's erasure, and its confirmation through the outbox.

Every read model keeps the person's personal data as it arrived, sealed with their key, and opens
it per request with the analytics keyring. Analytics' part of an erasure is therefore that its
keyring forgets the key for good (``Keyring.destroyed``: a late or replayed key announcement
cannot bring it back); every sealed copy in every read model, and in any rebuilt later, is then
unreadable. Once that is durable, ``CustomerErasureConfirmed`` goes into the outbox of the
person's ``erasure_confirmations`` document (inserted once, so a redelivered ``CustomerErased``
confirms nothing again), and the outbox relay publishes it on ``crm.analytics.erasure.v1``.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pymongo.errors import DuplicateKeyError

from crm_events.erasure import CONFIRMATIONS, ErasedData, ErasureMethod, erasure_confirmed
from crm_platform.erasure import erasure_record_id
from crm_platform.privacy import Keyring

from .outbox import SOURCE, MongoOutbox, outbox_entry, outgoing

COLLECTION = "erasure_confirmations"
ERASED = (ErasedData(kind="read_models", method=ErasureMethod.KEY_DESTROYED),)


class ErasureConfirmations(MongoOutbox):
    """One document per erased person: when analytics confirmed, and the confirmation's outbox."""

    collection_name = COLLECTION
    topics = (CONFIRMATIONS[SOURCE].topic(),)

    async def confirm(self, customer_id: UUID, at: datetime) -> bool:
        """Record the confirmation for publication; False when the person was confirmed before."""
        data = erasure_confirmed(SOURCE, customer_id=customer_id, erased=ERASED, confirmed_at=at)
        event = outgoing(data, str(erasure_record_id(customer_id)), 1, at)
        document = {
            "_id": str(customer_id),
            "version": 1,
            "confirmed_at": at,
            "outbox": [outbox_entry(event)],
            "outbox_pending": True,
        }
        try:
            await self.collection.insert_one(document)
        except DuplicateKeyError:
            return False
        return True


async def erase(
    keyring: Keyring, confirmations: ErasureConfirmations, customer_id: UUID, at: datetime
) -> bool:
    """Forget the person's key, then confirm; False when confirmed before (nothing new)."""
    await keyring.destroyed(customer_id)
    return await confirmations.confirm(customer_id, at)
