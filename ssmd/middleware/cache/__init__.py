"""Key/value cache: local file (shared by processes), memory, or Redis."""
