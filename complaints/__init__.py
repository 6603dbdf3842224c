"""Complaint cases and access grants: the only way to a decrypted recording."""
