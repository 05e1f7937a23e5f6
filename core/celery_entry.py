"""Module the `celery` CLI loads: `celery -A core.celery_entry worker|beat`.

The one place an app is built at import time: Celery's CLI needs a module attribute. Nothing
else may import this module; code that needs an app calls `create_celery(settings)`.
"""

from core.config import get_settings
from core.queue import create_celery
from core.runtime import private_umask

# Workers and beat create the broker and result databases and beat's schedule: private files.
private_umask()
app = create_celery(get_settings())
