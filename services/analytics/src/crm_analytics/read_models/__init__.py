"""The read models, one module each: its subscription (topics, group), its folds and its store
access, over the platform's MongoDB read models (``crm_platform.read_models``)."""
