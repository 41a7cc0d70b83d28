"""timeline domain."""
