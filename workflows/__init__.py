"""Pure domain logic of the support desk: no I/O, no asyncio, no SQLAlchemy, no pydantic."""
