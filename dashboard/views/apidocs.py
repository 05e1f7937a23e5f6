"""The API docs page (Swagger UI) served from vendored assets, so it works offline.

FastAPI's own /docs loads Swagger UI from a CDN and needs an inline script, so it was blank
offline and had to be exempted from the Content-Security-Policy. This page uses the files in
dashboard/static/swagger (swagger-ui-dist, see VERSION there) and a static start script, and
is served under the same CSP as every other page.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from dashboard.deps import PUBLIC

router = APIRouter(tags=["pages"], dependencies=[PUBLIC])

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Dijkwacht API</title>
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/static/swagger/swagger-ui.css">
  <link rel="stylesheet" href="/static/dijkwacht-docs.css">
</head>
<body>
  <div id="swagger-ui" data-spec="/openapi.json"></div>
  <script src="/static/swagger/swagger-ui-bundle.js"></script>
  <script src="/static/swagger-init.js"></script>
</body>
</html>
"""


@router.get("/docs", response_class=HTMLResponse, include_in_schema=False)
def api_docs() -> HTMLResponse:
    """Swagger UI for /openapi.json, without any request leaving the platform."""
    return HTMLResponse(_PAGE)
