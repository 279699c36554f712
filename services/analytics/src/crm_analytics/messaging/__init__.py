"""Kafka subscribers of the analytics worker."""
