"""Request and response bodies of the JSON API (``shared/api.md``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class AskRequest(BaseModel):
    text: str = Field(description="the question, 1-2000 characters after trimming")
    site: str | None = Field(None, description="the site code from the QR link")


class SuggestionOut(BaseModel):
    case_id: str
    title: str
    answer: str
    score: float = Field(description="probability that this case answers the question")


class ExpertOut(BaseModel):
    expert_id: str
    name: str
    title: str | None
    org: str | None
    region: str | None
    score: float


class AskResponse(BaseModel):
    question_id: str
    decision: Literal["suggest", "route", "reject"]
    suggestions: list[SuggestionOut]
    experts: list[ExpertOut]
    index_version: str | None
    message: str = Field(description="a short reply for the worker, in Chinese")
