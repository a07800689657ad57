import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# The URLconf — every view module, the API's schemas, WeasyPrint — is read when a worker starts,
# not by its first request: that request had waited 1.3 s for it (the first ledger of a process,
# bench/bench_exports.py), a user's after every restart. A URLconf that cannot be imported now
# stops the worker at its start, where the service manager reports it.
get_resolver().url_patterns  # noqa: B018 (the property reads and keeps the URLconf)
