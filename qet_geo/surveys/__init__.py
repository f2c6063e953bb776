"""Surveys: schemas, reading and validation, geolocation, privacy."""
