"""Translation of the service-desk service's domain events into published integration events."""

from .translator import SOURCE_SERVICE, payloads, translate

__all__ = ["SOURCE_SERVICE", "payloads", "translate"]
