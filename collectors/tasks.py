"""Celery entry points of the collectors; thin and idempotent."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="collectors.refresh_context")
def refresh_context() -> str | None:
    """Validate and publish the context exports (``context_dir``) for enrichment.

    Returns the published version, or None when no context directory is configured. A broken
    export raises ContextError (visible as a failed task) and the last good tables stay.
    """
    from collectors.context_refresh import publish_context
    from core.config import get_settings

    settings = get_settings()
    if settings.context_dir is None:
        return None
    return publish_context(
        source=settings.context_dir.expanduser(),
        target=settings.resolved_data_dir / "context",
        key=settings.secret("pseudonym_key").encode(),
    )
