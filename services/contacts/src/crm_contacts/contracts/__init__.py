"""Translation of the contacts domain events into the published ``crm_events`` contracts."""

from .translator import SOURCE_SERVICE, translate

__all__ = ["SOURCE_SERVICE", "translate"]
