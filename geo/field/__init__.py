"""The field: patrol teams' phones (Traccar Client positions) and the offline field form.

- ``osmand``: decoding the OsmAnd protocol the Traccar Client app speaks (pure);
- ``devices``: teams and their registered devices;
- ``tracks``: storing positions, reading tracks, last positions and covered area;
- ``reports``: field-form reports through the registry's own write path;
- ``form``: what the form caches to work without signal.

How to set a phone up and what each part does: docs/field.md.
"""
