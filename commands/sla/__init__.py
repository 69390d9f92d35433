"""SLA feature (issue 4): deadlines kept on tickets, the scheduled check, the card line, stats."""
