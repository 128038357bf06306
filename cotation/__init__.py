"""cotation — open engine for the cotation of social-housing demandes and gestion en flux."""

__version__ = "0.1.0"
