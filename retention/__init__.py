"""Retention: expiry dates, legal holds and the purge of expired recordings."""
