"""Use cases over the ports: replicate a push, watch tasks, backfill, operator commands."""
