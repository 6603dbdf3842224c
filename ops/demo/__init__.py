"""The demo: a remote-support tool's traffic against the running service, over HTTP.

A fixed plan (seeded, so every run plans the same sessions): a few dozen sessions over the last
months, each with a realistic consent timeline, and a short WebM recording for those in which the
agent had control rights. Sessions without control rights are offered too, and the API rightly
refuses their recordings (409). Running it again adds nothing: sessions are found by their
external id and only what is missing is sent.
"""
