"""The worker's erasures consumer and its metric loops (scoring, the outbox relay)."""
