"""The routers in the order they are asked: admins, bound experts, expert binding links,
workers (everyone), then the fallback. Production and tests use the same list."""

from __future__ import annotations

from aiogram import Router

from bot.telegram import admin, binding, errors, expert, fallback, worker


def get_routers() -> list[Router]:
    return [errors.router, admin.router, expert.router, binding.router, worker.router, fallback.router]
