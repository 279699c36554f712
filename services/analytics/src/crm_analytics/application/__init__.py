"""Customer scores and their outbox, erasure confirmations, opening sealed data, rebuilds."""
