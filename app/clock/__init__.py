"""clock domain."""
