"""Persistence: SQLAlchemy 2 rows, repositories and the unit of work. Imports only `workflows`."""
