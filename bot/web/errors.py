"""Translate domain errors and validation failures into the contract's ``{"detail": ...}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from knowledge.errors import (
    AccessDeniedError,
    ConflictError,
    CraftdeskError,
    IndexUnavailableError,
    InvalidInputError,
    KnowledgeFormatError,
    MissingResourceError,
    NotFoundError,
)

log = logging.getLogger(__name__)

STATUS = {
    NotFoundError: 404,
    InvalidInputError: 422,
    KnowledgeFormatError: 422,
    AccessDeniedError: 403,
    ConflictError: 409,
    IndexUnavailableError: 503,
    MissingResourceError: 503,
}


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if p != "body") or "body"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CraftdeskError)
    async def _domain(request: Request, exc: CraftdeskError) -> JSONResponse:
        status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)
        body: dict[str, object] = {"detail": str(exc)}
        if isinstance(exc, KnowledgeFormatError):  # each problem also apart, for a table on /admin
            body["problems"] = [problem.as_dict() for problem in exc.problems]
        return JSONResponse(body, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_message(exc)}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500)
