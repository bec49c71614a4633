"""rabfang (รับฟัง): a LINE and Telegram bot for Thailand's digital-government consultation."""

__version__ = "0.1.0"
