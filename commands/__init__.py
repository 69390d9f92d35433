"""Use cases: one async handler per trigger, sequencing the unit of work, the gateway and workflows."""
