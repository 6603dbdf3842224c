"""Recorder clients, sessions and their consent timeline, and sealed ingest of recordings."""
