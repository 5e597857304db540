"""Siyu (私域): an open-source social CRM."""
