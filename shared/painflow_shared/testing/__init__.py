"""Test support: real servers in threads, per-run databases and topics, FHIR factories."""
