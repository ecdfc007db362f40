"""SQLAlchemy 2 models, one module per part of the service:

- ``kb``: the knowledge base (teams, stations, experts, cases, sites), as
  ``docs/knowledge-format.md`` describes;
- ``desk``: the help desk's own records (questions, tickets and their messages and tokens,
  expert tokens, labelled pairs, the outbox);
- ``stewards``: the union stewards' accounts and tokens, scoped to stations or regions;
- ``programme``: needs lists with their matched experts, classes with their sign-ups;
- ``telegram``: what the Telegram channel keeps (bind codes, chats, sent messages, deliveries);
- ``leases``: which instance runs a one-at-a-time background job (the silence sweep);
- ``index_versions``: the search index's versions, for instances that share no disk;
- ``photos``: the photos of tickets and needs, for instances that share no disk;
- ``wechat``: what the WeChat and WeCom channels keep (workers by openid, bind codes, console
  links, deliveries).

Importing the package registers every table on ``Base.metadata`` (Alembic reads it there).
"""

from knowledge.models.base import Base, UTCDateTime, state_column, utcnow
from knowledge.models.desk import (
    DecisionLabel,
    ExpertToken,
    OutboxEvent,
    Question,
    Ticket,
    TicketMessage,
    TicketToken,
)
from knowledge.models.index_versions import IndexVersion
from knowledge.models.kb import Case, Expert, Site, Station, Team
from knowledge.models.leases import Lease
from knowledge.models.photos import StoredPhoto
from knowledge.models.programme import ClassSignup, Need, NeedExpert, TrainingClass
from knowledge.models.stewards import Steward, StewardToken
from knowledge.models.telegram import TelegramBindCode, TelegramChat, TelegramDelivery, TelegramMessage
from knowledge.models.wechat import ChannelDelivery, ExpertLinkCode, WeChatBindCode, WeChatWorker

__all__ = [
    "Base",
    "Case",
    "ChannelDelivery",
    "ClassSignup",
    "DecisionLabel",
    "Expert",
    "ExpertLinkCode",
    "ExpertToken",
    "IndexVersion",
    "Lease",
    "Need",
    "NeedExpert",
    "OutboxEvent",
    "Question",
    "Site",
    "Station",
    "Steward",
    "StewardToken",
    "StoredPhoto",
    "TelegramBindCode",
    "TelegramChat",
    "TelegramDelivery",
    "TelegramMessage",
    "Team",
    "Ticket",
    "TicketMessage",
    "TicketToken",
    "TrainingClass",
    "UTCDateTime",
    "WeChatBindCode",
    "WeChatWorker",
    "state_column",
    "utcnow",
]
