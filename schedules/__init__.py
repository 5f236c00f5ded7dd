"""Scheduled sync jobs and operator commands."""
