"""Pydantic models of what the API answers (the dicts the *_document functions build), for the OpenAPI document."""
