"""Operator commands (run by hand, never on a request path)."""
