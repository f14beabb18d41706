"""Reference client of the compute-voucher platform API, for platforms.

Stand-alone: it needs only ``requests`` and ``requests-http-signature``.
``PlatformClient`` signs, retries safely and batches usage; ``python -m
cv_client`` (or the ``cv-client`` script) is its command line. See README.md.
"""

from .client import (
    API_PREFIX,
    MAX_BATCH,
    RETRY_STATUSES,
    APIError,
    PlatformClient,
    content_key,
    redemption_body,
)
from .journal import SentJournal

__version__ = "0.1.0"

__all__ = [
    "API_PREFIX",
    "MAX_BATCH",
    "RETRY_STATUSES",
    "APIError",
    "PlatformClient",
    "SentJournal",
    "__version__",
    "content_key",
    "redemption_body",
]
