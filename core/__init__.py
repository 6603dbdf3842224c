"""Shared plumbing every app may import; core imports no app of the vault."""
