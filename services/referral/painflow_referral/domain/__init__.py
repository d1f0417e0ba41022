"""Pure referral rules: no I/O, no FastAPI, no Kafka, no SQLModel."""
