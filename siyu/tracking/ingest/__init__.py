"""The Segment-compatible way in: validate, dedupe, store durably, answer. See `spec` and `gateway`."""
