"""Affected data subjects of an incident: pseudonymised lists, access and erasure, retention."""
