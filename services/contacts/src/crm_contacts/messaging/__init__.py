"""Kafka consumers of the contacts service: none yet (the relay is wired in ``bootstrap``)."""
