"""Reads of segments that other domains and the HTTP layer may call."""
