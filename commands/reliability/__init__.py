"""Reliability (issue 8): exactly-once outbound posts across retries, crashes and replicas."""
