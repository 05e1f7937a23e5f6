"""Module the `celery` CLI loads: `celery -A dijkwacht.celery_entry worker|beat`.

The one place an app is built at import time: Celery's CLI needs a module attribute. Nothing
else may import this module; code that needs an app calls `dijkwacht.celery_app.create_app`.
"""

from core.config import get_settings
from core.runtime import private_umask
from dijkwacht.celery_app import create_app

# Workers and beat create the broker and result databases and beat's schedule: private files.
private_umask()
app = create_app(get_settings())
