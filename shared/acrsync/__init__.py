"""acr-sync: rule-filtered, verified, alerting image replication between ACR EE instances."""

__version__ = "0.1.0"
