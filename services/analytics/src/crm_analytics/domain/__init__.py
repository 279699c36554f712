"""The customer 360 projection and timeline paging: pure functions, no I/O."""
