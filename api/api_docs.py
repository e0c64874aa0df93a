"""The API documentation pages (Swagger UI, ReDoc) from local assets: they work without
internet access. The assets come with ``fastapi-offline`` (MIT), served at
:data:`ASSETS`; each app (the client API, the server API under ``/api``) gets its pages."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS", "mount_doc_assets", "serve_docs"]

ASSETS = "/static/docs"
_FILES = Path(fastapi_offline.__file__).parent / "static"


def mount_doc_assets(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=_FILES), name="doc-assets")


def serve_docs(app: FastAPI) -> None:
    """``/docs`` and ``/redoc`` for ``app``'s OpenAPI document (under its mount path)."""
    title = app.title

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{title}: Swagger UI",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{title}: ReDoc",
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
