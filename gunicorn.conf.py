"""gunicorn reads this file from its working directory (the repository root, /opt/vault in the
deployment examples) before anything else: every way the service is started picks it up.
Command-line flags (Procfile, deploy/) still set workers, threads and logging."""

from ops.gunicorn_errors import install

# The errors gunicorn answers itself (a URL over 4 KB, malformed headers) in the API's JSON shape.
install()

# gunicorn 27's control socket lets any process of the same user change the worker count, reload
# or stop the server at run time (`gunicornc`). Nothing here uses it: a management surface nobody
# needs is one less, and two servers of one user (ingest and console) no longer share its path.
control_socket_disable = True
