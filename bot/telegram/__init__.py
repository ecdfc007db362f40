"""The Telegram channel (aiogram 3): thin handlers over the same service layer as the web.

``routers.get_routers()`` gives the audience routers (admin, expert, binding, worker,
fallback); ``dispatcher.get_dispatcher`` wires them with the middlewares and the error
handler; ``services.BotServices`` is what the handlers use, handed to each update;
``channel.TelegramChannel`` runs the bot (long polling or webhook) and
``notifier.TelegramNotifier`` delivers the outbox's events.
"""
