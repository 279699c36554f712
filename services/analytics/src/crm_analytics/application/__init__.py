"""Read-model storage: the customer 360 documents in MongoDB."""
