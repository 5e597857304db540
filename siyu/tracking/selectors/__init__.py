"""Reads of tracking data that views, the API and other domains may call."""
