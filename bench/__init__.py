"""`make bench`: each measurement side by side with a raw baseline doing the same work."""
