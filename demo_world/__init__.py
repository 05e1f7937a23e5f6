"""A simulated municipality: raw logs of residents, employees and systems, with seeded misuse.

``generate.generate_world`` writes the raw files and context tables; ``ingest.read_world``
reads them through the real collectors; ``evaluate.evaluate_world`` scores the rule pack;
``series.event_series`` builds a drill inject's synthetic events. Callers outside the package
go through ``demo_world.service``.
"""
