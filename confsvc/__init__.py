"""confsvc: conference-call scheduling and minutes service."""

__version__ = "0.1.0"
