"""`make backfill PREFIX=…`: score what already sits in the input bucket, each object once."""
