"""datamap domain."""
