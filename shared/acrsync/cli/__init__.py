"""``acr-sync``, the command line: ``app.py`` builds it; each command group lives in its own module."""
