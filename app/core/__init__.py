"""Shared kernel: time, errors, YAML with line numbers, pagination. Imports no domain."""
