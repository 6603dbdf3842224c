"""gunicorn reads this file from its working directory (the repository root, /opt/vault in the
deployment examples) before anything else: every way the service is started picks it up.
Command-line flags (Procfile, deploy/) still set workers, threads and logging."""

from ops.gunicorn_errors import install

# The errors gunicorn answers itself (a URL over 4 KB, malformed headers) in the API's JSON shape.
install()
