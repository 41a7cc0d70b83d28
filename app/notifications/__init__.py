"""notifications domain."""
