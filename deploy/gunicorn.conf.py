"""gunicorn settings for the web process: ``gunicorn -c deploy/gunicorn.conf.py config.wsgi``.

Sync workers, one per core plus one: the redemption API is short database
transactions, so threads would only contend for the GIL. ``max_requests``
recycles workers to keep their memory flat; ``graceful_timeout`` lets an
in-flight redemption finish (a killed worker mid-request is safe too: the
transaction rolls back and the client retries with its Idempotency-Key).
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() + 1))
worker_class = "sync"
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 5000
max_requests_jitter = 500
accesslog = "-"
errorlog = "-"
# The proxy in front (nginx) sets X-Forwarded-*; trust it only from here.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
