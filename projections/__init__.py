"""Read models built from the event log: pure projectors and the stores that hold their rows."""
