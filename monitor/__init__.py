"""tracking-monitor: watches cross-border orders and speaks up before a buyer's deadline passes."""

__version__ = "0.1.0"
