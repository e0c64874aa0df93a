"""The edges of Tidings: WebSocket and REST (FastAPI), auth, sessions, composition root, CLI."""
