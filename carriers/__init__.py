"""Carrier adapters: talk to tracking APIs and return normalized shipments; nothing else."""
