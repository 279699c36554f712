"""Translation of the marketing domain events into the published ``crm_events`` contracts."""

from .translator import SOURCE_SERVICE, TOPICS, translate

__all__ = ["SOURCE_SERVICE", "TOPICS", "translate"]
