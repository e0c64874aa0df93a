"""The pure core of Tidings: rooms, their rules, and the commands that change them.

Nothing here performs I/O. The streams layer runs commands through
:class:`domain.handler.CommandHandler` and stores the events it decides.
"""
