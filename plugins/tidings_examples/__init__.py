"""Example Tidings plugins (docs/plugins.md): a word filter, a webhook observer and a dice
bot. Each is registered in pyproject.toml under the entry point group ``tidings.plugins``."""
