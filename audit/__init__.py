"""The append-only, tamper-evident audit ledger (RFC 9162 leaf hashes)."""
