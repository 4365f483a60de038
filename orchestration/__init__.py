"""Dagster definitions of the CAR-T warehouse."""
