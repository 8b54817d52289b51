"""Bulk API 1.0 and 2.0 jobs: their state (models), their data files (formats) and their workers (engine)."""
