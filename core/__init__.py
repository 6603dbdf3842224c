"""Shared plumbing every app may import: domain errors and their JSON body, pagination, the OpenAPI
error component, charts, admin building blocks, client addresses, ISO 8601 periods, row mapping.
Core imports no app of the vault (the import-linter contract in `.importlinter` says so)."""
