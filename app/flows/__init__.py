"""Use cases across domains (DESIGN.md §1 flows): entry points call these, these call services.

They live in their own package because a use case like "declare an incident" spans incidents,
playbooks, clock and timeline, and a lower domain must not import a higher one.
"""
