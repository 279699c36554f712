"""The metrics' facts and the figures folded from them: pure functions, no I/O."""
