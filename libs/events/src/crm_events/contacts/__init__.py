"""Events published by the contacts service.

People are published on ``crm.contacts.customer.v2`` (personal data sealed); ``customer`` holds the
deprecated v1 models, which nothing publishes any more. Organizations are published on
``crm.contacts.organization.v1``.
"""

from . import customer_v2, organization
from .customer import (
    CustomerContacted,
    CustomerRegistered,
    InteractionChannel,
    InteractionDirection,
)
from .customer_v2 import (
    ConsentGranted,
    ConsentPurpose,
    ConsentSource,
    ConsentWithdrawn,
    ContactChannel,
    ContactsMerged,
    ContactsUnmerged,
    CustomerContactedV2,
    CustomerErased,
    CustomerProfileUpdated,
    CustomerRegisteredV2,
    RecordReference,
    RegistrationOrigin,
)
from .organization import (
    OrganizationKind,
    OrganizationProfileUpdated,
    OrganizationRegistered,
    PartnerRegistered,
    PartnerType,
    PostalAddress,
)

__all__ = [
    "ConsentGranted",
    "ConsentPurpose",
    "ConsentSource",
    "ConsentWithdrawn",
    "ContactChannel",
    "ContactsMerged",
    "ContactsUnmerged",
    "CustomerContacted",
    "CustomerContactedV2",
    "CustomerErased",
    "CustomerProfileUpdated",
    "CustomerRegistered",
    "CustomerRegisteredV2",
    "InteractionChannel",
    "InteractionDirection",
    "OrganizationKind",
    "OrganizationProfileUpdated",
    "OrganizationRegistered",
    "PartnerRegistered",
    "PartnerType",
    "PostalAddress",
    "RecordReference",
    "RegistrationOrigin",
    "customer_v2",
    "organization",
]
