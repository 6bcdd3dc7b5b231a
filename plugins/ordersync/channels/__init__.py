"""Marketplace adapters: one module per API, each turning API pages into model objects and model
actions (accept, confirm shipment) into API calls."""
