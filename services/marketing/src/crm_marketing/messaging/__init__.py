"""What marketing does with other services' events (run by crm-marketing-worker)."""

from .audience import GROUP, TOPICS, SyncKeyring, learn, subscribe

__all__ = ["GROUP", "TOPICS", "SyncKeyring", "learn", "subscribe"]
