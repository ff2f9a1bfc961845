"""A local fake carrier server: real HTTP on 127.0.0.1, each carrier's own wire format, scripted parcels."""
