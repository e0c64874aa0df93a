"""The event log and the processes that follow it: command processing and projection."""
