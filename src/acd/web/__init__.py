"""The web console (``acd web``): its own process, reading the store and the engine's API."""
