"""Adapters: one module per backend per port. Only here (and in ``local``/``bootstrap``) is SDK code used."""
