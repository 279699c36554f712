"""The contacts directory: every person and organization as it is now, searchable, in PostgreSQL.

A read model in the service's own database, kept by a local projection of the notification log
(``crm_platform.projection``) that runs in the contacts worker; one module a job:

- ``rows``: a record's row (``DirectoryEntry``) as it is shown, of a person or an organization;
- ``schema``: the tables, and rows to and from them;
- ``projection``: ``DirectoryProjection``, which keeps the tables up to date with the log;
- ``queries``: ``Directory``, the lists, searches and duplicate candidates read from them.

Lists are read page by page after the position of their last row; the API makes a position an
opaque cursor with the platform's codec (``crm_platform.web.pages``).
"""

from .projection import PROJECTION, DirectoryProjection
from .queries import (
    MAX_BLOCK,
    Candidate,
    Directory,
    DirectoryQuery,
    DuplicatePair,
    Sort,
    text_patterns,
)
from .rows import DirectoryEntry, RecordType, organization_entry, person_entry, reasons_json
from .schema import create_directory_tables

__all__ = [
    "MAX_BLOCK",
    "PROJECTION",
    "Candidate",
    "Directory",
    "DirectoryEntry",
    "DirectoryProjection",
    "DirectoryQuery",
    "DuplicatePair",
    "RecordType",
    "Sort",
    "create_directory_tables",
    "organization_entry",
    "person_entry",
    "reasons_json",
    "text_patterns",
]
