"""The edge and the wiring: the only product code that imports aiohttp, mattermostdriver, apscheduler."""
